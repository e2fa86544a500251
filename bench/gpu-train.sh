#!/usr/bin/env bash
# Training throughput bench (one command): our weighted-DPO / SFT step vs TRL's DPOTrainer on the same
# random-initialised model and pairs. GPU when CUDA is present: 7B-shaped LLaVA-1.5 and Qwen2.5-VL in bf16,
# LoRA and full fine-tuning (tokens/s, MFU, peak memory, step-time ratio vs TRL); `--cpu` (or no GPU): the
# tiny models of the same families, for CI. Extra flags go to bench/gpu_train.py (--families, --modes,
# --steps, --warmup, --peak-tflops, --no-trl).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${MMEDPO_PYTHON:-$ROOT/.mmedpo/venv/bin/python}
cd "$ROOT"
export PYTHONWARNINGS=ignore TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error
exec timeout "${MMEDPO_BENCH_TIMEOUT:-600}" "$PY" bench/gpu_train.py "$@"
