#!/usr/bin/env bash
# CPU run of the endpoints benchmark at CI size: 100 phantom items at 512 px through a real campaign's
# curation stage against the fake endpoints (same latency and fault model as the full run: only the item
# count shrinks), on a stack of its own (< 3 min on 2 cores). Fails on any quarantined or missing item,
# a history over 10,000 events, or a steady-state (p10–p90) throughput under 0.7× the rate-limit bound.
# The full run is `npx tsx bench/curation-endpoints.ts --items 5000` (~45 min: the judge's 2/s binds).
set -euo pipefail
cd "$(dirname "$0")/.."
AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true npx tsx bench/curation-endpoints.ts --ci
