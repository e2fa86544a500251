"""python -m trainer {init-tiny,sft,dpo,generate,serve} — see `python -m trainer CMD --help`."""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time

from .data import DataError


def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="HF-format LLaVA model directory (e.g. from init-tiny)")
    p.add_argument("--data", required=True, help="preference JSONL (dpo) / SFT JSONL, or LLaVA JSON")
    p.add_argument("--image-dir", help="base directory of relative image paths (default: the data file's dir)")
    p.add_argument("--out", required=True, help="output dir: adapter/, metrics.json, checkpoints/")
    p.add_argument("--config", help="JSON file of options (keys as the flags, e.g. {\"lr\": 1e-6}); flags win")
    p.add_argument("--checkpoint-dir", help="default OUT/checkpoints")
    p.add_argument("--checkpoint-every", type=int, default=50, help="optimizer steps between checkpoints")
    p.add_argument("--keep-checkpoints", type=int, default=2)
    p.add_argument("--resume", help="checkpoint dir to continue from (bit-exact on CPU)")
    p.add_argument("--init-adapter", action="append", default=[], help="adapter(s) merged into the base first "
                   "(e.g. the SFT adapter: it then is the DPO reference policy); repeatable")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--micro-batch-size", type=int, default=0, help="per-forward batch (gradient accumulation); 0 = batch")
    p.add_argument("--lr", type=float, default=1e-7)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--warmup-ratio", type=float, default=0.03)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--max-steps", type=int, default=0, help="cap on optimizer steps (0 = epochs)")
    p.add_argument("--max-length", type=int, default=1024)
    p.add_argument("--max-grad-norm", type=float, default=1.0)
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument("--no-lora", action="store_true", help="full fine-tuning (reference = a frozen copy)")
    p.add_argument("--lora-r", type=int, default=128)
    p.add_argument("--lora-alpha", type=float, default=256)
    p.add_argument("--lora-dropout", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto|cpu|cuda|cuda:N")
    p.add_argument("--dtype", default="auto", help="auto (bf16 on GPU, fp32 on CPU)|bf16|fp32")
    p.add_argument("--threads", type=int, default=0, help="torch threads (CPU default 1, for bit-exact resume)")
    p.add_argument("--template", help="conversation template (vicuna_v1|mistral_instruct|plain)")
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--ref-cache", action="store_true", help="compute reference log-probs once per pair before "
                   "training (saves the reference pass of every later epoch); default: a reference pass each step")
    p.add_argument("--no-share-prompt", action="store_true", help="one row per sequence even when chosen and "
                   "rejected share (prompt, image); default: such pairs share one prompt in one row")
    p.add_argument("--pace-seconds", type=float, default=0.0, help="minimum seconds per step (demos/tests: keeps "
                   "a tiny run observable); 0 = off")
    p.add_argument("--image-cache", type=int, default=2000, help="cache decoded images when the set is this small")


def _apply_config(p: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    args = p.parse_args(argv)
    if getattr(args, "config", None):
        with open(args.config) as f:
            cfg = json.load(f)
        known = {a.dest for a in p._actions}
        bad = [k for k in cfg if k.replace("-", "_") not in known]
        if bad:
            raise SystemExit(f"--config {args.config}: unknown option(s) {', '.join(bad)}")
        p.set_defaults(**{k.replace("-", "_"): v for k, v in cfg.items()})
        args = p.parse_args(argv)
    return args


def _die_with_parent() -> None:
    """When spawned by the training activity (MMEDPO_PARENT_PID), exit if the worker dies (kill -9): an
    orphaned trainer would keep a GPU busy with nobody left to upload its checkpoints."""
    ppid = os.environ.get("MMEDPO_PARENT_PID")
    if not ppid:
        return
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    def watch():
        while True:
            if os.getppid() != int(ppid):
                os._exit(137)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    _die_with_parent()
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s trainer %(message)s")
    ap = argparse.ArgumentParser(prog="python -m trainer", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    pt = sub.add_parser("init-tiny", help="create the tiny LLaVA model dir (config, seeded weights, tokenizer)")
    pt.add_argument("--out", required=True)
    pt.add_argument("--corpus", help="extra text for the tokenizer vocabulary")
    pt.add_argument("--image-size", type=int, default=32)
    pt.add_argument("--patch-size", type=int, default=8)
    pt.add_argument("--hidden", type=int, default=64)
    pt.add_argument("--layers", type=int, default=2)
    pt.add_argument("--seed", type=int, default=0)
    pd = sub.add_parser("demo-data", help="synthetic images + preference/SFT JSONL for tests and benches")
    pd.add_argument("--out", required=True)
    pd.add_argument("--pairs", type=int, default=16)
    pd.add_argument("--size", type=int, default=32)
    pd.add_argument("--seed", type=int, default=0)
    for name in ("sft", "dpo"):
        _train_args(sub.add_parser(name, help=f"{name.upper()} training (progress as JSON lines on stdout)"))
    pg = sub.add_parser("generate", help="batched answers for a JSONL of {id, image, prompt} → JSONL")
    pg.add_argument("--model", required=True)
    pg.add_argument("--adapter", action="append", default=[])
    pg.add_argument("--input", required=True)
    pg.add_argument("--image-dir")
    pg.add_argument("--output", required=True)
    pg.add_argument("--batch-size", type=int, default=8)
    pg.add_argument("--max-new-tokens", type=int, default=64)
    pg.add_argument("--temperature", type=float, default=0.0)
    pg.add_argument("--seed", type=int, default=0)
    pg.add_argument("--device", default="auto")
    pg.add_argument("--dtype", default="auto")
    pg.add_argument("--template")
    ps = sub.add_parser("serve", help="OpenAI-compatible chat server over a model (+ adapters)")
    ps.add_argument("--model", required=True)
    ps.add_argument("--adapter", action="append", default=[])
    ps.add_argument("--host", default="127.0.0.1")
    ps.add_argument("--port", type=int, default=8000)
    ps.add_argument("--name", default="mmedpo-target", help="model id reported by /v1/models")
    ps.add_argument("--device", default="auto")
    ps.add_argument("--dtype", default="auto")
    ps.add_argument("--template")
    ps.add_argument("--max-new-tokens", type=int, default=256)

    cmd = argv[0] if argv else ""
    if cmd in ("sft", "dpo"):
        args = _apply_config(sub.choices[cmd], argv[1:])
        args.cmd = cmd
    else:
        args = ap.parse_args(argv)
    try:
        if args.cmd == "init-tiny":
            from .tiny import init_tiny
            init_tiny(args.out, args.corpus, image_size=args.image_size, seed=args.seed, hidden=args.hidden,
                      layers=args.layers, patch=args.patch_size)
            print(json.dumps({"event": "done", "model": args.out}), flush=True)
            return 0
        if args.cmd == "demo-data":
            from .demo import make_demo_data
            print(json.dumps({"event": "done", **make_demo_data(args.out, args.pairs, args.seed, args.size)}), flush=True)
            return 0
        if args.cmd in ("sft", "dpo"):
            from .train import train
            args.mode = args.cmd
            return train(args)
        if args.cmd == "generate":
            from .generate import generate_file
            return generate_file(args)
        if args.cmd == "serve":
            from .generate import serve
            return serve(args)
    except DataError as e:
        print(f"trainer: {e}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as e:
        print(f"trainer: {e}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
