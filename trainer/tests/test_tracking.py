"""Tracking: a training run logs its loss curve, TRL-style reward metrics and options to one MLflow run found
again by its tags (a resumed attempt continues it, the evaluation adds its scores), and to TensorBoard."""
import json
import os

from helpers import losses, run


def test_mlflow_run_per_variant_with_curve_and_scores(tiny_dir, demo, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "file:" + str(tmp_path / "mlruns"))
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tmp_path / "tb"))
    tags = ["--tag", "campaign_id=c-1", "--tag", "seed=0", "--tag", "config_hash=abc"]
    common = ["dpo", "--model", tiny_dir, "--data", demo["prefs"], "--lr", "1e-3", "--batch-size", "2",
              "--lora-r", "4", "--lora-alpha", "8", "--max-steps", "4", "--checkpoint-every", "2", "--device", "cpu",
              "--report-to", "mlflow,tensorboard", "--run-name", "c-1/mmedpo", *tags, "--tag", "variant=mmedpo"]
    first = run(*common, "--out", tmp_path / "a")
    # a retried attempt resumes from the checkpoint and continues the same run
    second = run(*common, "--out", tmp_path / "b", "--resume", tmp_path / "a" / "checkpoints" / "checkpoint-2")
    curve = losses(first.stdout)
    assert losses(second.stdout) == curve[2:]
    scores = tmp_path / "scores.json"
    scores.write_text(json.dumps({"open_recall": 12.5, "closed_accuracy": 55.0}))
    run("log-metrics", "--metrics", scores, "--run-name", "c-1/mmedpo", *tags, "--tag", "variant=mmedpo")
    run("log-metrics", "--metrics", scores, "--run-name", "c-1/base", *tags, "--tag", "variant=base")

    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri("file:" + str(tmp_path / "mlruns"))
    runs = mlflow.search_runs(experiment_names=["c-1"], output_format="list")
    by_variant = {r.data.tags["variant"]: r for r in runs}
    assert sorted(by_variant) == ["base", "mmedpo"] and len(runs) == 2  # one run per variant
    r = by_variant["mmedpo"]
    assert r.data.tags["campaign_id"] == "c-1" and r.data.tags["config_hash"] == "abc" and r.data.tags["seed"] == "0"
    assert r.info.run_name == "c-1/mmedpo" and r.data.params["learningRate"] == "0.001" and r.data.params["family"] == "llava"
    hist = MlflowClient().get_metric_history(r.info.run_id, "loss")
    by_step = {m.step: m.value for m in hist}
    assert sorted(by_step) == [1, 2, 3, 4] and [by_step[s] for s in (1, 2, 3, 4)] == curve
    assert {"rewards/margins", "rewards/accuracies", "logps/chosen", "eval/open_recall"} <= set(r.data.metrics)
    assert r.data.metrics["eval/closed_accuracy"] == 55.0
    assert set(by_variant["base"].data.metrics) == {"eval/open_recall", "eval/closed_accuracy"}
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(tmp_path / "tb"))


def test_default_store_is_the_project_home_not_mlflows_sqlite(tiny_dir, demo, tmp_path, monkeypatch):
    """With no MLFLOW_TRACKING_URI (the demo's case) the run lands in the file store under MMEDPO_HOME, not in
    MLflow 3's default `sqlite:///mlflow.db` of the working directory (which this install cannot open)."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(MMEDPO_HOME=str(tmp_path / "home"), PYTHONPATH=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    p = subprocess.run([sys.executable, "-m", "trainer", "sft", "--model", tiny_dir, "--data", demo["sft"], "--out", str(tmp_path / "o"),
                        "--max-steps", "1", "--batch-size", "2", "--device", "cpu", "--report-to", "mlflow",
                        "--run-name", "c-2/sft", "--tag", "campaign_id=c-2", "--tag", "variant=sft"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert not (tmp_path / "mlflow.db").exists()
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # this reader's own opt-in, as the trainer's
    client = MlflowClient(tracking_uri="file:" + str(tmp_path / "home" / "mlruns"))
    exp = client.get_experiment_by_name("c-2")
    assert exp is not None
    runs = client.search_runs([exp.experiment_id])
    assert [r.data.tags["variant"] for r in runs] == ["sft"] and "loss" in runs[0].data.metrics
