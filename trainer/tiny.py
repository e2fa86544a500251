"""`init-tiny`: a CPU-sized, randomly initialised model of a supported family (default `llava`: the
LLaVA-1.5 architecture — CLIP vision tower, 2-layer MLP projector, Llama language model), built from that
family's own `transformers` config classes (`families.py`), a few hundred thousand parameters, with a
word-level tokenizer trained offline on a small built-in radiology corpus, the family's processor and its chat
template. Nothing is downloaded. Deterministic: same family and seed → same bytes."""
from __future__ import annotations

import json
import os
import re
from collections import Counter

import torch

# Small built-in radiology corpus (our own sentences): report phrases, VQA questions and answers. It covers every
# word the phantom set writes (questions, answers, reports, sizes in mm): a word-level tokenizer maps unseen words
# to <unk>, which made "Is there fluid in the pleural space?" and "Is there air in the pleural space?" (effusion vs
# pneumothorax) the same token sequence and every lingula / middle-lobe answer unreadable.
BUILTIN_CORPUS = """
The heart size is normal. The lungs are clear. No pleural effusion or pneumothorax.
There is no focal consolidation. The cardiomediastinal silhouette is within normal limits.
Mild cardiomegaly. Small left pleural effusion. Right lower lobe opacity concerning for pneumonia.
No acute cardiopulmonary abnormality. Degenerative changes of the thoracic spine.
Is there a fracture? Is there a mass in the left lung? Is the liver enlarged? yes no
Where is the lesion located? In the right upper lobe. In the left kidney. In the brain.
What organ is shown in this image? The chest. The abdomen. The head. The liver. The kidney.
What imaging modality was used? CT. MRI. X-ray. Ultrasound. Is this an axial plane? Coronal plane.
Is there evidence of pneumoperitoneum? Is the trachea midline? Are the bowel loops dilated?
There is a hypodense lesion in the liver. There is a ring enhancing lesion in the right frontal lobe.
Bilateral interstitial opacities. Atelectasis at the lung bases. Endotracheal tube in good position.
Enlarged cardiac silhouette with pulmonary edema. Hyperinflated lungs consistent with emphysema.
What abnormality is seen? Pleural effusion. Pneumothorax. Consolidation. Nodule. Mass. Edema.
How many lesions are present? One. Two. Multiple. Is the abnormality on the left or right? Left. Right.
A chat between a curious human and an artificial intelligence assistant. The assistant gives
helpful, detailed, and polite answers to the human's questions. USER: ASSISTANT: [INST] [/INST]
Describe the image. Write the findings of this radiology report. Findings: Impression:
system user assistant model You are a helpful assistant. User: Assistant: [INST] [/INST]
Is there fluid in the pleural space? Is there air in the pleural space? Is there an airspace opacity?
Is this chest radiograph normal? Which side is the pleural effusion on? Left, right or both: bilateral effusions.
The main finding is none. Lobulated masses and rounded nodular nodules; it projects over the lingula and the right
middle lobe, measuring 12 mm. Moderate, severe, large; mildly, moderately, severely enlarged. Blunting of the
costophrenic angle and angles. Cardiothoracic ratio (0.56). Left-sided pneumothorax with a visible pleural line. Patchy
airspace consolidation. No suspicious finding. The osseous structures are unremarkable. Bony thorax is intact.
No acute cardiopulmonary process. Normal chest radiograph without heart enlargement.
0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40
41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78
79 80 81 82 83 84 85 86 87 88 89 90 91 92 93 94 95 96 97 98 99
"""

_WORD = re.compile(r"\w+|[^\w\s]")


_WORD = re.compile(r"\w+|[^\w\s]")


def build_tokenizer(corpus: str, specials: list[str], named: dict[str, str], bos: str, eos: str, pad: str,
                    min_count: int = 1):
    """A word-level tokenizer (lowercased words and punctuation) trained on `corpus` with the `tokenizers`
    library; `specials` (a family's image/turn markers) are special tokens, `named` gives the processor-facing
    attributes (`tokenizer.image_token` …). Ids: <unk> 0, then bos/eos/pad, then specials, then words."""
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    counts = Counter(_WORD.findall(corpus.lower()))
    words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    vocab: dict[str, int] = {}
    for t in ["<unk>", bos, eos, pad, *specials, *words]:
        vocab.setdefault(t, len(vocab))
    tok = Tokenizer(WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)  # joins with spaces, tidies punctuation
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token=bos, eos_token=eos,
                                   pad_token=pad, extra_special_tokens=named)
    extra = [t for t in specials if t not in (bos, eos, pad)]
    fast.add_special_tokens({"additional_special_tokens": extra})
    return fast


def init_tiny(out: str, family: str = "llava", corpus_file: str | None = None, seed: int = 0,
              image_size: int | None = None, hidden: int = 64, layers: int = 2) -> str:
    """Write the tiny model of `family` to `out` (config, safetensors weights, tokenizer, processor with its
    chat template, generation config). Raises UnsupportedModel for an unknown family."""
    import inspect
    import warnings

    from transformers import AutoModelForImageTextToText, GenerationConfig

    from .families import family_of

    fam = family_of(family)
    corpus = BUILTIN_CORPUS
    if corpus_file:
        with open(corpus_file, encoding="utf8") as f:
            corpus += "\n" + f.read()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if image_size is None:  # the family's own input size
            image_size = inspect.signature(fam.tiny).parameters["image_size"].default
        cfg, proc, eos_ids = fam.tiny(corpus, image_size=image_size, hidden=hidden, layers=layers)
        torch.manual_seed(seed)
        model = AutoModelForImageTextToText.from_config(cfg)
        tok = proc.tokenizer
        model.generation_config = GenerationConfig(bos_token_id=tok.bos_token_id, pad_token_id=tok.pad_token_id,
                                                   eos_token_id=eos_ids if len(eos_ids) > 1 else eos_ids[0])
        os.makedirs(out, exist_ok=True)
        model.save_pretrained(out)
        proc.save_pretrained(out)
    with open(os.path.join(out, "mmedpo_model.json"), "w") as f:
        json.dump({"kind": f"tiny-{family}", "family": family, "seed": seed, "imageSize": image_size, "hidden": hidden,
                   "layers": layers, "params": sum(p.numel() for p in model.parameters())}, f, indent=1, sort_keys=True)
    return out
