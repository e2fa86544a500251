#!/usr/bin/env bash
# CPU run of the training benchmark (tiny LLaVA and Qwen2.5-VL, LoRA and full): our dpo/sft step vs TRL DPOTrainer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash bench/gpu-train.sh --cpu
