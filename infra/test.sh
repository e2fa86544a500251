#!/usr/bin/env bash
# Every test of the project: TypeScript typecheck, jest (unit + integration
# against a real Temporal + MinIO), the trainer's pytest suite, and the CPU
# runs of the benchmarks. Exits non-zero on the first failing stage and ends
# with one tally line "N passed, N failed".
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
VENV=${MMEDPO_VENV:-$ROOT/.mmedpo/venv}
export PATH="$ROOT/.mmedpo/bin:$PATH"
RESULTS="$ROOT/.mmedpo/test-results"
rm -rf "$RESULTS" && mkdir -p "$RESULTS"

echo "== typecheck"
npx tsc -p tsconfig.json --noEmit

echo "== jest (unit + integration on a real Temporal + MinIO)"
npx jest --ci --json --outputFile="$RESULTS/jest.json"

echo "== pytest (trainer, trainer/visual)"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider --junitxml="$RESULTS/pytest.xml" trainer

for b in bench/*.ci.sh; do
  [ -e "$b" ] || continue
  echo "== bench (CPU run): $b"
  bash "$b"
done

node -e '
const fs = require("fs"); const dir = process.argv[1];
const j = JSON.parse(fs.readFileSync(dir + "/jest.json", "utf8"));
let passed = j.numPassedTests, failed = j.numFailedTests;
if (fs.existsSync(dir + "/pytest.xml")) {
  const x = fs.readFileSync(dir + "/pytest.xml", "utf8"); const m = x.match(/<testsuite [^>]*>/)[0];
  const n = (k) => Number((m.match(new RegExp(k + "=\"(\\d+)\"")) || [0, 0])[1]);
  failed += n("failures") + n("errors"); passed += n("tests") - n("failures") - n("errors") - n("skipped");
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
' "$RESULTS"
