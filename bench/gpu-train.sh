#!/usr/bin/env bash
# Training throughput bench (one command): our sft + weighted dpo vs TRL DPOTrainer on the same model and
# batch. GPU when CUDA is present (mid-size LLaVA, bf16, ≤ 8 min on an H100/H200); `--cpu` (or no GPU):
# the tiny configuration in well under a minute. Extra flags go to bench/gpu_train.py (--steps, --warmup,
# --peak-tflops, --no-trl).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${MMEDPO_PYTHON:-$ROOT/.mmedpo/venv/bin/python}
cd "$ROOT"
export PYTHONWARNINGS=ignore TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error
exec timeout "${MMEDPO_BENCH_TIMEOUT:-480}" "$PY" bench/gpu_train.py "$@"
