#!/usr/bin/env bash
# Every test of the project: TypeScript typecheck, jest (unit + integration
# against a real Temporal + MinIO), the trainer's pytest suite, and the CPU
# runs of the benchmarks. Exits non-zero on the first failing stage.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
VENV=${MMEDPO_VENV:-$ROOT/.mmedpo/venv}
export PATH="$ROOT/.mmedpo/bin:$PATH"
echo "== typecheck"
npx tsc -p tsconfig.json --noEmit
echo "== jest"
npx jest --ci
if [ -d trainer/tests ]; then
  echo "== pytest (trainer)"
  "$VENV/bin/python" -m pytest -q trainer/tests
fi
echo "== bench (CPU): training step, ours vs TRL DPOTrainer"
bench/gpu-train.sh --cpu
