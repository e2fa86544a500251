"""Reference METEOR 1.5 values for `mmedpo eval --format report` under the pycoco convention.

500 report pairs: the first 494 synthetic radiology pairs of metric-goldens.json (written by
make_metric_goldens.py, deterministic) plus 6 edge pairs (empty prediction, '|||' and double spaces
in the prediction, a one-word reference, punctuation-only text, non-report prose). Scored exactly as
R2Gen / pycocoevalcap do: Meteor().compute_score(gts, res) with one reference per study, on the text
as given (the `whitespace` tokenizer of the pycoco convention) — the pinned pycocoevalcap==1.2 runs
meteor-1.5.jar (-l en -norm) in a Java subprocess.

Run:  .mmedpo/venv/bin/python test/golden/make_meteor_goldens.py  (writes meteor-goldens.json)
"""
import json
import os

from pycocoevalcap.meteor.meteor import Meteor

HERE = os.path.dirname(os.path.abspath(__file__))
EDGE = [
    {"id": "e1", "prediction": "", "reference": "Small left pleural effusion."},
    {"id": "e2", "prediction": "No  pleural ||| effusion  or pneumothorax.", "reference": "No pleural effusion or pneumothorax."},
    {"id": "e3", "prediction": "The heart is normal.", "reference": "normal"},
    {"id": "e4", "prediction": ". , ;", "reference": "The lungs are clear."},
    {"id": "e5", "prediction": "I cannot see an image, but a chest radiograph usually shows the lungs.", "reference": "The lungs are clear. No acute cardiopulmonary process."},
    {"id": "e6", "prediction": "Cardiomegaly. Cardiomegaly. Cardiomegaly.", "reference": "Stable cardiomegaly."},
]


def main() -> None:
    pairs = json.load(open(os.path.join(HERE, "metric-goldens.json")))["pairs"][:494] + EDGE
    assert len(pairs) == 500 and len({p["id"] for p in pairs}) == 500
    gts = {p["id"]: [p["reference"]] for p in pairs}
    res = {p["id"]: [p["prediction"]] for p in pairs}
    score, scores = Meteor().compute_score(gts, res)
    out = {"generator": "test/golden/make_meteor_goldens.py", "pycocoevalcap": "1.2", "pairs": pairs, "meteor": score, "scores": scores}
    with open(os.path.join(HERE, "meteor-goldens.json"), "w") as f:
        json.dump(out, f, indent=0)
    print(f"METEOR {score:.6f} over {len(pairs)} pairs")


if __name__ == "__main__":
    main()
