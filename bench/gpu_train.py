"""Training throughput bench: our `sft` and weighted-`dpo` steps vs TRL's DPOTrainer step on the same
random-initialised LLaVA model and the same batch (ratio measured in this run).

GPU (default when CUDA is present): a mid-size LLaVA (CLIP-L/14-336 vision tower, 16-layer 2048-wide Llama,
~1.4B parameters) in bf16, LoRA r128 on every LM linear layer, 4 pairs a step (2 D_t pairs sharing the image,
2 D_v pairs with a noised rejected image), report-length answers. CPU (`--cpu`): the tiny configuration.
Prints one JSON line per phase and a summary line; MFU counts the same useful FLOPs for both trainers
(6·N_lm·T for DPO, 4·N_lm·T for SFT, plus vision forwards, T = tokens of the conventional padded layout)."""
from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
import warnings

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

from trainer.modeling import Loaded, language_linear_names, pack, pack_rows, weighted_dpo_loss  # noqa: E402
from trainer.train import autocast, dpo_step_loss, sft_step_loss  # noqa: E402

PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 125.0, "L4": 121.0}


class _Tok:
    pad_token_id = 0


def build_config(mid: bool):
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig

    if mid:
        vision = CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                                  image_size=336, patch_size=14, projection_dim=768)
        text = LlamaConfig(vocab_size=32064, hidden_size=2048, intermediate_size=5632, num_hidden_layers=16,
                           num_attention_heads=16, num_key_value_heads=16, max_position_embeddings=4096,
                           pad_token_id=0, bos_token_id=1, eos_token_id=2)
        img, patch = 336, 14
    else:
        vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                  image_size=32, patch_size=8, projection_dim=32)
        text = LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=2048,
                           pad_token_id=0, bos_token_id=1, eos_token_id=2)
        img, patch = 32, 8
    cfg = LlavaConfig(vision_config=vision, text_config=text, image_token_index=text.vocab_size - 1,
                      image_seq_length=(img // patch) ** 2, pad_token_id=0)
    return cfg, img


def make_batch(cfg, img: int, mid: bool, device, dtype, g: torch.Generator):
    """4 pairs: 0-1 D_t (rejected on the same image), 2-3 D_v (rejected on a noised image)."""
    n_img = (img // cfg.vision_config.patch_size) ** 2
    V = cfg.text_config.vocab_size - 1
    rnd = lambda n: torch.randint(3, V, (n,), generator=g).tolist()  # noqa: E731
    rlen = (96, 160) if mid else (8, 16)
    recs = []
    for i in range(4):
        prompt = [1] + rnd(20) + [cfg.image_token_index] * n_img + rnd(12 if mid else 4)
        ln = lambda: int(torch.randint(*rlen, (1,), generator=g))  # noqa: E731
        recs.append({"prompt": prompt, "chosen": rnd(ln()) + [2], "rejected": rnd(ln()) + [2], "dv": i >= 2})
    images = torch.randn(4, 3, img, img, generator=g)
    noised = images + 0.5 * torch.randn(4, 3, img, img, generator=g)
    return recs, images.to(device, dtype), noised.to(device, dtype)


def ours_dpo_batch(ld, recs, images, noised):
    n = len(recs)
    px = torch.cat([images, noised[[i for i, r in enumerate(recs) if r["dv"]]]])
    dv_idx = {i: n + k for k, i in enumerate(i for i, r in enumerate(recs) if r["dv"])}
    rows = []
    for i, r in enumerate(recs):
        if not r["dv"]:
            rows.append({"prompt": r["prompt"], "responses": [r["chosen"], r["rejected"]], "seqs": [i, n + i], "image": i})
        else:
            rows.append({"prompt": r["prompt"], "responses": [r["chosen"]], "seqs": [i], "image": i})
            rows.append({"prompt": r["prompt"], "responses": [r["rejected"]], "seqs": [n + i], "image": dv_idx[i]})
    w = torch.ones(n, device=ld.device)
    return pack_rows(ld, rows, 2 * n, px, 4096), w


def standard_batch(ld, recs, images, noised):
    prompts = [r["prompt"] for r in recs]
    ids, am, cm = pack(ld, prompts + prompts, [r["chosen"] for r in recs] + [r["rejected"] for r in recs], 4096)
    px = torch.cat([images, torch.stack([noised[i] if r["dv"] else images[i] for i, r in enumerate(recs)])])
    return {"input_ids": ids, "attention_mask": am, "completion_mask": cm, "pixel_values": px}


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
    return {"stepTime": dt, "peakMemGiB": None if peak is None else round(peak, 2)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpu", action="store_true", help="tiny configuration on CPU (auto when no CUDA)")
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--peak-tflops", type=float, default=0.0, help="bf16 dense peak for MFU (default: by GPU name)")
    ap.add_argument("--no-trl", action="store_true")
    a = ap.parse_args()
    gpu = torch.cuda.is_available() and not a.cpu
    device = torch.device("cuda" if gpu else "cpu")
    dtype = torch.bfloat16 if gpu else torch.float32
    steps = a.steps or (10 if gpu else 5)
    warmup = a.warmup or (3 if gpu else 2)
    if not gpu:
        torch.set_num_threads(1)  # the CI box is shared: one thread is steadier than contended OpenMP
    torch.manual_seed(0)
    cfg, img = build_config(gpu)
    from peft import LoraConfig, get_peft_model
    from transformers import LlavaForConditionalGeneration

    t0 = time.perf_counter()
    with torch.device(device):
        base = LlavaForConditionalGeneration(cfg).to(dtype)
    trl_base = None if a.no_trl else copy.deepcopy(base)
    n_lm = sum(p.numel() for n, p in base.named_parameters() if "language_model" in n and "embed_tokens" not in n) + \
        base.lm_head.weight.numel()
    n_vis = sum(p.numel() for n, p in base.named_parameters() if "vision_tower" in n or "multi_modal_projector" in n)
    lcfg = dict(r=128, lora_alpha=256, lora_dropout=0.05, bias="none", target_modules=language_linear_names(base))
    model = get_peft_model(base, LoraConfig(**lcfg))
    model.train()
    ld = Loaded(model=model, tokenizer=_Tok(), image_processor=None, image_tokens=cfg.image_seq_length,
                image_token_id=cfg.image_token_index, template="plain", device=device, dtype=dtype)
    g = torch.Generator().manual_seed(0)
    recs, images, noised = make_batch(cfg, img, gpu, device, dtype, g)
    std = standard_batch(ld, recs, images, noised)
    T_dpo = int(std["attention_mask"].sum())
    T_sft = int(std["attention_mask"][: len(recs)].sum())
    n_img_tok = cfg.image_seq_length + 1
    peak = a.peak_tflops
    if not peak and gpu:
        name = torch.cuda.get_device_name()
        peak = next((v for k, v in PEAK_TFLOPS.items() if k in name), 0.0)
    flops_dpo = 6 * n_lm * T_dpo + 2 * 2 * n_vis * n_img_tok * 8
    flops_sft = 4 * n_lm * T_sft + 2 * n_vis * n_img_tok * 4
    flops_dpo_policy = 4 * n_lm * T_dpo + 2 * n_vis * n_img_tok * 8  # no reference pass in the step
    header = {"bench": "gpu-train", "device": torch.cuda.get_device_name() if gpu else "cpu", "config": "mid" if gpu else "tiny",
              "dtype": str(dtype).replace("torch.", ""), "lmParams": n_lm, "visionParams": n_vis,
              "tokensPerDpoStep": T_dpo, "tokensPerSftStep": T_sft, "steps": steps, "warmup": warmup,
              "buildSeconds": round(time.perf_counter() - t0, 2)}
    print(json.dumps(header), flush=True)

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-7)
    pk_dpo = ours_dpo_batch(ld, recs, images, noised)
    sft_rows = [{"prompt": r["prompt"], "responses": [r["chosen"]], "seqs": [i], "image": i} for i, r in enumerate(recs)]
    pk_sft = pack_rows(ld, sft_rows, len(recs), images, 4096)

    def step_dpo():
        loss, _ = dpo_step_loss(ld, None, pk_dpo, 0.1)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    def step_sft():
        loss, _ = sft_step_loss(ld, pk_sft)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    # --ref-cache: reference log-probs computed once per pair before training; the step is policy-only
    # (the one-off reference pass is reported separately as refPassTime).
    from trainer.train import reference_logps
    ref_cached = reference_logps(ld, None, pk_dpo[0])

    def step_dpo_cached():
        loss, _ = dpo_step_loss(ld, None, pk_dpo, 0.1, ref_cached)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    res = {}
    for name, fn, T, fl in (("ours_sft", step_sft, T_sft, flops_sft), ("ours_dpo", step_dpo, T_dpo, flops_dpo),
                            ("ours_dpo_refcache", step_dpo_cached, T_dpo, flops_dpo_policy)):
        r = timed(fn, warmup, steps, device)
        r.update(tokensPerSec=round(T / r["stepTime"], 1), mfu=round(fl / r["stepTime"] / (peak * 1e12), 4) if peak else None)
        res[name] = r
        print(json.dumps({"phase": name, **r}), flush=True)
    r = timed(lambda: reference_logps(ld, None, pk_dpo[0]), 1, steps, device)
    res["ours_dpo_refcache"]["refPassTime"] = r["stepTime"]
    del opt
    model.cpu() if gpu else None
    del model, base
    if gpu:
        torch.cuda.empty_cache()

    if not a.no_trl:
        from datasets import Dataset
        from trl import DPOConfig, DPOTrainer
        from transformers import PreTrainedTokenizerFast
        from trainer.tiny import BUILTIN_CORPUS, build_tokenizer

        tok = build_tokenizer(BUILTIN_CORPUS)
        ds = Dataset.from_list([{"prompt": "q", "chosen": "a", "rejected": "b"}] * 4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tcfg = DPOConfig(output_dir=os.path.join(os.environ.get("TMPDIR", "/tmp"), "mmedpo-bench-trl"), beta=0.1,
                             loss_type=["sigmoid"], report_to=[], use_cpu=not gpu, bf16=gpu,
                             per_device_train_batch_size=4, max_length=None, learning_rate=1e-7, logging_steps=10**9)
            trainer = DPOTrainer(model=trl_base, args=tcfg, train_dataset=ds, processing_class=tok,
                                 peft_config=LoraConfig(**lcfg))
        tmodel = trainer.model
        import contextlib
        autocast_ctx = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if gpu else contextlib.nullcontext
        tmodel.train()
        topt = torch.optim.AdamW([p for p in tmodel.parameters() if p.requires_grad], lr=1e-7)
        inputs = {k: v.to(device) for k, v in std.items()}

        def step_trl():
            # What Trainer.training_step does once accelerate has prepared the model for bf16: the forward
            # (DPOTrainer.compute_loss: policy + reference passes, sigmoid loss, its metrics) under autocast,
            # backward outside it.
            with autocast_ctx():
                loss = trainer.compute_loss(tmodel, inputs)
            loss.backward()
            topt.step()
            topt.zero_grad(set_to_none=True)

        r = timed(step_trl, warmup, steps, device)
        r.update(tokensPerSec=round(T_dpo / r["stepTime"], 1),
                 mfu=round(flops_dpo / r["stepTime"] / (peak * 1e12), 4) if peak else None)
        res["trl_dpo"] = r
        print(json.dumps({"phase": "trl_dpo", **r}), flush=True)
    summary = {"summary": True, **{k: v for k, v in res.items()}}
    if "trl_dpo" in res:
        summary["dpoSpeedupVsTrl"] = round(res["trl_dpo"]["stepTime"] / res["ours_dpo"]["stepTime"], 3)
        # over 3 epochs with the cache: 3 policy-only steps + 1 reference pass per batch, vs 3 TRL steps
        rc = res["ours_dpo_refcache"]
        summary["dpoSpeedupVsTrl3EpochsRefCache"] = round(3 * res["trl_dpo"]["stepTime"] / (3 * rc["stepTime"] + rc["refPassTime"]), 3)
    print(json.dumps(summary), flush=True)
    print(f"ours sft {res['ours_sft']['stepTime']*1000:.1f} ms/step, ours dpo {res['ours_dpo']['stepTime']*1000:.1f} ms/step"
          + (f", TRL DPOTrainer {res['trl_dpo']['stepTime']*1000:.1f} ms/step → speedup ×{summary['dpoSpeedupVsTrl']}"
             f" (with --ref-cache over 3 epochs ×{summary['dpoSpeedupVsTrl3EpochsRefCache']})"
             if "trl_dpo" in res else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
