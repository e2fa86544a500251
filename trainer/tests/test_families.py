"""Every supported family end to end through the CLI (the issue's acceptance flow): init-tiny (deterministic,
nothing downloaded) → weighted DPO for 2 steps of 2 pairs on a D_t pair and a D_v pair whose rejected image
differs → generate on three questions. Plus: LoRA sits on the language model only; an unknown model type
fails with one line."""
import json
import math
import os

import pytest

from conftest import FAMILIES
from helpers import events, losses, run, sha


@pytest.mark.parametrize("family", FAMILIES)
def test_init_tiny_dpo_generate(family, dt_dv_pair, tmp_path):
    m = tmp_path / "model"
    run("init-tiny", "--family", family, "--out", m, "--seed", "5")
    run("init-tiny", "--family", family, "--out", tmp_path / "again", "--seed", "5")
    for f in ("model.safetensors", "tokenizer.json", "config.json", "processor_config.json"):
        assert sha(m / f) == sha(tmp_path / "again" / f), f  # same seed → same bytes
    meta = json.load(open(m / "mmedpo_model.json"))
    assert meta["family"] == family and 5e4 < meta["params"] < 5e6
    assert json.load(open(m / "config.json"))["model_type"] == family

    d = run("dpo", "--model", m, "--data", dt_dv_pair["prefs"], "--out", tmp_path / "out", "--max-steps", "2",
            "--batch-size", "2", "--device", "cpu", "--lr", "1e-2", "--lora-r", "8", "--lora-alpha", "16")
    ev = events(d.stdout)
    start = next(e for e in ev if e["event"] == "start")
    assert start["family"] == family and start["pairs"] == 2
    ls = losses(d.stdout)
    assert len(ls) == 2 and all(math.isfinite(x) for x in ls)
    assert ev[-1]["event"] == "done"
    cfg = json.load(open(tmp_path / "out" / "adapter" / "adapter_config.json"))
    assert "vision" not in cfg["target_modules"] and "layers" in cfg["target_modules"]

    q = tmp_path / "q.jsonl"
    q.write_text("".join(json.dumps({"id": f"q{i}", "image": os.path.join(dt_dv_pair["dir"], f"images/000{i}.png"),
                                     "prompt": p}) + "\n" for i, p in enumerate(
        ["Is the abnormality on the left or right?", "Is there a mass?", "Describe the image."])))
    run("generate", "--model", m, "--adapter", tmp_path / "out" / "adapter", "--input", q, "--output",
        tmp_path / "a.jsonl", "--max-new-tokens", "4", "--batch-size", "2")
    rows = [json.loads(l) for l in open(tmp_path / "a.jsonl")]
    assert [r["id"] for r in rows] == ["q0", "q1", "q2"] and all(isinstance(r["answer"], str) for r in rows)


def test_lora_targets_language_model_only(tiny_models):
    from trainer.modeling import load_model

    for family in FAMILIES:
        ld = load_model(tiny_models(family), device="cpu", lora={"r": 4, "alpha": 8, "dropout": 0.0})
        trainable = [n for n, p in ld.model.named_parameters() if p.requires_grad]
        assert trainable and all("lora_" in n for n in trainable), family
        lm = ld.family.lm_layers
        assert all(f".{lm}." in n for n in trainable), (family, trainable[:3])
        # every linear layer of every block: q/k/v/o + gate/up/down, A and B
        layers = ld.model.config.get_text_config().num_hidden_layers
        assert len(trainable) == layers * 7 * 2, family


def test_unknown_model_type_fails_with_one_line(tiny_dir, demo, tmp_path):
    import shutil

    bad = tmp_path / "blip"
    shutil.copytree(tiny_dir, bad)
    cfg = json.load(open(bad / "config.json"))
    cfg["model_type"] = "blip_2"
    (bad / "config.json").write_text(json.dumps(cfg))
    for cmd in (["dpo", "--model", bad, "--data", demo["prefs"], "--out", tmp_path / "o"],
                ["generate", "--model", bad, "--input", demo["prefs"], "--output", tmp_path / "a.jsonl"]):
        p = run(*cmd, check=False)
        lines = [l for l in p.stderr.splitlines() if l.startswith("trainer:")]
        assert p.returncode == 2 and len(lines) == 1, p.stderr[-2000:]
        assert "'blip_2'" in lines[0] and all(f in lines[0] for f in FAMILIES)
        assert "Traceback" not in p.stderr


def test_tiny_llava_language_side_starts_at_width_scaled_std(tiny_dir):
    """The built-in model's language model, projector and LM head are drawn at std 1/√hidden, not Llama's 0.02
    (families.tiny_llava: at 0.02 the 64-wide model's SFT never left the question prior on the phantom set);
    the vision tower keeps CLIP's own initialisation."""
    import torch
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(tiny_dir)
    hidden = model.config.text_config.hidden_size
    want = hidden ** -0.5
    assert model.config.text_config.initializer_range == pytest.approx(want)
    for name in ("model.language_model.embed_tokens.weight", "model.language_model.layers.0.self_attn.q_proj.weight",
                 "model.language_model.layers.1.mlp.down_proj.weight", "model.multi_modal_projector.linear_1.weight",
                 "lm_head.weight"):
        w = dict(model.named_parameters())[name].detach()
        assert float(w.std()) == pytest.approx(want, rel=0.15), name
    patch = dict(model.named_parameters())["model.vision_tower.embeddings.patch_embedding.weight"]
    assert float(patch.detach().std()) < 0.05  # CLIP's initializer_range (0.02), untouched
    assert torch.isfinite(patch).all()
