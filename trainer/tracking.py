"""Experiment tracking: one MLflow run per trained (or evaluated) campaign variant, and TensorBoard logs.

Where: `MLFLOW_TRACKING_URI` when set (a tracking server, `sqlite:///…`), else the local file store
`$MMEDPO_HOME/mlruns`, by default `<repo>/.mmedpo/mlruns` (`mlflow ui --backend-store-uri .mmedpo/mlruns` shows it; MLflow 3 keeps file
stores in maintenance mode, so MLFLOW_ALLOW_FILE_STORE is set for this default). Experiment: the tag
`campaign_id` when given (a campaign's variants side by side), else `mmedpo`. A run is found again by its
key — the hash of its tags (campaign id, variant, seed, config hash) — so a retried training attempt and the
evaluation of the same variant write to the same run: its loss curve (`loss`, `rewards/*` per step), its
parameters (the training options) and its scores (`eval/<metric>`). TensorBoard: `<repo>/.mmedpo/tensorboard/
<run name>` unless `TENSORBOARD_LOGGING_DIR` is set."""
from __future__ import annotations

import hashlib
import json
import os

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
KEY_TAG = "mmedpo.run_key"


def tensorboard_dir(run_name: str) -> str:
    return os.environ.get("TENSORBOARD_LOGGING_DIR") or os.path.join(ROOT, ".mmedpo", "tensorboard",
                                                                   run_name.replace("/", "_"))


def parse_tags(pairs: list[str]) -> dict[str, str]:
    out = {}
    for p in pairs or []:
        k, sep, v = p.partition("=")
        if not sep or not k:
            raise ValueError(f"--tag {p!r}: expected KEY=VALUE")
        out[k] = v
    return out


def run_key(tags: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(tags, sort_keys=True).encode()).hexdigest()[:24]


def _mlflow():
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        # The project's home (MMEDPO_HOME, as on the Node side), not MLflow 3's own default: a sqlite file in
        # whatever directory the trainer runs in, whose model registry this skinny install cannot open.
        home = os.environ.get("MMEDPO_HOME") or os.path.join(ROOT, ".mmedpo")
        os.environ["MLFLOW_TRACKING_URI"] = "file:" + os.path.join(home, "mlruns")
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    import mlflow

    return mlflow


def run_params(args, opts: dict, mode: str, family: str, fingerprint: str) -> dict:
    """What `attach_run` needs for a training run: name, tags and the parameters to log."""
    tags = parse_tags(args.tag)
    flat = {}

    def walk(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, prefix + k + ".")
            else:
                flat[prefix + k] = json.dumps(v) if isinstance(v, (list, type(None))) else v
    walk(opts)
    flat.update(mode=mode, family=family, fingerprint=fingerprint)
    return {"name": args.run_name, "tags": tags, "params": flat}


def attach_run(mlflow, spec: dict) -> str:
    """Start (or re-attach to) the run of `spec` ({name, tags, params}) as the active MLflow run; returns its id.
    Parameters are logged once, by the attempt that creates the run."""
    tags = dict(spec.get("tags") or {})
    key = run_key(tags)
    mlflow.set_experiment(tags.get("campaign_id") or os.environ.get("MLFLOW_EXPERIMENT_NAME") or "mmedpo")
    found = mlflow.search_runs(filter_string=f"tags.`{KEY_TAG}` = '{key}'", output_format="list", max_results=1)
    if found:
        run = mlflow.start_run(run_id=found[0].info.run_id)
        if spec.get("params"):
            have = found[0].data.params
            new = {k: str(v) for k, v in spec["params"].items() if k not in have}
            if new:
                mlflow.log_params(new)
    else:
        run = mlflow.start_run(run_name=spec.get("name"), tags={**tags, KEY_TAG: key})
        if spec.get("params"):
            mlflow.log_params({k: str(v) for k, v in spec["params"].items()})
    return run.info.run_id


def log_metrics(run_name: str | None, tags: dict[str, str], metrics: dict[str, float], prefix: str = "eval/") -> str:
    """Log `metrics` (name → number) to the run of `tags`, creating it when the variant was not trained (e.g. the
    `base` variant). Returns the run id."""
    mlflow = _mlflow()
    rid = attach_run(mlflow, {"name": run_name, "tags": tags})
    try:
        mlflow.log_metrics({prefix + k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))})
    finally:
        mlflow.end_run()
    return rid


def ensure_tracking_env() -> None:
    """Set the default tracking URI before HF's callbacks import mlflow."""
    _mlflow()
