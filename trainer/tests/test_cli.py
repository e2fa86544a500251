"""The CLI end to end on the tiny LLaVA: bit-exact resume after SIGTERM, input formats and one-line errors,
SFT → DPO on the SFT reference → generate, serve, gradient accumulation, the reference cache, options."""
import base64
import json
import os
import signal
import subprocess
import sys
import urllib.request

from helpers import ROOT, events, losses, run, sha
from trainer import EXIT_PREEMPTED

COMMON = ["--lr", "1e-3", "--epochs", "3", "--batch-size", "2", "--gradient-accumulation", "2", "--lora-r", "8",
          "--lora-alpha", "16", "--checkpoint-every", "3", "--device", "cpu"]


def test_sigterm_checkpoint_and_bit_exact_resume(tiny_dir, demo, tmp_path):
    base = ["dpo", "--model", tiny_dir, "--data", demo["prefs"], *COMMON]
    full = run(*base, "--out", tmp_path / "full")
    full_losses = losses(full.stdout)
    assert len(full_losses) == 12 and len(set(full_losses)) > 1

    p = subprocess.Popen([sys.executable, "-m", "trainer", *map(str, base), "--out", str(tmp_path / "cut")], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    seen = []
    for line in p.stdout:
        seen.append(json.loads(line))
        if seen[-1]["event"] == "step" and seen[-1]["step"] == 4:
            p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=120) == EXIT_PREEMPTED
    pre = [e for e in seen if e["event"] == "preempted"]
    assert pre and 4 <= pre[0]["step"] < 12 and os.path.isdir(pre[0]["checkpoint"])
    ck = [e for e in seen if e["event"] == "checkpoint"]
    assert ck[-1]["step"] == pre[0]["step"] and ck[-1]["checkpoint"] == pre[0]["checkpoint"]
    assert not any(e["event"] == "done" for e in seen)
    # the checkpoint holds safetensors weights and weights_only-loadable state (it comes back from S3)
    import torch

    names = set(os.listdir(pre[0]["checkpoint"]))
    assert {"adapter_model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json"} <= names
    torch.load(os.path.join(pre[0]["checkpoint"], "optimizer.pt"), weights_only=True)

    res = run(*base, "--out", tmp_path / "cut", "--resume", pre[0]["checkpoint"])
    ev = events(res.stdout)
    assert ev[0]["event"] == "resumed" and ev[0]["step"] == pre[0]["step"]
    cut_losses = [e["loss"] for e in seen if e["event"] == "step"] + losses(res.stdout)
    assert cut_losses == full_losses  # bit-exact on CPU
    m = json.load(open(tmp_path / "cut" / "metrics.json"))
    assert m["lossCurve"] == full_losses and m["steps"] == 12
    for f in ("adapter_model.safetensors", "adapter_config.json"):
        assert sha(tmp_path / "cut" / "adapter" / f) == sha(tmp_path / "full" / "adapter" / f), f
    # rotation keeps the newest checkpoints (default 3)
    assert sorted(os.listdir(tmp_path / "full" / "checkpoints")) == ["checkpoint-12", "checkpoint-6", "checkpoint-9"]
    # a checkpoint of another run is refused
    other = run("dpo", "--model", tiny_dir, "--data", demo["prefs"], *COMMON, "--beta", "0.2", "--out",
                tmp_path / "other", "--resume", tmp_path / "full" / "checkpoints" / "checkpoint-12", check=False)
    assert other.returncode == 2 and "different run" in other.stderr


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
    a = run("dpo", "--model", tiny_dir, "--data", f, "--image-dir", demo["dir"], "--out", tmp_path / "a",
            "--max-steps", "2", "--lr", "1e-3", "--device", "cpu")
    b = run("dpo", "--model", tiny_dir, "--data", demo["prefs"], "--out", tmp_path / "b", "--max-steps", "2",
            "--lr", "1e-3", "--device", "cpu")
    assert losses(a.stdout) == losses(b.stdout)  # same pairs, same losses

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x1", "image": "images/nope.png", "prompt": "q", "chosen": "a", "rejected": "b"}) + "\n")
    p = run("dpo", "--model", tiny_dir, "--data", bad, "--image-dir", demo["dir"], "--out", tmp_path / "c", check=False)
    assert p.returncode == 2 and "x1" in p.stderr and "image not found" in p.stderr
    # a rejected image x* that does not decode: one line naming the pair, exit 2
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    r0 = dict(recs[0], rejected_image=str(tmp_path / "broken.png"), id="dv-broken")
    bad.write_text(json.dumps(r0) + "\n")
    p = run("dpo", "--model", tiny_dir, "--data", bad, "--image-dir", demo["dir"], "--out", tmp_path / "d", check=False)
    assert p.returncode == 2 and "dv-broken" in p.stderr and "does not decode" in p.stderr
    # options: unknown key in --config, wrong type, indivisible batch
    cfg = tmp_path / "cfg.json"
    for body, msg in (({"lr": 1e-3}, "unknown option lr"), ({"lora": {"r": "8"}}, "lora.r must be int"),
                      ({"batchSize": 3, "gradientAccumulation": 2}, "multiple of gradientAccumulation")):
        cfg.write_text(json.dumps(body))
        p = run("dpo", "--model", tiny_dir, "--data", demo["prefs"], "--out", tmp_path / "e", "--config", cfg,
                check=False)
        assert p.returncode == 2 and msg in p.stderr, p.stderr[-500:]
    assert "Traceback" not in p.stderr


def test_config_file_is_the_campaign_section(tiny_dir, demo, tmp_path):
    """--config takes the campaign's training names (nested lora); flags win over it."""
    cfg = tmp_path / "training.json"
    cfg.write_text(json.dumps({"learningRate": 1e-3, "batchSize": 4, "gradientAccumulation": 2, "maxSteps": 2,
                               "lora": {"enabled": True, "r": 4, "alpha": 8, "dropout": 0.0}, "device": "cpu",
                               "dtype": "fp32", "gradientCheckpointing": True, "refCache": True, "reportTo": []}))
    r = run("dpo", "--model", tiny_dir, "--data", demo["prefs"], "--out", tmp_path / "o", "--config", cfg,
            "--batch-size", "2", "--gradient-accumulation", "1")
    start = next(e for e in events(r.stdout) if e["event"] == "start")
    assert (start["batchSize"], start["microBatchSize"], start["totalSteps"]) == (2, 2, 2)
    assert any(e["event"] == "refCache" for e in events(r.stdout))
    m = json.load(open(tmp_path / "o" / "metrics.json"))
    assert m["options"]["lora"]["r"] == 4 and m["options"]["gradientCheckpointing"] is True
    assert len(m["rewardMarginCurve"]) == len(m["rewardAccuracyCurve"]) == len(m["lossCurve"]) == 2
    assert m["stepCurve"] == [1, 2] and len(m["rewardChosenCurve"]) == len(m["rewardRejectedCurve"]) == 2
    assert all(0.0 <= a <= 1.0 for a in m["rewardAccuracyCurve"])
    for c, r, mg in zip(m["rewardChosenCurve"], m["rewardRejectedCurve"], m["rewardMarginCurve"]):
        assert abs((c - r) - mg) < 1e-6
    # r=4 on 2 layers × (q,k,v,o: 64→64; gate, up: 64→128; down: 128→64): 2 × 4 × (4·128 + 3·192)
    assert m["trainableParams"] == 2 * 4 * (4 * 128 + 3 * 192)


def test_sft_then_dpo_on_sft_reference_then_generate(tiny_dir, demo, tmp_path):
    s = run("sft", "--model", tiny_dir, "--data", demo["sft"], "--out", tmp_path / "sft", "--lr", "3e-3",
            "--epochs", "4", "--lora-r", "8", "--lora-alpha", "16", "--batch-size", "4", "--device", "cpu")
    ls = losses(s.stdout)
    assert ls[-1] < ls[0]
    adapter = str(tmp_path / "sft" / "adapter")
    d = run("dpo", "--model", tiny_dir, "--init-adapter", adapter, "--data", demo["prefs"], "--out",
            tmp_path / "dpo", "--max-steps", "1", "--lr", "1e-3", "--device", "cpu")
    first = [e for e in events(d.stdout) if e["event"] == "step"][0]
    # the reference is the SFT model: at step 1 policy == reference, so every D_t/D_v pair has margin 0
    assert abs(first["rewardMargin"]) < 1e-6 and abs(first["logpsChosen"]) > 0
    inp = tmp_path / "q.jsonl"
    inp.write_text("".join(json.dumps({"id": f"q{i}", "image": os.path.join(demo["dir"], f"images/000{i}.png"),
                                       "prompt": "Is the abnormality on the left or right?"}) + "\n" for i in range(3)))
    out = tmp_path / "a.jsonl"
    run("generate", "--model", tiny_dir, "--adapter", adapter, "--input", inp, "--output", out,
        "--max-new-tokens", "4", "--batch-size", "2", "--device", "cpu")
    rows = [json.loads(l) for l in open(out)]
    assert [r["id"] for r in rows] == ["q0", "q1", "q2"] and all(isinstance(r["answer"], str) for r in rows)
    run("generate", "--model", tiny_dir, "--input", inp, "--output", tmp_path / "base.jsonl", "--max-new-tokens", "4",
        "--device", "cpu")
    base = [json.loads(l) for l in open(tmp_path / "base.jsonl")]
    assert any(b["answer"] for b in base) and [b["answer"] for b in base] != [r["answer"] for r in rows]  # adapter applied


def test_full_fine_tune_sft_is_a_model_dir(tiny_dir, demo, tmp_path):
    """--no-lora: the language model and projector train, the vision tower stays frozen; the output is a full
    model directory (with its processor) that later runs take as --model; DPO on it caches the reference."""
    s = run("sft", "--model", tiny_dir, "--data", demo["sft"], "--out", tmp_path / "sft", "--lr", "3e-3",
            "--max-steps", "2", "--no-lora", "--batch-size", "4", "--device", "cpu")
    start = next(e for e in events(s.stdout) if e["event"] == "start")
    from safetensors.torch import load_file

    before, after = load_file(os.path.join(tiny_dir, "model.safetensors")), load_file(tmp_path / "sft" / "adapter" / "model.safetensors")
    vis = [k for k in before if "vision_tower" in k]
    assert vis and all(before[k].equal(after[k]) for k in vis)
    assert any(not before[k].equal(after[k]) for k in before if "language_model" in k)
    assert start["trainableParams"] == sum(v.numel() for k, v in before.items() if "vision_tower" not in k)
    d = run("dpo", "--model", tmp_path / "sft" / "adapter", "--data", demo["prefs"], "--out", tmp_path / "dpo",
            "--max-steps", "2", "--no-lora", "--lr", "1e-3", "--device", "cpu")
    ev = events(d.stdout)
    assert any(e["event"] == "refCache" for e in ev)  # full fine-tuning: the reference is cached, no model copy
    assert abs([e for e in ev if e["event"] == "step"][0]["rewardMargin"]) < 1e-6


def test_serve_openai_compatible(tiny_dir, demo):
    p = subprocess.Popen([sys.executable, "-m", "trainer", "serve", "--model", tiny_dir, "--port", "0",
                          "--max-new-tokens", "4", "--device", "cpu"], cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
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
        for content, msg in (("no image", "image"), ([{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}],
                                                      "does not decode")):
            req = urllib.request.Request(url + "/chat/completions", data=json.dumps({"messages": [
                {"role": "user", "content": content}]}).encode(), headers={"Content-Type": "application/json"})
            try:
                urllib.request.urlopen(req, timeout=30)
                raise AssertionError("expected 400")
            except urllib.error.HTTPError as e:
                assert e.code == 400 and msg in json.load(e)["error"]["message"]
    finally:
        p.terminate()
        p.wait(timeout=30)


def test_gradient_accumulation_matches_full_batch(tiny_dir, demo, tmp_path):
    common = ["dpo", "--model", tiny_dir, "--data", demo["prefs"], "--max-steps", "3", "--lr", "1e-3",
              "--lora-r", "8", "--lora-alpha", "16", "--lora-dropout", "0", "--batch-size", "4", "--device", "cpu"]
    la = losses(run(*common, "--gradient-accumulation", "1", "--out", tmp_path / "a").stdout)
    lb = losses(run(*common, "--gradient-accumulation", "4", "--out", tmp_path / "b").stdout)
    assert len(la) == 3 and la[0] != la[-1]
    for x, y in zip(la, lb):
        assert abs(x - y) < 1e-5 * max(1.0, abs(x)), (la, lb)


def test_reference_cache_matches_per_step_reference_and_resumes(tiny_dir, demo, tmp_path):
    common = ["dpo", "--model", tiny_dir, "--data", demo["prefs"], "--epochs", "2", "--lr", "1e-3", "--lora-r", "8",
              "--lora-alpha", "16", "--batch-size", "4", "--checkpoint-every", "2", "--keep-checkpoints", "5",
              "--device", "cpu"]
    lp = losses(run(*common, "--out", tmp_path / "plain").stdout)
    cached = run(*common, "--ref-cache", "--out", tmp_path / "cached")
    ev = events(cached.stdout)
    lc = losses(cached.stdout)
    assert any(e["event"] == "refCache" and e["pairs"] == 8 for e in ev)
    assert len(lc) == 4 and max(abs(a - b) for a, b in zip(lp, lc)) < 1e-5
    # the cache travels in the checkpoint: a resumed run does not recompute it and ends bit-exact
    res = run(*common, "--ref-cache", "--out", tmp_path / "res", "--resume",
              tmp_path / "cached" / "checkpoints" / "checkpoint-2")
    er = events(res.stdout)
    assert not any(e["event"] == "refCache" for e in er)
    assert lc[2:] == losses(res.stdout)
