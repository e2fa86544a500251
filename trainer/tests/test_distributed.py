"""Multi-process runs through `accelerate launch` (trainer.launch, as the training activity starts them when
training.gpusPerRun > 1), checked on CPU with 2 processes (gloo): the same run gives the same loss at every
step as 1 process (batch and order are global, the loss is normalized over the whole step); a kill -9 of the
whole 2-process run resumes from its last checkpoint; FSDP and DeepSpeed ZeRO-3 give the same losses too."""
import json
import os
import signal
import subprocess
import sys

import pytest

from helpers import ROOT, events, losses, run

STEPS_ARGS = ["--lr", "1e-3", "--batch-size", "2", "--lora-r", "8", "--lora-alpha", "16", "--lora-dropout", "0",
              "--device", "cpu"]


def launch(config: str, args: list, out, port: int) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "trainer.launch", "--config_file",
                             os.path.join(ROOT, "trainer", "accelerate", f"{config}.yaml"), "--num_processes", "2",
                             "--main_process_port", str(port), "-m", "trainer", *map(str, args), "--out", str(out)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)


def read_events(p: subprocess.Popen, until=None) -> list[dict]:
    seen = []
    for line in p.stdout:
        if not line.startswith("{"):
            continue
        seen.append(json.loads(line))
        if until and until(seen[-1]):
            break
    return seen


def test_two_processes_match_one_and_resume_after_kill_9(tiny_dir, demo, tmp_path):
    base = ["dpo", "--model", tiny_dir, "--data", demo["prefs"], "--epochs", "2", "--checkpoint-every", "2",
            *STEPS_ARGS]
    one = losses(run(*base, "--out", tmp_path / "one").stdout)
    assert len(one) == 8 and len(set(one)) > 1

    p = launch("ddp", [*base, "--pace-seconds", "0.4"], tmp_path / "two", 29611)
    seen = read_events(p, until=lambda e: e["event"] == "step" and e["step"] == 5)
    os.killpg(p.pid, signal.SIGKILL)  # the launcher and both training processes, no checkpoint written
    p.wait(timeout=60)
    start = next(e for e in seen if e["event"] == "start")
    assert start["processes"] == 2 and start["microBatchSize"] == 1
    ckpt = [e for e in seen if e["event"] == "checkpoint"][-1]
    assert ckpt["step"] == 4 and not any(e["event"] == "done" for e in seen)
    before = [e["loss"] for e in seen if e["event"] == "step"]

    p = launch("ddp", [*base, "--resume", ckpt["checkpoint"]], tmp_path / "two", 29612)
    after = read_events(p)
    assert p.wait(timeout=300) == 0
    assert after[0] == {"event": "resumed", "step": 4, "checkpoint": ckpt["checkpoint"]}
    resumed = [e["loss"] for e in after if e["event"] == "step"]
    assert len(before) == 5 and len(resumed) == 4
    two = before[:4] + resumed
    assert max(abs(a - b) for a, b in zip(one, two)) < 1e-5, (one, two)
    assert abs(before[4] - resumed[0]) < 1e-5  # step 5 again after the kill: the same step
    m = json.load(open(tmp_path / "two" / "metrics.json"))
    assert m["processes"] == 2 and m["steps"] == 8 and len(m["lossCurve"]) == 8


@pytest.mark.parametrize("config", ["fsdp", "zero3"])
def test_fsdp_and_zero3_match_one_process(config, tiny_dir, demo, tmp_path):
    args = ["dpo", "--model", tiny_dir, "--data", demo["prefs"], "--max-steps", "3", "--checkpoint-every", "3",
            *STEPS_ARGS]
    one = losses(run(*args, "--out", tmp_path / "one").stdout)
    p = launch(config, args, tmp_path / "two", 29613 if config == "fsdp" else 29614)
    ev = read_events(p)
    assert p.wait(timeout=600) == 0, ev[-3:]
    two = [e["loss"] for e in ev if e["event"] == "step"]
    assert next(e for e in ev if e["event"] == "start")["processes"] == 2
    assert len(two) == 3 and max(abs(a - b) for a, b in zip(one, two)) < 1e-5, (one, two)
    from safetensors.torch import load_file

    a = load_file(tmp_path / "one" / "adapter" / "adapter_model.safetensors")
    b = load_file(tmp_path / "two" / "adapter" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-5
