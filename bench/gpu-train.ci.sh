#!/usr/bin/env bash
# CPU run of the training benchmark (tiny LLaVA): our sft/dpo step vs TRL DPOTrainer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash bench/gpu-train.sh --cpu
