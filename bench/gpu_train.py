"""Training throughput bench: our weighted-DPO (and SFT) step vs TRL 1.16's DPOTrainer step, on the same
random-initialised model and the same pairs, ratio measured in this run.

GPU (default when CUDA is present): 7B-shaped models in bf16 — LLaVA-1.5-7B (CLIP ViT-L/14-336, 576 image
tokens; Llama-7B: 32 × 4096, vocab 32064) and Qwen2.5-VL-7B (32-block ViT, 1280 wide, windowed; 448×448 images
→ 256 image tokens; Qwen2-7B text: 28 × 3584, GQA 28/4, vocab 152064) — each with LoRA (r 128 on every
language-model linear layer) and fully fine-tuned. A step is 4 pairs: 2 D_t (both answers on one image),
2 D_v (the rejected answer on a noised image), report-length answers (~100–160 tokens).
CPU (`--cpu`, CI): the same on the tiny models of the two families.

Per configuration it prints one JSON line per phase and a summary: step time, tokens/s, MFU, peak memory,
and the step-time ratio TRL / ours (>1: ours is faster). Phases: `ours_dpo` (reference pass each step, as
TRL), `ours_dpo_refcache` (reference log-probs cached before training: policy-only steps; `refPassTime` is the
one-off reference pass of the batch), `ours_sft`, `trl_dpo`. Full fine-tuning: ours always caches the
reference (no model copy), TRL keeps a frozen copy and runs it every step; `speedup3Epochs` compares 3 epochs
(3 TRL steps vs 3 of ours + the one reference pass).

Useful FLOPs, counted the same for both trainers over T = the real tokens of the conventional
[chosen; rejected] layout: policy forward 2·N·T, backward 2·N·T (LoRA: input gradients only) or 4·N·T (full),
reference forward 2·N·T (not in a cached step), N = language-model parameters (embeddings excluded), plus
the vision tower's forward per image. MFU = FLOPs / step time / peak bf16 dense FLOP/s of the GPU."""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import random
import sys
import tempfile
import time
import warnings

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 125.0, "L4": 121.0}


def seven_b(family: str, corpus: str):
    """(config, processor) of the 7B-shaped model: the family's processor (from its tiny builder, with the
    real image size / patch) and the published 7B dimensions, image token ids from that processor."""
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, Qwen2_5_VLConfig

    from trainer.families import tiny_llava, tiny_qwen2_5_vl

    if family == "llava":
        cfg0, proc, _ = tiny_llava(corpus, image_size=336, patch=14)
        tok = proc.tokenizer
        text = LlamaConfig(vocab_size=32064, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                           num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=4096,
                           bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                           tie_word_embeddings=False)
        vision = CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                                  image_size=336, patch_size=14, projection_dim=768)
        return LlavaConfig(vision_config=vision, text_config=text, image_token_index=cfg0.image_token_index,
                           image_seq_length=576, vision_feature_select_strategy="default", vision_feature_layer=-2,
                           pad_token_id=tok.pad_token_id), proc
    if family == "qwen2_5_vl":
        cfg0, proc, _ = tiny_qwen2_5_vl(corpus, image_size=448, patch=14)
        tok = proc.tokenizer
        text = dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                    num_attention_heads=28, num_key_value_heads=4, max_position_embeddings=32768,
                    rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]},
                    bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                    tie_word_embeddings=False)
        vision = dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=3584,
                      patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
                      fullatt_block_indexes=[7, 15, 23, 31])
        return Qwen2_5_VLConfig(vision_config=vision, text_config=text, image_token_id=cfg0.image_token_id,
                                video_token_id=cfg0.video_token_id, vision_start_token_id=cfg0.vision_start_token_id,
                                vision_end_token_id=cfg0.vision_end_token_id, tie_word_embeddings=False), proc
    raise SystemExit(f"no 7B configuration for {family}")


def make_pairs(out: str, size: int, answer_words: tuple[int, int], seed: int = 0) -> list[dict]:
    """4 pairs on `size`² images: 0-1 D_t, 2-3 D_v (the chosen answer as the rejected one, on a noised x*)."""
    import numpy as np
    from PIL import Image

    from trainer.tiny import BUILTIN_CORPUS, _WORD

    rng = random.Random(seed)
    words = [w for w in _WORD.findall(BUILTIN_CORPUS.lower()) if w.isalpha()]
    say = lambda: " ".join(rng.choice(words) for _ in range(rng.randint(*answer_words))) + "."  # noqa: E731
    recs = []
    for i in range(4):
        arr = np.random.default_rng(seed + i).integers(0, 255, (size, size, 3), dtype=np.uint8)
        img = os.path.join(out, f"{i}.png")
        Image.fromarray(arr).save(img)
        r = {"id": f"p{i}", "image": img, "rejected_image": img, "prompt": "Write the findings of this radiology report.",
             "chosen": say(), "rejected": say(), "weight": 1.0}
        if i >= 2:
            noisy = np.clip(arr.astype(np.int16) + np.random.default_rng(99 + i).integers(-60, 60, arr.shape), 0, 255)
            r["rejected_image"] = os.path.join(out, f"{i}-noised.png")
            Image.fromarray(noisy.astype(np.uint8)).save(r["rejected_image"])
            r["rejected"] = r["chosen"]
        recs.append(r)
    return recs


def timed(fn, warmup: int, steps: int, device) -> dict:
    for _ in range(warmup):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / steps
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
    return {"stepTime": round(dt, 5), "peakMemGiB": None if peak is None else round(peak, 2)}


def free(*objs) -> None:
    for o in objs:
        del o
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def bench_config(family: str, mode: str, gpu: bool, a, peak: float, tmp: str) -> dict:
    from transformers import AutoModelForImageTextToText, TrainingArguments

    from trainer.batching import PreferenceCollator, SFTCollator
    from trainer.families import CHAT_TEMPLATES, FAMILIES
    from trainer.modeling import Loaded, lora_config
    from trainer.tiny import BUILTIN_CORPUS
    from trainer.train import Records, trainer_classes

    device = torch.device("cuda" if gpu else "cpu")
    dtype = torch.bfloat16 if gpu else torch.float32
    fam = FAMILIES[family]
    if gpu:
        cfg, proc = seven_b(family, BUILTIN_CORPUS)
        image_size = 336 if family == "llava" else 448
    else:
        cfg, proc, _ = fam.tiny(BUILTIN_CORPUS)
        image_size = 32
    lora = mode == "lora"
    lcfg = lora_config(fam, 128 if gpu else 8, 256 if gpu else 16, 0.0)
    d = os.path.join(tmp, f"{family}-{mode}")
    os.makedirs(d, exist_ok=True)
    recs = make_pairs(d, image_size, (90, 150) if gpu else (8, 16))
    items = list(enumerate(recs))

    def build():
        torch.manual_seed(0)
        with torch.device(device):
            m = AutoModelForImageTextToText.from_config(cfg, dtype=dtype)
        return m

    t0 = time.perf_counter()
    model = build()
    n_lm = sum(p.numel() for n, p in model.named_parameters()
               if (".language_model." in f".{n}" or ".text_model." in f".{n}") and "embed_tokens" not in n)
    n_lm += model.get_output_embeddings().weight.numel()
    n_vis = sum(p.numel() for n, p in model.named_parameters() if fam.is_vision_encoder(n))
    if lora:
        from peft import get_peft_model

        model = get_peft_model(model, lcfg)
    else:
        for n, p in model.named_parameters():
            p.requires_grad_(not fam.is_vision_encoder(n))
    build_s = time.perf_counter() - t0
    ld = Loaded(model=model, processor=proc, family=fam, chat_template=proc.chat_template, device=device, dtype=dtype,
                add_bos=False)
    MMedPOTrainer = trainer_classes()[0]
    targs = TrainingArguments(output_dir=os.path.join(d, "ours"), use_cpu=not gpu, report_to="none",
                              remove_unused_columns=False, per_device_train_batch_size=4)
    ours = MMedPOTrainer(model=model, args=targs, train_dataset=Records(recs),
                         data_collator=PreferenceCollator(ld, 4096, cache=True, share_prompt=True), mode="dpo", beta=0.1,
                         attn_impl=cfg.get_text_config()._attn_implementation or "sdpa", compute_dtype=dtype,
                         use_lora=lora)

    def to_dev(b):
        return {k: (v.to(device, dtype) if torch.is_tensor(v) and v.is_floating_point() and k != "weights"
                    else v.to(device) if torch.is_tensor(v) else v) for k, v in b.items()}

    dpo_batch = to_dev(ours.data_collator(items))
    sft_batch = to_dev(SFTCollator(ld, 4096, cache=True)([(i, {**r, "response": r["chosen"]}) for i, r in items]))
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if gpu else contextlib.nullcontext
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-7)
    model.train()

    def step(batch, trainer_mode):
        ours.mode, ours._stats = trainer_mode, None  # (metrics are not logged here)
        with autocast():
            loss = ours.compute_loss(model, batch)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    res: dict = {}
    # conventional layout tokens (TRL's), for tokens/s and MFU of every phase
    plain = PreferenceCollator(ld, 4096, cache=True, share_prompt=False)(items)
    T = int(plain["attention_mask"].sum())
    T_sft = int(sft_batch["attention_mask"].sum())
    v = cfg.vision_config
    patches = (image_size // v.patch_size) ** 2 + (1 if family == "llava" else 0)
    V = 2 * n_vis * patches  # one image through the vision tower; the conventional layout has one per row
    bwd = 2 if lora else 4
    flops = {"ours_dpo": (2 + bwd + 2) * n_lm * T + 16 * V, "ours_dpo_refcache": (2 + bwd) * n_lm * T + 8 * V,
             "ours_sft": (2 + bwd) * n_lm * T_sft + 4 * V, "trl_dpo": (2 + bwd + 2) * n_lm * T + 16 * V}
    ntok = {"ours_dpo": T, "ours_dpo_refcache": T, "ours_sft": T_sft, "trl_dpo": T}

    def report(name, r):
        r.update(tokensPerSec=round(ntok[name] / r["stepTime"], 1),
                 mfu=round(flops[name] / r["stepTime"] / (peak * 1e12), 4) if peak else None)
        res[name] = r
        print(json.dumps({"family": family, "mode": mode, "phase": name, **r}), flush=True)

    if lora:
        report("ours_dpo", timed(lambda: step(dpo_batch, "dpo"), a.warmup, a.steps, device))
    t_ref = time.perf_counter()
    ours.model_wrapped = model
    ours.build_ref_cache()  # the reference pass over the set (here: the batch), as --ref-cache / full FT do
    ref_s = time.perf_counter() - t_ref
    report("ours_dpo_refcache", {**timed(lambda: step(dpo_batch, "dpo"), a.warmup, a.steps, device), "refPassTime": round(ref_s, 5)})
    report("ours_sft", timed(lambda: step(sft_batch, "sft"), a.warmup, a.steps, device))
    del opt, ours, model, params, dpo_batch, sft_batch
    free()

    if not a.no_trl:
        from datasets import Dataset
        from PIL import Image
        from trl import DPOConfig, DPOTrainer

        tmodel = build()
        ds = Dataset.from_list([{"images": [Image.open(r["image"]).convert("RGB")],
                                 "prompt": [{"role": "user", "content": r["prompt"]}],
                                 "chosen": [{"role": "assistant", "content": r["chosen"]}],
                                 "rejected": [{"role": "assistant", "content": r["rejected"]}]} for r in recs])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tcfg = DPOConfig(output_dir=os.path.join(d, "trl"), beta=0.1, loss_type=["sigmoid"], report_to=[],
                             use_cpu=not gpu, bf16=gpu, per_device_train_batch_size=4, max_length=None,
                             learning_rate=1e-7)
            # full fine-tuning: TRL's frozen reference copy (it would load one from the model's path)
            trl = DPOTrainer(model=tmodel, ref_model=None if lora else build().eval().requires_grad_(False), args=tcfg,
                             train_dataset=ds, processing_class=proc, peft_config=lcfg if lora else None)
        tm = trl.model
        tm.train()
        topt = torch.optim.AdamW([p for p in tm.parameters() if p.requires_grad], lr=1e-7)
        tb = trl._prepare_inputs(trl.data_collator([trl.train_dataset[i] for i in range(4)]))
        assert int(tb["attention_mask"].sum()) == T, (int(tb["attention_mask"].sum()), T)  # the same tokens

        def step_trl():
            with autocast():
                loss = trl.compute_loss(tm, tb)
            loss.backward()
            topt.step()
            topt.zero_grad(set_to_none=True)

        report("trl_dpo", timed(step_trl, a.warmup, a.steps, device))
        del trl, tm, tmodel, topt, tb
        free()

    summary = {"summary": True, "family": family, "mode": mode, "device": torch.cuda.get_device_name() if gpu else "cpu",
               "dtype": str(dtype).replace("torch.", ""), "lmParams": n_lm, "visionParams": n_vis,
               "tokensPerDpoStep": T, "buildSeconds": round(build_s, 2), **res}
    if "trl_dpo" in res:
        trl_t = res["trl_dpo"]["stepTime"]
        rc = res["ours_dpo_refcache"]
        if lora:
            summary["speedupVsTrl"] = round(trl_t / res["ours_dpo"]["stepTime"], 3)
        else:  # ours cannot run without the cache in full fine-tuning (no reference copy): per-step and 3 epochs
            summary["speedupVsTrl"] = round(trl_t / rc["stepTime"], 3)
        summary["speedup3Epochs"] = round(3 * trl_t / (3 * rc["stepTime"] + rc["refPassTime"]), 3)
    print(json.dumps(summary), flush=True)
    return summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpu", action="store_true", help="tiny models on CPU (auto when no CUDA)")
    ap.add_argument("--families", default="llava,qwen2_5_vl")
    ap.add_argument("--modes", default="lora,full")
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--peak-tflops", type=float, default=0.0, help="bf16 dense peak for MFU (default: by GPU name)")
    ap.add_argument("--no-trl", action="store_true")
    a = ap.parse_args()
    gpu = torch.cuda.is_available() and not a.cpu
    a.steps = a.steps or (5 if gpu else 3)
    a.warmup = a.warmup or 2
    if not gpu:
        torch.set_num_threads(1)  # the CI box is shared: one thread is steadier than contended OpenMP
    peak = a.peak_tflops
    if not peak and gpu:
        name = torch.cuda.get_device_name()
        peak = next((v for k, v in PEAK_TFLOPS.items() if k in name), 0.0)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    rows = []
    with tempfile.TemporaryDirectory(prefix="mmedpo-bench-") as tmp:
        for family in a.families.split(","):
            for mode in a.modes.split(","):
                rows.append(bench_config(family, mode, gpu, a, peak, tmp))
    print(f"{'family':<11} {'mode':<5} {'ours ms':>9} {'TRL ms':>9} {'×TRL':>6} {'×3ep':>6} {'tok/s':>9} {'MFU':>6} {'peak GiB':>9}",
          file=sys.stderr)
    for r in rows:
        ours = r.get("ours_dpo") or r["ours_dpo_refcache"]
        trl = r.get("trl_dpo", {})
        print(f"{r['family']:<11} {r['mode']:<5} {ours['stepTime'] * 1000:9.1f} "
              f"{trl.get('stepTime', float('nan')) * 1000:9.1f} {r.get('speedupVsTrl', float('nan')):6.2f} "
              f"{r.get('speedup3Epochs', float('nan')):6.2f} {ours['tokensPerSec']:9.1f} "
              f"{(ours['mfu'] or 0) * 100:5.1f}% {ours['peakMemGiB'] or 0:9.2f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
