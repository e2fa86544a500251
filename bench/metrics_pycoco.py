"""Baseline for bench/metrics.ts: pycocoevalcap Bleu(4) + Rouge() on a JSONL of pairs.

Reads {"prediction", "reference"} lines from argv[1]; times only the scoring (after loading);
prints one JSON line: {"ms": ..., "bleu": [...], "rouge_l": ...}.
"""
import json
import sys
import time

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.rouge.rouge import Rouge

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
gts = {i: [r["reference"]] for i, r in enumerate(rows)}
res = {i: [r["prediction"]] for i, r in enumerate(rows)}
t0 = time.perf_counter()
bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
rouge, _ = Rouge().compute_score(gts, res)
ms = (time.perf_counter() - t0) * 1000
print(json.dumps({"ms": ms, "bleu": list(bleu), "rouge_l": float(rouge)}))
