"""The tiny LLaVA configuration: same architecture as LLaVA-1.5 (CLIP vision tower, 2-layer MLP
projector, Llama language model), a few hundred thousand parameters, and a word-level tokenizer
built from a small built-in radiology corpus. Deterministic: same seed → same files."""
from __future__ import annotations

import json
import os
import re
from collections import Counter

import torch

SPECIALS = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]

# Small built-in radiology corpus (our own sentences): report phrases, VQA questions and answers.
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
"""

_WORD = re.compile(r"\w+|[^\w\s]")


def build_tokenizer(corpus: str, min_count: int = 1):
    """A word-level tokenizer (lowercased words and punctuation) trained on `corpus`."""
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    counts = Counter(_WORD.findall(corpus.lower()))
    words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for w in words:
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace()])
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)  # joins with spaces, tidies punctuation
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>",
        extra_special_tokens={"image_token": "<image>"},
    )
    fast.add_special_tokens({"additional_special_tokens": ["<image>"]})
    return fast


def tiny_config(vocab_size: int, image_token_id: int, pad_token_id: int, image_size: int = 32, patch: int = 8,
                hidden: int = 64, layers: int = 2, heads: int = 4, vision_hidden: int = 32):
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig

    vision = CLIPVisionConfig(hidden_size=vision_hidden, intermediate_size=vision_hidden * 2, num_hidden_layers=2,
                              num_attention_heads=2, image_size=image_size, patch_size=patch, projection_dim=vision_hidden)
    text = LlamaConfig(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
                       num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=2048,
                       bos_token_id=1, eos_token_id=2, pad_token_id=pad_token_id, tie_word_embeddings=False)
    return LlavaConfig(vision_config=vision, text_config=text, image_token_index=image_token_id,
                       image_seq_length=(image_size // patch) ** 2, vision_feature_select_strategy="default",
                       vision_feature_layer=-2, pad_token_id=pad_token_id)


def init_tiny(out: str, corpus_file: str | None = None, image_size: int = 32, seed: int = 0, hidden: int = 64,
              layers: int = 2, patch: int = 8) -> str:
    from transformers import CLIPImageProcessor, LlavaForConditionalGeneration

    corpus = BUILTIN_CORPUS
    if corpus_file:
        with open(corpus_file, encoding="utf8") as f:
            corpus += "\n" + f.read()
    tok = build_tokenizer(corpus)
    cfg = tiny_config(len(tok), tok.convert_tokens_to_ids("<image>"), tok.pad_token_id, image_size=image_size,
                      patch=patch, hidden=hidden, layers=layers, heads=max(2, hidden // 16))
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(cfg)
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ip = CLIPImageProcessor(size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size})
    ip.save_pretrained(out)
    from transformers import LlavaProcessor

    LlavaProcessor(image_processor=ip, tokenizer=tok, patch_size=patch, vision_feature_select_strategy="default",
                   num_additional_image_tokens=1).save_pretrained(out)  # AutoProcessor.from_pretrained(out) works
    with open(os.path.join(out, "mmedpo_model.json"), "w") as f:
        json.dump({"kind": "tiny-llava", "seed": seed, "imageSize": image_size, "hidden": hidden, "layers": layers,
                   "template": "vicuna_v1"}, f, indent=1, sort_keys=True)
    return out
