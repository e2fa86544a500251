"""The CLI end to end on the tiny model: deterministic init, bit-exact resume after SIGTERM,
input formats and one-line errors, SFT, generate and serve."""
import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from trainer import EXIT_PREEMPTED

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run(*args, check=True):
    """`python -m trainer ARGS` in this process (saves the interpreter + torch start-up of a subprocess;
    the subprocess path is covered by the SIGTERM and serve tests and the activity's integration test)."""
    import contextlib
    import io
    import logging

    from trainer.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(err)
    logging.getLogger().addHandler(handler)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
                if not isinstance(e.code, int):
                    print(e.code, file=err)
    finally:
        logging.getLogger().removeHandler(handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    p = Result(code, out.getvalue(), err.getvalue())
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}: {p.stderr[-2000:]}")
    return p


def events(stdout: str) -> list[dict]:
    return [json.loads(l) for l in stdout.splitlines() if l.startswith("{")]


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_init_tiny_is_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run("init-tiny", "--out", str(a), "--seed", "7")
    run("init-tiny", "--out", str(b), "--seed", "7")
    for f in ("model.safetensors", "tokenizer.json", "config.json"):
        assert sha(a / f) == sha(b / f), f
    import warnings

    from PIL import Image
    from transformers import AutoProcessor, LlavaConfig

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proc = AutoProcessor.from_pretrained(str(a))
    cfg = LlavaConfig.from_pretrained(str(a))
    enc = proc(images=Image.new("RGB", (40, 50)), text="USER: <image>\nIs there a mass? ASSISTANT:", return_tensors="pt")
    assert int((enc["input_ids"] == cfg.image_token_index).sum()) == cfg.image_seq_length
    assert tuple(enc["pixel_values"].shape[-2:]) == (cfg.vision_config.image_size,) * 2
    run("init-tiny", "--out", str(tmp_path / "c"), "--seed", "8")
    assert sha(a / "model.safetensors") != sha(tmp_path / "c" / "model.safetensors")


COMMON = ["--lr", "1e-3", "--epochs", "3", "--batch-size", "2", "--micro-batch-size", "1", "--lora-r", "8",
          "--lora-alpha", "16", "--checkpoint-every", "3"]


def test_sigterm_checkpoint_and_bit_exact_resume(tiny_dir, demo, tmp_path):
    base = ["dpo", "--model", tiny_dir, "--data", demo["prefs"], *COMMON]
    full = run(*base, "--out", str(tmp_path / "full"))
    full_losses = [e["loss"] for e in events(full.stdout) if e["event"] == "step"]
    assert len(full_losses) == 12 and len(set(full_losses)) > 1

    p = subprocess.Popen([sys.executable, "-m", "trainer", *base, "--out", str(tmp_path / "cut")], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    seen = []
    for line in p.stdout:
        seen.append(json.loads(line))
        if seen[-1]["event"] == "step" and seen[-1]["step"] == 4:
            p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=120) == EXIT_PREEMPTED
    pre = [e for e in seen if e["event"] == "preempted"]
    assert pre and 4 <= pre[0]["step"] < 12 and os.path.isdir(pre[0]["checkpoint"])

    res = run(*base, "--out", str(tmp_path / "cut"), "--resume", pre[0]["checkpoint"])
    ev = events(res.stdout)
    assert ev[0]["event"] == "resumed" and ev[0]["step"] == pre[0]["step"]
    cut_losses = [e["loss"] for e in seen if e["event"] == "step"] + [e["loss"] for e in ev if e["event"] == "step"]
    assert cut_losses == full_losses  # bit-exact on CPU
    m = json.load(open(tmp_path / "cut" / "metrics.json"))
    assert m["lossCurve"] == full_losses and m["steps"] == 12
    for f in ("adapter_model.safetensors", "adapter_config.json"):
        assert sha(tmp_path / "cut" / "adapter" / f) == sha(tmp_path / "full" / "adapter" / f), f


def test_llava_json_layout_and_bad_input(tiny_dir, demo, tmp_path):
    recs = [json.loads(l) for l in open(demo["prefs"])]
    llava = [{"id": r["id"], "image": r["image"],
              "conversations": [{"from": "human", "value": "<image>\n" + r["prompt"]}, {"from": "gpt", "value": r["chosen"]}],
              "rejected_conversations": [{"from": "human", "value": "<image>\n" + r["prompt"]},
                                         {"from": "gpt", "value": r["rejected"]}],
              "weighted_score": r["weight"], **({"rejected_image": r["rejected_image"]} if "rejected_image" in r else {})}
             for r in recs]
    f = tmp_path / "llava.json"
    f.write_text(json.dumps(llava))
    a = run("dpo", "--model", tiny_dir, "--data", str(f), "--image-dir", demo["dir"], "--out", str(tmp_path / "a"),
            "--max-steps", "2", "--lr", "1e-3")
    b = run("dpo", "--model", tiny_dir, "--data", demo["prefs"], "--out", str(tmp_path / "b"), "--max-steps", "2",
            "--lr", "1e-3")
    la = [e["loss"] for e in events(a.stdout) if e["event"] == "step"]
    assert la == [e["loss"] for e in events(b.stdout) if e["event"] == "step"]  # same pairs, same losses

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x1", "image": "images/nope.png", "prompt": "q", "chosen": "a", "rejected": "b"}) + "\n")
    p = run("dpo", "--model", tiny_dir, "--data", str(bad), "--image-dir", demo["dir"], "--out", str(tmp_path / "c"),
            check=False)
    assert p.returncode == 2 and "x1" in p.stderr and "image not found" in p.stderr
    assert "Traceback" not in p.stderr


def test_sft_then_dpo_on_sft_reference_then_generate(tiny_dir, demo, tmp_path):
    s = run("sft", "--model", tiny_dir, "--data", demo["sft"], "--out", str(tmp_path / "sft"), "--lr", "3e-3",
            "--epochs", "4", "--lora-r", "8", "--lora-alpha", "16", "--batch-size", "4")
    losses = [e["loss"] for e in events(s.stdout) if e["event"] == "step"]
    assert losses[-1] < losses[0]
    adapter = str(tmp_path / "sft" / "adapter")
    d = run("dpo", "--model", tiny_dir, "--init-adapter", adapter, "--data", demo["prefs"], "--out",
            str(tmp_path / "dpo"), "--max-steps", "1", "--lr", "1e-3")
    first = [e for e in events(d.stdout) if e["event"] == "step"][0]
    # the reference is the SFT model: at step 1 policy == reference, so every D_t/D_v pair has margin 0
    assert abs(first["rewardMargin"]) < 1e-6
    inp = tmp_path / "q.jsonl"
    inp.write_text("".join(json.dumps({"id": f"q{i}", "image": os.path.join(demo["dir"], f"images/000{i}.png"),
                                       "prompt": "Is the abnormality on the left or right?"}) + "\n" for i in range(3)))
    out = tmp_path / "a.jsonl"
    run("generate", "--model", tiny_dir, "--adapter", adapter, "--input", str(inp), "--output", str(out),
        "--max-new-tokens", "4", "--batch-size", "2")
    rows = [json.loads(l) for l in open(out)]
    assert [r["id"] for r in rows] == ["q0", "q1", "q2"] and all(isinstance(r["answer"], str) for r in rows)
    assert any(r["answer"] for r in rows)


def test_serve_openai_compatible(tiny_dir, demo):
    p = subprocess.Popen([sys.executable, "-m", "trainer", "serve", "--model", tiny_dir, "--port", "0",
                          "--max-new-tokens", "4"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = json.loads(p.stdout.readline())["url"]
        models = json.load(urllib.request.urlopen(url + "/models", timeout=30))
        assert models["data"][0]["id"] == "mmedpo-target"
        img = base64.b64encode(open(os.path.join(demo["dir"], "images/0000.png"), "rb").read()).decode()
        body = {"model": "mmedpo-target", "n": 2, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "Is the abnormality on the left or right?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{img}"}}]}]}
        req = urllib.request.Request(url + "/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        r = json.load(urllib.request.urlopen(req, timeout=60))
        assert len(r["choices"]) == 2 and r["choices"][0]["message"]["role"] == "assistant"
        req = urllib.request.Request(url + "/chat/completions", data=json.dumps({"messages": [
            {"role": "user", "content": "no image"}]}).encode(), headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(req, timeout=30)
            raise AssertionError("expected 400")
        except urllib.error.HTTPError as e:
            assert e.code == 400 and "image" in json.load(e)["error"]["message"]
    finally:
        p.terminate()
        p.wait(timeout=30)


def test_gradient_accumulation_matches_full_batch(tiny_dir, demo, tmp_path):
    common = ["dpo", "--model", tiny_dir, "--data", demo["prefs"], "--max-steps", "3", "--lr", "1e-3",
              "--lora-r", "8", "--lora-alpha", "16", "--lora-dropout", "0", "--batch-size", "4"]
    full = run(*common, "--micro-batch-size", "4", "--out", str(tmp_path / "a"))
    accum = run(*common, "--micro-batch-size", "1", "--out", str(tmp_path / "b"))
    la = [e["loss"] for e in events(full.stdout) if e["event"] == "step"]
    lb = [e["loss"] for e in events(accum.stdout) if e["event"] == "step"]
    assert len(la) == 3 and la[0] != la[-1]
    for x, y in zip(la, lb):
        assert abs(x - y) < 1e-5 * max(1.0, abs(x)), (la, lb)


def test_reference_cache_matches_per_step_reference_and_resumes(tiny_dir, demo, tmp_path):
    common = ["dpo", "--model", tiny_dir, "--data", demo["prefs"], "--epochs", "2", "--lr", "1e-3", "--lora-r", "8",
              "--lora-alpha", "16", "--batch-size", "4", "--checkpoint-every", "2", "--keep-checkpoints", "5"]
    plain = run(*common, "--out", str(tmp_path / "plain"))
    cached = run(*common, "--ref-cache", "--out", str(tmp_path / "cached"))
    lp = [e["loss"] for e in events(plain.stdout) if e["event"] == "step"]
    ev = events(cached.stdout)
    lc = [e["loss"] for e in ev if e["event"] == "step"]
    assert any(e["event"] == "refCache" and e["pairs"] == 8 for e in ev)
    assert len(lc) == 4 and max(abs(a - b) for a, b in zip(lp, lc)) < 1e-5
    # the cache travels in the checkpoint: a resumed run does not recompute it and ends bit-exact
    res = run(*common, "--ref-cache", "--out", str(tmp_path / "res"), "--resume",
              str(tmp_path / "cached" / "checkpoints" / "ckpt-000002"))
    er = events(res.stdout)
    assert not any(e["event"] == "refCache" for e in er)
    assert lc[2:] == [e["loss"] for e in er if e["event"] == "step"]
