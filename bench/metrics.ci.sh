#!/usr/bin/env bash
# CPU run of the metrics benchmark (TypeScript BLEU+ROUGE-L vs pycocoevalcap, same run; ~5 s).
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsx bench/metrics.ts --pairs 2000
