"""The training options of `sft` / `dpo`: one table, defaults from `defaults.json` (the paper's, §4.1 and the
authors' scripts — the same file gives the campaign config's `training` defaults in core/config.ts).

Precedence: defaults.json < `--config FILE.json` (the campaign's camelCase names, e.g. the whole `training`
section the training activity writes) < flags given on the command line. An unknown key in the file, or a
value of the wrong type, is an error naming it."""
from __future__ import annotations

import argparse
import copy
import json
import os

DEFAULTS_FILE = os.path.join(os.path.dirname(__file__), "defaults.json")
with open(DEFAULTS_FILE) as _f:
    DEFAULTS: dict = json.load(_f)

# key (dotted for nested) → (flag, type, help). bool flags get --x / --no-x.
SPEC: dict[str, tuple[str, type, str]] = {
    "learningRate": ("--lr", float, "peak learning rate (AdamW; cosine schedule with linear warm-up)"),
    "batchSize": ("--batch-size", int, "pairs (SFT: examples) per optimizer step, over all processes"),
    "gradientAccumulation": ("--gradient-accumulation", int, "forward/backward passes per optimizer step and "
                             "process: micro-batch = batch / (accumulation × processes)"),
    "epochs": ("--epochs", int, "passes over the set"),
    "maxSteps": ("--max-steps", int, "cap on optimizer steps (0 = epochs × steps per epoch)"),
    "beta": ("--beta", float, "DPO β (Eq. 3)"),
    "maxLength": ("--max-length", int, "tokens per sequence, image tokens included; answers are truncated, prompts "
                  "never"),
    "warmupRatio": ("--warmup-ratio", float, "share of the steps with linear warm-up"),
    "maxGradNorm": ("--max-grad-norm", float, "gradient-norm clip (0 = off)"),
    "weightDecay": ("--weight-decay", float, "AdamW weight decay"),
    "lora.enabled": ("--lora", bool, "LoRA on the language model (--no-lora: full fine-tuning of the language model "
                     "and projector; the vision encoder stays frozen)"),
    "lora.r": ("--lora-r", int, "LoRA rank"),
    "lora.alpha": ("--lora-alpha", float, "LoRA alpha"),
    "lora.dropout": ("--lora-dropout", float, "LoRA dropout"),
    "checkpointEverySteps": ("--checkpoint-every", int, "optimizer steps between checkpoints"),
    "keepCheckpoints": ("--keep-checkpoints", int, "checkpoints kept (older ones are deleted)"),
    "device": ("--device", str, "auto | cpu | cuda (a multi-process run: each process its local GPU)"),
    "dtype": ("--dtype", str, "auto (bf16 on GPU, fp32 on CPU) | bf16 | fp32"),
    "gradientCheckpointing": ("--gradient-checkpointing", bool, "recompute activations in the backward pass"),
    "refCache": ("--ref-cache", bool, "DPO: reference log-probs computed once per pair before training (kept in "
                 "checkpoints) instead of a reference pass every step; always on for full fine-tuning"),
    "chatTemplate": ("--chat-template", str, "a built-in template name (vicuna_v1, mistral_instruct, qwen2_vl, "
                     "gemma3, idefics3) or a Jinja file; default: the processor's own"),
    "sharePrompt": ("--share-prompt", bool, "DPO: a D_t pair's two answers continue one prompt in one row "
                    "(families with a plain causal decoder); --no-share-prompt: one row per answer"),
    "reportTo": ("--report-to", list, "tracking: comma-separated mlflow, tensorboard (none: empty)"),
    "seed": ("--seed", int, "seed of LoRA init, data order and dropout"),
    "paceSeconds": ("--pace-seconds", float, "minimum seconds per step (demos/tests: keeps a tiny run observable)"),
}
REPORTERS = ("mlflow", "tensorboard")


def _dest(key: str) -> str:
    return "opt_" + key.replace(".", "_")


def add_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training options (defaults: trainer/defaults.json; --config FILE.json sets any)")
    for key, (flag, typ, help_) in SPEC.items():
        d = _get(DEFAULTS, key)
        h = f"{help_} (default {json.dumps(d)})"
        if typ is bool:
            g.add_argument(flag, dest=_dest(key), action=argparse.BooleanOptionalAction, default=None, help=h)
        elif typ is list:
            g.add_argument(flag, dest=_dest(key), default=None, help=h,
                           type=lambda s: [x for x in (t.strip() for t in s.split(",")) if x and x != "none"])
        else:
            g.add_argument(flag, dest=_dest(key), type=typ, default=None, help=h)


def _get(d: dict, key: str):
    for k in key.split("."):
        d = d[k]
    return d


def _set(d: dict, key: str, v) -> None:
    *head, last = key.split(".")
    for k in head:
        d = d.setdefault(k, {})
    d[last] = v


def _check(key: str, v, where: str):
    typ = SPEC[key][1]
    if v is None and DEFAULTS.get(key, 0) is None:
        return v
    ok = (isinstance(v, bool) if typ is bool else isinstance(v, list) and all(isinstance(x, str) for x in v)
          if typ is list else isinstance(v, str) if typ is str else
          isinstance(v, (int, float)) and not isinstance(v, bool) and (typ is float or float(v).is_integer()))
    if not ok:
        raise ValueError(f"{where}: {key} must be {typ.__name__}, got {json.dumps(v)}")
    return typ(v) if typ in (int, float) else v


def resolve(args: argparse.Namespace) -> dict:
    """The options of this run: defaults, then --config, then explicit flags. Validated."""
    opts = copy.deepcopy(DEFAULTS)
    if getattr(args, "config", None):
        with open(args.config) as f:
            cfg = json.load(f)
        if not isinstance(cfg, dict):
            raise ValueError(f"--config {args.config}: a JSON object expected")

        def walk(d: dict, prefix: str = ""):
            for k, v in d.items():
                key = prefix + k
                if isinstance(v, dict) and any(s.startswith(key + ".") for s in SPEC):
                    walk(v, key + ".")
                elif key in SPEC:
                    _set(opts, key, _check(key, v, f"--config {args.config}"))
                else:
                    raise ValueError(f"--config {args.config}: unknown option {key}")
        walk(cfg)
    for key in SPEC:
        v = getattr(args, _dest(key), None)
        if v is not None:
            _set(opts, key, v)
    bad = [r for r in opts["reportTo"] if r not in REPORTERS]
    if bad:
        raise ValueError(f"reportTo: unknown {', '.join(bad)} (known: {', '.join(REPORTERS)})")
    if opts["dtype"] not in ("auto", "bf16", "fp32"):
        raise ValueError(f"dtype must be auto, bf16 or fp32, got {opts['dtype']!r}")
    for k in ("batchSize", "gradientAccumulation", "epochs", "maxLength", "checkpointEverySteps", "keepCheckpoints"):
        if opts[k] < 1:
            raise ValueError(f"{k} must be ≥ 1, got {opts[k]}")
    return opts
