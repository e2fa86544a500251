"""`ground`: grounding metrics of a model on a phantom set's split, from the set's ground truth (`phantom.json`:
every study's findings and lesion mask, and the planted text prior of each question; `testset.json` /
`trainset.json`: the questions). Nothing here is judged by a model: every label comes from the generator.

Metrics (percentages unless said otherwise; each with its per-item records, so intervals can be drawn):

- ``closed_accuracy_image`` / ``closed_accuracy_blank``: exact-match accuracy (answer lower-cased, trailing
  punctuation dropped) of the greedy answer to the closed questions (PRES and ABN: yes/no) with the study's image,
  and with a *blank* image (a constant image at the study image's mean gray level, same size).
  ``presence_accuracy_image`` / ``presence_accuracy_blank``: the same on the PRES questions only.
- ``blind_gap`` = closed_accuracy_image − closed_accuracy_blank (points): what the image adds. A model answering from
  the question text alone has a gap of 0.
- ``counter_prior_accuracy``: closed_accuracy_image over the questions whose wording cues the other answer
  (``prior == 'counter'``: the whole closed test split of a set generated with a text prior, README "The grounding
  testbed"); absent when the split has none. Answering from the planted prior scores 0 there.
- ``lesion_sensitivity`` (nats) = mean over lesion items of
  [log π(a|x) − log π(a|x̃_lesion)] − [log π(a|x) − log π(a|x̃_control)] = mean(log π(a|x̃_control) − log π(a|x̃_lesion)),
  a the reference answer (log-prob summed over its tokens, the chat template's end of turn included), x̃_lesion the
  image with Eq. 2 noise inside the study's lesion mask (the union of its findings' masks), x̃_control the image with
  the same noise inside an equal-area region away from every lesion (the mask mirrored left↔right, else translated
  by a quarter or half of the image; the first placement that stays inside the image and touches no lesion pixel;
  items with none are left out). Lesion items: closed questions on studies with findings whose answer the lesion
  decides (PRES answered "yes", ABN answered "no"). Positive: the answer depends on the lesion more than on an
  equal amount of other anatomy. Noise: ξ̄_k of the sigmoid schedule (1000 steps, β in [1e-5, 5e-3], k = 500:
  the paper's D_v setting), ε seeded per item.
- ``hallucination_rate``: share of the questions on studies *without* findings whose answer states a finding —
  a PRES question answered "yes", the normal/abnormal question answered "no" (abnormal), the open "what is the
  abnormality" question answered with anything but "none".

Errors: a root without phantom.json (not a phantom set) or a split without questions is a DataError (exit 2)."""
from __future__ import annotations

import io
import json
import math
import os
import random

import numpy as np
import torch

from .data import DataError

NOISE_STEPS, NOISE_K, BETA_START, BETA_END = 1000, 500, 1e-5, 5e-3


def alpha_bar(steps: int = NOISE_STEPS, k: int = NOISE_K, b0: float = BETA_START, b1: float = BETA_END) -> float:
    """ξ̄_k = Π_{i≤k}(1 − β_i) of the sigmoid schedule (core/noise.ts betaSchedule / alphaBar)."""
    a = 1.0
    for i in range(k):
        t = 0.0 if steps == 1 else i / (steps - 1)
        a *= 1 - (1 / (1 + math.exp(-(-6 + 12 * t))) * (b1 - b0) + b0)
    return a


def noise_in_mask(gray: np.ndarray, mask: np.ndarray, ab: float, rng: np.random.Generator) -> np.ndarray:
    """Eq. 2 inside a binary mask on an 8-bit image (values to [−1, 1], x·√ξ̄ + ε·√(1−ξ̄), back to 8 bits);
    pixels outside the mask are unchanged."""
    x = gray.astype(np.float64) / 127.5 - 1
    y = np.sqrt(ab) * x + np.sqrt(1 - ab) * rng.standard_normal(x.shape)
    out = np.where(mask, np.clip(np.floor((y + 1) * 127.5 + 0.5), 0, 255), gray)
    return out.astype(np.uint8)


def control_region(mask: np.ndarray) -> np.ndarray | None:
    """An equal-area region touching no lesion pixel: the mask mirrored left↔right, else shifted by ±1/4 or ±1/2 of
    the image (x, then y, then both); None when no placement fits inside the image without overlap."""
    h, w = mask.shape
    area = int(mask.sum())
    cands = [mask[:, ::-1]]
    for dx, dy in [(w // 4, 0), (-w // 4, 0), (w // 2, 0), (-w // 2, 0), (0, h // 4), (0, -h // 4),
                   (w // 4, h // 4), (-w // 4, h // 4), (w // 4, -h // 4), (-w // 4, -h // 4)]:
        c = np.zeros_like(mask)
        ys, xs = np.nonzero(mask)
        ys2, xs2 = ys + dy, xs + dx
        if ys2.min() < 0 or xs2.min() < 0 or ys2.max() >= h or xs2.max() >= w:
            continue
        c[ys2, xs2] = True
        cands.append(c)
    for c in cands:
        if int(c.sum()) == area and not (c & mask).any():
            return c
    return None


def _png(gray: np.ndarray) -> bytes:
    from PIL import Image

    b = io.BytesIO()
    Image.fromarray(gray, mode="L").save(b, format="PNG")
    return b.getvalue()


def _norm(a: str) -> str:
    return a.strip().lower().rstrip(" .!")


def load_testbed(root: str, split: str = "test") -> list[dict]:
    """The split's questions joined with their study's ground truth: {qid, question, answer, answerType,
    questionType, image (path), mask (path), normal, prior ('aligned'|'counter'|None)}."""
    pj_path = os.path.join(root, "phantom.json")
    if not os.path.exists(pj_path):
        raise DataError(f"{root}: no phantom.json (grounding metrics need a phantom set's ground truth)")
    with open(pj_path) as f:
        pj = json.load(f)
    with open(os.path.join(root, "trainset.json" if split == "train" else "testset.json")) as f:
        rows = json.load(f)
    studies = {os.path.basename(it["image"]): it for it in pj["items"]}
    prior = {p["qid"]: p["prior"] for it in pj["items"] for p in it.get("priors", [])}
    out = []
    for r in rows:
        st = studies[r["image_name"]]
        out.append({"qid": r["qid"], "question": r["question"], "answer": r["answer"], "answerType": r["answer_type"],
                    "questionType": r["question_type"], "image": os.path.join(root, st["image"]),
                    "mask": os.path.join(root, st["mask"]), "normal": st["normal"], "prior": prior.get(r["qid"])})
    if not out:
        raise DataError(f"{root}: no questions in the {split} split")
    return out


def _hallucinated(it: dict, pred: str) -> bool | None:
    """On a study without findings: does the answer state one? None for questions that ask nothing of findings."""
    if not it["normal"]:
        return None
    if it["answerType"] == "CLOSED" and it["questionType"] == "PRES":
        return pred == "yes"
    if it["answerType"] == "CLOSED" and it["questionType"] == "ABN":
        return pred == "no"
    if it["answerType"] == "OPEN" and it["questionType"] == "ABN":
        return pred != "none"
    return None


@torch.no_grad()
def evaluate_grounding(ld, root: str, split: str = "test", seed: int = 0, batch_size: int = 16,
                       max_new_tokens: int = 8) -> dict:
    """Grounding metrics (module docstring) of a loaded model on a phantom split → {totals: {metric: value},
    items: [per-question records: qid, questionType, prior, correct, correctBlank, hallucinated, lesionDelta]}."""
    from PIL import Image

    from .batching import SFTCollator
    from .generate import generate_batch
    from .modeling import load_image, sequence_logps

    items = load_testbed(root, split)
    grays = {}

    def gray(path):
        if path not in grays:
            grays[path] = np.asarray(Image.open(path).convert("L"))
        return grays[path]

    asked = [it for it in items if it["answerType"] == "CLOSED" or _hallucinated(it, "") is not None]
    recs = {it["qid"]: {"qid": it["qid"], "questionType": it["questionType"], "answerType": it["answerType"],
                        "prior": it["prior"]} for it in asked}
    for blank in (False, True):
        todo = [it for it in asked if not blank or it["answerType"] == "CLOSED"]
        for k in range(0, len(todo), batch_size):
            chunk = todo[k:k + batch_size]
            imgs = [load_image(_png(np.full_like(gray(it["image"]), int(round(gray(it["image"]).mean())))))
                    if blank else load_image(it["image"]) for it in chunk]
            preds = generate_batch(ld, imgs, [it["question"] for it in chunk], max_new_tokens)
            for it, p in zip(chunk, preds):
                p, r = _norm(p), recs[it["qid"]]
                if blank:
                    r["correctBlank"] = p == _norm(it["answer"])
                else:
                    r["prediction"] = p
                    if it["answerType"] == "CLOSED":
                        r["correct"] = p == _norm(it["answer"])
                    h = _hallucinated(it, p)
                    if h is not None:
                        r["hallucinated"] = h
    # lesion sensitivity: answer log-probs under the lesion-noised and the control-noised image
    ab = alpha_bar()
    lesion = [it for it in asked if it["answerType"] == "CLOSED" and not it["normal"] and
              ((it["questionType"] == "PRES" and _norm(it["answer"]) == "yes") or it["questionType"] == "ABN")]
    collator = SFTCollator(ld, 4096, cache=False)
    ld.model.eval()
    for k in range(0, len(lesion), batch_size):
        chunk, recs3 = lesion[k:k + batch_size], []
        for it in chunk:
            g, m = gray(it["image"]), gray(it["mask"]) > 0
            ctrl = control_region(m)
            if ctrl is None or not m.any():
                continue
            rng = np.random.default_rng([seed, it["qid"]])
            eps_seed = int(rng.integers(1 << 31))
            # the same ε field for both placements: only where the noise lands differs
            noised_l = noise_in_mask(g, m, ab, np.random.default_rng(eps_seed))
            noised_c = noise_in_mask(g, ctrl, ab, np.random.default_rng(eps_seed))
            for img in (_png(g), _png(noised_l), _png(noised_c)):
                recs3.append((it, {"id": str(it["qid"]), "image": img, "prompt": it["question"], "response": it["answer"]}))
        if not recs3:
            continue
        batch = collator([(i, r) for i, (_, r) in enumerate(recs3)])
        batch = {kk: (v.to(ld.device, ld.dtype) if torch.is_tensor(v) and v.is_floating_point() else
                      v.to(ld.device) if torch.is_tensor(v) else v) for kk, v in batch.items()}
        sums, _ = sequence_logps(ld.model, batch, mrope=ld.family.mrope)
        for j in range(0, len(recs3), 3):
            it = recs3[j][0]
            real, les, ctl = (float(sums[j + d]) for d in range(3))
            recs[it["qid"]].update(logpImage=real, logpLesionNoised=les, logpControlNoised=ctl,
                                   lesionDelta=(real - les) - (real - ctl))
    rows = list(recs.values())
    return {"totals": grounding_totals(rows), "items": rows}


def _mean(xs) -> float:
    xs = list(xs)
    return float("nan") if not xs else sum(xs) / len(xs)


def json_ready(x):
    """`x` with every NaN and ±inf float as None, for standard JSON (`json.dump(..., allow_nan=False)`): Python's
    json writes NaN, which no standard reader (JSON.parse on the Node side) accepts; a metric no question
    qualifies for is NaN here and null in the file."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: json_ready(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_ready(v) for v in x]
    return x


def grounding_totals(rows: list[dict]) -> dict:
    """The metrics of the module docstring from per-question records (percentages; lesion_sensitivity in nats);
    NaN where no record qualifies."""
    closed = [r for r in rows if "correct" in r]
    pres = [r for r in closed if r["questionType"] == "PRES"]
    t = {
        "closed_accuracy_image": 100 * _mean(r["correct"] for r in closed),
        "closed_accuracy_blank": 100 * _mean(r["correctBlank"] for r in closed),
        "presence_accuracy_image": 100 * _mean(r["correct"] for r in pres),
        "presence_accuracy_blank": 100 * _mean(r["correctBlank"] for r in pres),
        "counter_prior_accuracy": 100 * _mean(r["correct"] for r in closed if r.get("prior") == "counter"),
        "lesion_sensitivity": _mean(r["lesionDelta"] for r in rows if "lesionDelta" in r),
        "hallucination_rate": 100 * _mean(r["hallucinated"] for r in rows if "hallucinated" in r),
    }
    t["blind_gap"] = t["closed_accuracy_image"] - t["closed_accuracy_blank"]
    return t


def bootstrap_intervals(runs: list[list[dict]], resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> dict:
    """Mean over runs (one per training seed, records of the same questions) of each metric with its percentile
    bootstrap interval: each resample draws the seeds and the questions with replacement (the same questions for
    every seed, so the seeds stay paired) → {metric: {estimate, lo, hi}}."""
    rng = random.Random(seed)
    qids = sorted({r["qid"] for run in runs for r in run})
    by = [{r["qid"]: r for r in run} for run in runs]

    def totals(run_idx, q):
        per = [grounding_totals([by[i][x] for x in q if x in by[i]]) for i in run_idx]
        return {k: _mean(p[k] for p in per) for k in per[0]}

    est = totals(range(len(runs)), qids)
    draws = [totals([rng.randrange(len(runs)) for _ in runs], [rng.choice(qids) for _ in qids]) for _ in range(resamples)]
    a = (1 - confidence) / 2
    out = {}
    for k, v in est.items():
        xs = sorted(d[k] for d in draws if not math.isnan(d[k]))
        out[k] = {"estimate": v, "lo": xs[int(a * (len(xs) - 1))] if xs else float("nan"),
                  "hi": xs[int(math.ceil((1 - a) * (len(xs) - 1)))] if xs else float("nan")}
    return out
