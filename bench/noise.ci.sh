#!/usr/bin/env bash
# CPU run of the lesion-noise benchmark (TypeScript Eq. 2 vs NumPy, same run).
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsx bench/noise.ts
