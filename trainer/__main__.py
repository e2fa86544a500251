"""python -m trainer {init-tiny,demo-data,sft,dpo,generate,ground,serve,log-metrics} — see `python -m trainer CMD --help`.

Multi-process: `accelerate launch --config_file trainer/accelerate/{ddp,fsdp,zero3}.yaml --num_processes N
-m trainer dpo …` (the training activity does this when `training.gpusPerRun` > 1)."""
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
from .families import FAMILIES, UnsupportedModel


def _train_args(p: argparse.ArgumentParser) -> None:
    from .options import add_options

    p.add_argument("--model", required=True, help="HF image-text-to-text model directory of a supported family "
                   f"({', '.join(FAMILIES)}), e.g. from init-tiny")
    p.add_argument("--data", required=True, help="preference JSONL (dpo) / SFT JSONL, or LLaVA JSON")
    p.add_argument("--image-dir", help="base directory of relative image paths (default: the data file's dir)")
    p.add_argument("--out", required=True, help="output dir: adapter/, metrics.json, checkpoints/")
    p.add_argument("--config", help="JSON file of training options, the campaign config's names (e.g. its whole "
                   "`training` section: {\"learningRate\": 1e-6, \"lora\": {\"r\": 16}}); flags win")
    p.add_argument("--checkpoint-dir", help="default OUT/checkpoints")
    p.add_argument("--resume", help="checkpoint dir to continue from (bit-exact on CPU)")
    p.add_argument("--init-adapter", action="append", default=[], help="adapter(s) merged into the base first "
                   "(e.g. the SFT adapter: it then is the DPO reference policy); repeatable")
    p.add_argument("--threads", type=int, default=0, help="torch threads (CPU default 1, for bit-exact resume)")
    p.add_argument("--image-cache", type=int, default=2000, help="cache encoded prompts+images when the set is this small")
    p.add_argument("--run-name", help="tracking run name (MLflow, TensorBoard)")
    p.add_argument("--tag", action="append", default=[], help="tracking tag KEY=VALUE (repeatable); the tags "
                   "identify the MLflow run, so a retry or the evaluation finds it again")
    add_options(p)


def _die_with_parent() -> None:
    """When spawned by the training activity (MMEDPO_PARENT_PID), exit if the worker dies (kill -9): an
    orphaned trainer would keep a GPU busy with nobody left to upload its checkpoints. (Under `accelerate
    launch` the launcher is the child of the worker; its workers follow it the same way.)"""
    ppid = os.environ.get("MMEDPO_PARENT_PID")
    if not ppid:
        return
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    parent = os.getppid()

    def watch():
        while True:
            if os.getppid() != parent:
                os._exit(137)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True).start()


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m trainer", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    pt = sub.add_parser("init-tiny", help="a CPU-sized random-initialised model of a family (config, weights, "
                        "tokenizer, processor, chat template); nothing downloaded")
    pt.add_argument("--out", required=True)
    pt.add_argument("--family", default="llava", choices=list(FAMILIES))
    pt.add_argument("--corpus", help="extra text for the tokenizer vocabulary")
    pt.add_argument("--image-size", type=int, help="input image side in pixels (default: the family's; llava 64)")
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
    pg.add_argument("--chat-template")
    pgr = sub.add_parser("ground", help="grounding metrics on a phantom set's split from its ground truth "
                         "(blind gap, counter-prior accuracy, lesion sensitivity, hallucination rate; trainer/grounding.py)")
    pgr.add_argument("--model", required=True)
    pgr.add_argument("--adapter", action="append", default=[])
    pgr.add_argument("--phantom", required=True, help="phantom set root (phantom.json, testset.json, images/, masks/)")
    pgr.add_argument("--split", default="test", choices=["train", "test"])
    pgr.add_argument("--output", required=True, help="JSON {totals, items}")
    pgr.add_argument("--seed", type=int, default=0, help="seed of the lesion/control noise")
    pgr.add_argument("--device", default="auto")
    pgr.add_argument("--dtype", default="auto")
    pgr.add_argument("--chat-template")
    ps = sub.add_parser("serve", help="OpenAI-compatible chat server over a model (+ adapters)")
    ps.add_argument("--model", required=True)
    ps.add_argument("--adapter", action="append", default=[])
    ps.add_argument("--host", default="127.0.0.1")
    ps.add_argument("--port", type=int, default=8000)
    ps.add_argument("--name", default="mmedpo-target", help="model id reported by /v1/models")
    ps.add_argument("--device", default="auto")
    ps.add_argument("--dtype", default="auto")
    ps.add_argument("--chat-template")
    ps.add_argument("--max-new-tokens", type=int, default=256)
    pm = sub.add_parser("log-metrics", help="log a JSON object of scores to a variant's MLflow run (found by its tags)")
    pm.add_argument("--metrics", required=True, help="JSON file {name: number}")
    pm.add_argument("--run-name")
    pm.add_argument("--tag", action="append", default=[], help="KEY=VALUE, as given to the training run")
    pm.add_argument("--prefix", default="eval/")
    return ap


def main(argv: list[str] | None = None) -> int:
    import trainer

    _die_with_parent()
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s trainer %(message)s")
    args = parser().parse_args(argv)
    trainer.events_stream, stdout = sys.stdout, sys.stdout
    sys.stdout = sys.stderr  # stdout carries progress lines only (trainer.emit)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        return _run(args)
    except (DataError, UnsupportedModel, ValueError, FileNotFoundError) as e:
        print(f"trainer: {e}", file=sys.stderr)
        return 2
    finally:
        sys.stdout = stdout


def _run(args) -> int:
    from trainer import emit

    if args.cmd == "init-tiny":
        from .tiny import init_tiny
        init_tiny(args.out, args.family, args.corpus, seed=args.seed, image_size=args.image_size,
                  hidden=args.hidden, layers=args.layers)
        emit("done", model=args.out, family=args.family)
        return 0
    if args.cmd == "demo-data":
        from .demo import make_demo_data
        emit("done", **make_demo_data(args.out, args.pairs, args.seed, args.size))
        return 0
    if args.cmd in ("sft", "dpo"):
        from .options import resolve
        from .train import train
        opts = resolve(args)
        args.mode = args.cmd
        return train(args, opts)
    if args.cmd == "generate":
        from .generate import generate_file
        return generate_file(args)
    if args.cmd == "ground":
        from .grounding import evaluate_grounding, json_ready
        from .modeling import load_model
        ld = load_model(args.model, device=args.device, dtype=args.dtype, adapters=args.adapter,
                        chat_template=args.chat_template)
        r = json_ready(evaluate_grounding(ld, args.phantom, args.split, seed=args.seed))
        with open(args.output, "w") as f:
            json.dump(r, f, allow_nan=False)
        emit("done", output=args.output, **r["totals"])
        return 0
    if args.cmd == "serve":
        from .generate import serve
        return serve(args)
    if args.cmd == "log-metrics":
        from .tracking import log_metrics, parse_tags
        with open(args.metrics) as f:
            metrics = json.load(f)
        rid = log_metrics(args.run_name, parse_tags(args.tag), metrics, args.prefix)
        emit("done", runId=rid, metrics=len(metrics))
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
