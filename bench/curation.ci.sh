#!/usr/bin/env bash
# CPU run of the curation benchmark: throughput through Temporal vs the same activities in a plain
# loop, disjoint items, same run (~1.5 min, on a stack of its own). The 20,000-item scale run is
# `npx tsx bench/curation.ts --scale 20000` (about an hour on 2 cores; not in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true npx tsx bench/curation.ts
