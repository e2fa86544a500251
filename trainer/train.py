"""The training loop shared by `sft` and `dpo`: deterministic data order, gradient accumulation,
cosine schedule with warm-up, checkpoints that resume bit-for-bit on CPU, SIGTERM → checkpoint + exit 75."""
from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import math
import os
import random
import shutil
import signal
import sys
import time

import numpy as np
import torch

from . import EXIT_PREEMPTED
from .data import load_preferences, load_sft
from .modeling import Loaded, Packed, image_features, load_image, load_model, pack, pack_rows, packed_logps, \
    pixel_values, prompt_ids, response_ids, weighted_dpo_loss

log = logging.getLogger("trainer")


def emit(event: str, **kw) -> None:
    sys.stdout.write(json.dumps({"event": event, **kw}) + "\n")
    sys.stdout.flush()


def set_determinism(seed: int, threads: int | None, device: torch.device) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if device.type == "cpu":
        torch.set_num_threads(threads or 1)
        torch.use_deterministic_algorithms(True)
    elif threads:
        torch.set_num_threads(threads)


def rng_state() -> dict:
    st = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_state(st: dict) -> None:
    random.setstate(st["python"])
    np.random.set_state(st["numpy"])
    torch.set_rng_state(st["torch"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


class Preempt:
    """SIGTERM sets a flag; the loop finishes the current optimizer step, checkpoints and exits 75."""

    def __init__(self):
        self.requested = False
        signal.signal(signal.SIGTERM, self._on)

    def _on(self, *_):
        if not self.requested:
            print("trainer: SIGTERM received, checkpointing after this step", file=sys.stderr, flush=True)
        self.requested = True


def file_sha(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


class Batcher:
    """Turns dataset records into packed model inputs; decoded images are cached for small sets."""

    def __init__(self, ld: Loaded, max_length: int, cache: bool, share_prompt: bool = True):
        self.ld, self.max_length, self.cache = ld, max_length, {} if cache else None
        self.share_prompt = share_prompt
        self._tok: dict = {}

    def pixels(self, paths: list[str]) -> torch.Tensor:
        out = []
        for p in paths:
            if self.cache is not None and p in self.cache:
                out.append(self.cache[p])
                continue
            t = pixel_values(self.ld, [load_image(p)])[0]
            if self.cache is not None:
                self.cache[p] = t
            out.append(t)
        return torch.stack(out)

    def ids(self, kind: str, text: str, prompt: str | None = None) -> list[int]:
        key = (kind, text, prompt)
        if key not in self._tok:
            self._tok[key] = prompt_ids(self.ld, text) if kind == "p" else response_ids(self.ld, text, prompt)
        return self._tok[key]

    def _images(self, paths: list[str]):
        uniq = list(dict.fromkeys(paths))
        return {p: i for i, p in enumerate(uniq)}, self.pixels(uniq)

    def sft(self, recs: list[dict]) -> Packed:
        index, px = self._images([r["image"] for r in recs])
        rows = [{"prompt": self.ids("p", r["prompt"]), "responses": [self.ids("r", r["response"], r["prompt"])], "seqs": [i],
                 "image": index[r["image"]]} for i, r in enumerate(recs)]
        return pack_rows(self.ld, rows, len(recs), px, self.max_length)

    def dpo(self, recs: list[dict]):
        """Sequences 0..n-1 are the chosen answers on x, n..2n-1 the rejected ones on x* (the noised image
        for D_v pairs). A D_t pair (x* = x) is one row with a shared prompt when share_prompt is on."""
        n = len(recs)
        index, px = self._images([r["image"] for r in recs] + [r["rejected_image"] for r in recs])
        rows = []
        for i, r in enumerate(recs):
            p = self.ids("p", r["prompt"])
            c, rj = self.ids("r", r["chosen"], r["prompt"]), self.ids("r", r["rejected"], r["prompt"])
            if self.share_prompt and r["image"] == r["rejected_image"]:
                rows.append({"prompt": p, "responses": [c, rj], "seqs": [i, n + i], "image": index[r["image"]]})
            else:
                rows.append({"prompt": p, "responses": [c], "seqs": [i], "image": index[r["image"]]})
                rows.append({"prompt": p, "responses": [rj], "seqs": [n + i], "image": index[r["rejected_image"]]})
        w = torch.tensor([r["weight"] for r in recs], dtype=torch.float32, device=self.ld.device)
        return pack_rows(self.ld, rows, 2 * n, px, self.max_length), w

    def dpo_standard(self, recs: list[dict]):
        """The conventional layout ([chosen…; rejected…] rows, right-padded, completion mask, per-row pixels),
        e.g. to hand the same batch to TRL."""
        prompts = [self.ids("p", r["prompt"]) for r in recs]
        resp = [self.ids("r", r["chosen"], r["prompt"]) for r in recs] + \
            [self.ids("r", r["rejected"], r["prompt"]) for r in recs]
        ids, am, cm = pack(self.ld, prompts + prompts, resp, self.max_length)
        px = self.pixels([r["image"] for r in recs] + [r["rejected_image"] for r in recs])
        return ids, am, cm, px


def autocast(ld: Loaded):
    if ld.device.type == "cuda" and ld.dtype == torch.bfloat16:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def reference_logps(ld: Loaded, ref_model, pk, feats=None) -> torch.Tensor:
    """log π_ref of every sequence: the same PEFT model with its adapter disabled, or the frozen copy."""
    with autocast(ld):
        if ref_model is None:
            with ld.model.disable_adapter():
                return packed_logps(ld.model, pk, feats)[0]
        return packed_logps(ref_model, pk)[0]


def dpo_step_loss(ld: Loaded, ref_model, batch, beta: float, ref: torch.Tensor | None = None):
    """Weighted DPO loss (mean over the pairs) and metrics for one micro-batch. The vision features are
    computed once and shared by the policy and reference passes (the vision tower is frozen under LoRA).
    `ref` (cached reference log-probs, [chosen…; rejected…]) skips the reference pass."""
    pk, w = batch
    n = w.shape[0]
    with autocast(ld):
        feats = image_features(ld.model, pk.pixel_values)
        logps, _ = packed_logps(ld.model, pk, feats)
    if ref is None:
        ref = reference_logps(ld, ref_model, pk, feats)
    losses, cr, rr = weighted_dpo_loss(logps[:n], logps[n:], ref[:n], ref[n:], w, beta)
    return losses.mean(), {"margin": (cr - rr), "acc": (cr > rr).float(), "weight": w}


def sft_step_loss(ld: Loaded, pk):
    with autocast(ld):
        logps, ntok = packed_logps(ld.model, pk)
    return -(logps.sum() / ntok.sum().clamp(min=1)), {}


def trainable_state(model) -> dict:
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(root: str, step: int, model, opt, sched, state: dict, keep: int) -> str:
    from safetensors.torch import save_file

    final = os.path.join(root, f"ckpt-{step:06d}")
    tmp = final + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    save_file(trainable_state(model), os.path.join(tmp, "trainable.safetensors"))
    torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "rng": rng_state(),
                "state": state}, os.path.join(tmp, "trainer_state.pt"))
    with open(os.path.join(tmp, "state.json"), "w") as f:
        json.dump({k: v for k, v in state.items() if k not in ("lossCurve", "refCache")}, f, indent=1, sort_keys=True)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    olds = sorted(d for d in os.listdir(root) if d.startswith("ckpt-") and not d.endswith(".tmp"))
    for d in olds[:-keep] if keep > 0 else []:
        shutil.rmtree(os.path.join(root, d), ignore_errors=True)
    return final


def load_checkpoint(path: str, model, opt, sched) -> dict:
    from safetensors.torch import load_file

    tensors = load_file(os.path.join(path, "trainable.safetensors"))
    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in tensors]
    if missing:
        raise SystemExit(f"checkpoint {path} does not match the model (missing {missing[0]})")
    with torch.no_grad():
        for n, t in tensors.items():
            params[n].copy_(t.to(params[n].device, params[n].dtype))
    st = torch.load(os.path.join(path, "trainer_state.pt"), weights_only=False)
    opt.load_state_dict(st["optimizer"])
    sched.load_state_dict(st["scheduler"])
    set_rng_state(st["rng"])
    return st["state"]


def train(args) -> int:
    from transformers import get_cosine_schedule_with_warmup

    mode = args.mode
    device = torch.device("cuda" if (args.device == "auto" and torch.cuda.is_available()) else
                          ("cpu" if args.device == "auto" else args.device))
    set_determinism(args.seed, args.threads, device)
    records = (load_preferences if mode == "dpo" else load_sft)(args.data, args.image_dir)
    if mode == "dpo" and not any(r["weight"] > 0 for r in records):
        raise SystemExit("every pair has weight 0: nothing to train")
    lora = None if args.no_lora else {"r": args.lora_r, "alpha": args.lora_alpha, "dropout": args.lora_dropout}
    ld = load_model(args.model, device=str(device), dtype=args.dtype, adapters=args.init_adapter, lora=lora,
                    template=args.template)
    model = ld.model
    if args.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if hasattr(model, "enable_input_require_grads"):
            model.enable_input_require_grads()
    ref_model = None
    if mode == "dpo" and args.no_lora:
        ref_model = copy.deepcopy(model).eval().requires_grad_(False)
    if args.no_lora:
        # full fine-tuning of the language model + projector; the vision tower stays frozen (LLaVA recipe)
        for n, p in model.named_parameters():
            p.requires_grad_("vision_tower" not in n)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in params)
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)
    B = args.batch_size
    micro = args.micro_batch_size or B
    steps_per_epoch = math.ceil(len(records) / B)
    total = steps_per_epoch * args.epochs if args.max_steps <= 0 else min(args.max_steps, steps_per_epoch * args.epochs)
    sched = get_cosine_schedule_with_warmup(opt, math.ceil(args.warmup_ratio * total), total)
    # What a checkpoint must match to be resumed: the records (image paths by file name only, since a retry
    # stages the same images under another work dir) and the hyperparameters that shape the run.
    data_id = hashlib.sha256(json.dumps([{k: (os.path.basename(v) if k in ("image", "rejected_image") else v)
                                          for k, v in r.items()} for r in records], sort_keys=True).encode()).hexdigest()
    fingerprint = hashlib.sha256(json.dumps({"data": data_id, "mode": mode, "B": B, "lr": args.lr,
                                             "epochs": args.epochs, "seed": args.seed, "beta": args.beta, "maxSteps": args.max_steps,
                                             "lora": lora}, sort_keys=True).encode()).hexdigest()[:16]
    state = {"step": 0, "epoch": 0, "stepInEpoch": 0, "lossCurve": [], "fingerprint": fingerprint,
             "totalSteps": total, "mode": mode}
    if args.resume:
        state = load_checkpoint(args.resume, model, opt, sched)
        if state.get("fingerprint") != fingerprint:
            raise ValueError(f"checkpoint {args.resume} belongs to a different run (data/hyperparameters differ)")
        log.info("resumed from %s at step %d", args.resume, state["step"])
        emit("resumed", step=state["step"], checkpoint=args.resume)
    emit("start", mode=mode, pairs=len(records), totalSteps=total, trainableParams=n_trainable, device=str(device),
         dtype=str(ld.dtype).replace("torch.", ""), batchSize=B, microBatchSize=micro)
    batcher = Batcher(ld, args.max_length, cache=len(records) <= args.image_cache, share_prompt=not args.no_share_prompt)
    ref_cache = None
    if mode == "dpo" and args.ref_cache:
        # Reference log-probs once per pair (not once per pair per epoch); kept in checkpoints.
        if "refCache" in state:
            ref_cache = state["refCache"]
        else:
            t0 = time.perf_counter()
            rows = []
            for k in range(0, len(records), micro):
                recs = records[k:k + micro]
                r = reference_logps(ld, ref_model, batcher.dpo(recs)[0]).float().cpu()
                rows.append(torch.stack([r[: len(recs)], r[len(recs):]], 1))
            ref_cache = state["refCache"] = torch.cat(rows)
            emit("refCache", pairs=len(records), seconds=round(time.perf_counter() - t0, 3))
    pre = Preempt()
    ckpt_root = args.checkpoint_dir or os.path.join(args.out, "checkpoints")
    os.makedirs(ckpt_root, exist_ok=True)
    last_ckpt = args.resume
    while state["step"] < total:
        ep = state["epoch"]
        perm = torch.randperm(len(records), generator=torch.Generator().manual_seed(args.seed * 1_000_003 + ep)).tolist()
        s = state["stepInEpoch"]
        idx = perm[s * B:(s + 1) * B]
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss_sum, mets, ntok = 0.0, {"margin": [], "acc": [], "weight": []}, 0
        for k in range(0, len(idx), micro):
            recs = [records[i] for i in idx[k:k + micro]]
            if mode == "dpo":
                batch = batcher.dpo(recs)
                ref = None
                if ref_cache is not None:
                    c = ref_cache[idx[k:k + micro]].to(ld.device)
                    ref = torch.cat([c[:, 0], c[:, 1]])
                loss, m = dpo_step_loss(ld, ref_model, batch, args.beta, ref)
                for key in mets:
                    mets[key].append(m[key].float().cpu())
            else:
                batch = batcher.sft(recs)
                loss, _ = sft_step_loss(ld, batch)
            ntok += (batch[0] if mode == "dpo" else batch).tokens
            scaled = loss * (len(recs) / len(idx))
            scaled.backward()
            loss_sum += float(scaled.detach())
        if args.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, args.max_grad_norm)
        lr = sched.get_last_lr()[0]
        opt.step()
        sched.step()
        if args.pace_seconds > 0:
            time.sleep(max(0.0, args.pace_seconds - (time.perf_counter() - t0)))
        dt = time.perf_counter() - t0
        state["step"] += 1
        state["stepInEpoch"] += 1
        if state["stepInEpoch"] >= steps_per_epoch:
            state["epoch"] += 1
            state["stepInEpoch"] = 0
        state["lossCurve"].append(loss_sum)
        ev = {"step": state["step"], "epoch": round(ep + s / steps_per_epoch, 4), "loss": loss_sum, "lr": lr,
              "tokensPerSec": round(ntok / dt, 1), "stepTime": round(dt, 4), "totalSteps": total}
        if mode == "dpo":
            margin, acc, w = (torch.cat(mets[k]) for k in ("margin", "acc", "weight"))
            ev.update(rewardMargin=float(margin.mean()), rewardAccuracy=float(acc.mean()), weightMean=float(w.mean()))
        done = state["step"] >= total
        if pre.requested or done or state["step"] % args.checkpoint_every == 0:
            last_ckpt = save_checkpoint(ckpt_root, state["step"], model, opt, sched, state, args.keep_checkpoints)
            ev["checkpoint"] = last_ckpt
        emit("step", **ev)
        if pre.requested and not done:
            if "checkpoint" not in ev:  # the signal came after this step's checkpoint decision
                last_ckpt = save_checkpoint(ckpt_root, state["step"], model, opt, sched, state, args.keep_checkpoints)
                emit("checkpoint", step=state["step"], checkpoint=last_ckpt)
            emit("preempted", step=state["step"], checkpoint=last_ckpt)
            return EXIT_PREEMPTED
    # final outputs
    os.makedirs(args.out, exist_ok=True)
    adapter_dir = os.path.join(args.out, "adapter")
    shutil.rmtree(adapter_dir, ignore_errors=True)
    if lora:
        model.save_pretrained(adapter_dir)
        # PEFT writes target_modules in set order (varies with PYTHONHASHSEED): sort it so equal adapters are equal bytes
        cfg_path = os.path.join(adapter_dir, "adapter_config.json")
        with open(cfg_path) as f:
            cfg = json.load(f)
        if isinstance(cfg.get("target_modules"), list):
            cfg["target_modules"] = sorted(cfg["target_modules"])
        with open(cfg_path, "w") as f:
            json.dump(cfg, f, indent=2, sort_keys=True)
    else:
        # A full fine-tune is a complete model: it carries the base's tokenizer and processor files so it
        # can serve as the base of later runs (e.g. the preference variants on top of a fully tuned SFT model).
        model.save_pretrained(adapter_dir, safe_serialization=True)
        for name in sorted(os.listdir(args.model)):
            if name.startswith(("tokenizer", "special_tokens", "preprocessor", "processor", "chat_template", "mmedpo_model")):
                shutil.copy2(os.path.join(args.model, name), os.path.join(adapter_dir, name))
    metrics = {"mode": mode, "steps": state["step"], "finalLoss": state["lossCurve"][-1] if state["lossCurve"] else None,
               "lossCurve": state["lossCurve"], "fingerprint": fingerprint, "pairs": len(records),
               "trainableParams": n_trainable, "lora": lora, "beta": args.beta if mode == "dpo" else None,
               "lr": args.lr, "batchSize": B, "epochs": args.epochs, "seed": args.seed}
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1, sort_keys=True)
    emit("done", adapter=adapter_dir, metrics=os.path.join(args.out, "metrics.json"), steps=state["step"],
         finalLoss=metrics["finalLoss"], checkpoint=last_ckpt)
    return 0
