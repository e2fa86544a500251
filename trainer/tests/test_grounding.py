"""Grounding metrics (trainer/grounding.py): the pure parts — Eq. 2 noise in a mask, the equal-area control
region, the totals' formulas and the bootstrap — on hand-made records."""
import math
import os

import numpy as np

from trainer.grounding import alpha_bar, bootstrap_intervals, control_region, grounding_totals, noise_in_mask


def test_alpha_bar_matches_the_sigmoid_schedule():
    # ξ̄_0 = 1; the paper's k = 500 of 1000 steps keeps ~3/4 of the signal; every further step removes more
    assert alpha_bar(k=0) == 1.0
    assert 0.6 < alpha_bar() < 0.85
    assert alpha_bar(k=1000) < alpha_bar(k=500)


def test_noise_only_inside_the_mask_and_seeded():
    g = np.full((16, 16), 100, dtype=np.uint8)
    m = np.zeros((16, 16), dtype=bool)
    m[4:8, 4:8] = True
    a = noise_in_mask(g, m, 0.5, np.random.default_rng(1))
    assert (a[~m] == 100).all() and (a[m] != 100).any()
    assert (a == noise_in_mask(g, m, 0.5, np.random.default_rng(1))).all()


def test_control_region_equal_area_away_from_every_lesion():
    m = np.zeros((32, 32), dtype=bool)
    m[10:14, 3:9] = True  # patient right lung: the mirror is free
    c = control_region(m)
    assert c.sum() == m.sum() and not (c & m).any() and c[10:14, 23:29].all()
    # a centred lesion whose mirror overlaps itself: shifted instead, still equal area and disjoint
    m2 = np.zeros((32, 32), dtype=bool)
    m2[12:20, 12:20] = True
    c2 = control_region(m2)
    assert c2.sum() == m2.sum() and not (c2 & m2).any()
    # a lesion covering the whole width has no placement
    m3 = np.zeros((8, 8), dtype=bool)
    m3[:, :] = True
    assert control_region(m3) is None


def rec(qid, qt="PRES", correct=True, blank=False, prior=None, **kw):
    return {"qid": qid, "questionType": qt, "answerType": "CLOSED", "prior": prior, "correct": correct,
            "correctBlank": blank, **kw}


def test_totals_formulas():
    rows = [rec(1, correct=True, blank=False, prior="counter", lesionDelta=0.5),
            rec(2, correct=True, blank=True, prior="counter", lesionDelta=1.5),
            rec(3, qt="ABN", correct=False, blank=False, prior="aligned", hallucinated=True),
            rec(4, correct=False, blank=True, hallucinated=False),
            {"qid": 5, "questionType": "ABN", "answerType": "OPEN", "prior": None, "hallucinated": True}]
    t = grounding_totals(rows)
    assert t["closed_accuracy_image"] == 50 and t["closed_accuracy_blank"] == 50 and t["blind_gap"] == 0
    assert math.isclose(t["presence_accuracy_image"], 200 / 3) and math.isclose(t["presence_accuracy_blank"], 200 / 3)
    assert t["counter_prior_accuracy"] == 100
    assert t["lesion_sensitivity"] == 1.0
    assert math.isclose(t["hallucination_rate"], 200 / 3)
    assert math.isnan(grounding_totals([rec(1)])["counter_prior_accuracy"])


def test_bootstrap_interval_holds_the_mean_over_seeds():
    run = [rec(i, correct=i % 4 != 0, blank=i % 2 == 0) for i in range(80)]
    iv = bootstrap_intervals([run, run], resamples=300)
    b = iv["blind_gap"]
    assert b["lo"] <= b["estimate"] <= b["hi"] and b["hi"] - b["lo"] > 0
    assert b["estimate"] == 25.0
    # two seeds: the estimate is their mean; resampling the seeds reaches the seed with no gap
    other = [rec(i, correct=i % 2 == 0, blank=i % 2 == 0) for i in range(80)]
    two = bootstrap_intervals([run, other], resamples=300)["blind_gap"]
    assert two["estimate"] == 12.5 and two["lo"] == 0 and two["lo"] <= 12.5 <= two["hi"]


def _phantom_root(tmp_path):
    """A hand-made set in the phantom layout: 3 test studies (two with a bright right-lung lesion, one normal)
    with a counter-prior closed question each, the normal one with the open abnormality question too."""
    import json

    from PIL import Image

    os.makedirs(tmp_path / "images"), os.makedirs(tmp_path / "masks")
    items, rows, qid = [], [], 0
    for k, normal in enumerate([False, False, True]):
        img = np.full((64, 64), 60, dtype=np.uint8)
        mask = np.zeros((64, 64), dtype=np.uint8)
        if not normal:
            img[20:28, 10:18] = 200
            mask[20:28, 10:18] = 1
        name = f"phantom-{k:06d}.png"
        Image.fromarray(img).save(tmp_path / "images" / name)
        Image.fromarray(mask).save(tmp_path / "masks" / name)
        qs = [("Is there a lung mass?" if normal else "Is a mass present in the lungs?", "no" if normal else "yes", "CLOSED", "PRES")]
        if normal:
            qs.append(("What is the abnormality?", "none", "OPEN", "ABN"))
        priors = []
        for q, a, at, qt in qs:
            qid += 1
            rows.append({"qid": qid, "image_name": name, "image_organ": "CHEST", "answer": a, "answer_type": at,
                         "question_type": qt, "question": q, "phrase_type": "test_freeform"})
            if at == "CLOSED":
                priors.append({"qid": qid, "questionType": qt, "prior": "counter"})
        items.append({"id": name[:-4], "split": "test", "image": f"images/{name}", "mask": f"masks/{name}",
                      "normal": normal, "findings": [], "priors": priors})
    (tmp_path / "testset.json").write_text(json.dumps(rows))
    (tmp_path / "trainset.json").write_text("[]")
    (tmp_path / "phantom.json").write_text(json.dumps({"name": "phantom-cxr", "items": items}))
    return tmp_path


def test_ground_command_on_a_phantom_layout(tiny_dir, tmp_path):
    import json

    from helpers import events, run

    root = _phantom_root(tmp_path / "set")
    p = run("ground", "--model", tiny_dir, "--phantom", root, "--output", tmp_path / "g.json", "--device", "cpu")
    g = json.loads((tmp_path / "g.json").read_text())
    by = {r["qid"]: r for r in g["items"]}
    assert sorted(by) == [1, 2, 3, 4]
    # every closed question answered with the image and blank; the counter-prior ones counted; lesion items scored
    assert all("correct" in by[q] and "correctBlank" in by[q] for q in (1, 2, 3))
    for q in (1, 2):
        r = by[q]
        assert math.isclose(r["lesionDelta"], r["logpControlNoised"] - r["logpLesionNoised"], abs_tol=1e-4)
    assert "lesionDelta" not in by[3] and "hallucinated" in by[3] and "hallucinated" in by[4]
    t = g["totals"]
    assert t["counter_prior_accuracy"] == t["closed_accuracy_image"]
    assert math.isclose(t["blind_gap"], t["closed_accuracy_image"] - t["closed_accuracy_blank"])
    assert events(p.stdout)[-1]["event"] == "done"
    bad = run("ground", "--model", tiny_dir, "--phantom", tmp_path, "--output", tmp_path / "x.json", check=False)
    assert bad.returncode == 2 and "no phantom.json" in bad.stderr


def test_tiny_tokenizer_reads_every_phantom_question(tiny_dir):
    # the wordings of core/phantom/text.ts (PRESENCE, the normal question, the open ones) and its answers' words
    from transformers import AutoProcessor

    tok = AutoProcessor.from_pretrained(tiny_dir).tokenizer
    closed = ["Is there a pleural effusion?", "Is there fluid in the pleural space?", "Is the heart enlarged?",
              "Is there cardiomegaly?", "Is there a pneumothorax?", "Is there air in the pleural space?",
              "Is there a lung nodule?", "Is a pulmonary nodule present?", "Is there a lung mass?",
              "Is a mass present in the lungs?", "Is there consolidation?", "Is there an airspace opacity?",
              "Is this a normal chest x-ray?", "Is this chest radiograph normal?"]
    words = ["lingula", "right middle lobe", "bilateral", "severe", "moderate", "none", "43 mm",
             "What is the main finding?", "Which side is the pleural effusion on?", "How large is the heart enlargement?"]
    seqs = [tuple(tok(q)["input_ids"]) for q in closed]
    assert len(set(seqs)) == len(closed)
    for q in closed + words:
        assert tok.unk_token_id not in tok(q)["input_ids"], q
