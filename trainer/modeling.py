"""Loading an HF image-text-to-text model (+ LoRA), writing prompts with the processor's chat template, and
summed response log-probs. Everything is local: nothing is downloaded.

A model directory is anything `AutoModelForImageTextToText` / `AutoProcessor` load whose `model_type` is one
of `families.FAMILIES`. Prompts are the conversation the model was trained with: the processor's own chat
template (or `--chat-template NAME|FILE`), rendered with `add_generation_prompt`, image placeholders
expanded by the processor (never by counting tokens here)."""
from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .families import CHAT_TEMPLATES, Family, UnsupportedModel, family_of

log = logging.getLogger("trainer")

DTYPES = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp32": torch.float32, "float32": torch.float32,
          "fp16": torch.float16}


@dataclass
class Loaded:
    model: torch.nn.Module
    processor: object
    family: Family
    chat_template: str
    device: torch.device
    dtype: torch.dtype
    # prepend the tokenizer's BOS to a rendered prompt that lacks it (see `render`)
    add_bos: bool

    @property
    def tokenizer(self):
        return self.processor.tokenizer


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be auto, bf16 or fp32, got {dtype!r}")
    return DTYPES[dtype]


def model_family(path: str) -> Family:
    """The family of the model directory `path` (its config.json `model_type`). Raises UnsupportedModel
    with one line naming the type and the supported ones; FileNotFoundError when there is no config.json."""
    cfg = os.path.join(path, "config.json")
    if not os.path.isfile(cfg):
        raise FileNotFoundError(f"model directory {path}: no config.json")
    with open(cfg) as f:
        model_type = json.load(f).get("model_type", "?")
    try:
        return family_of(model_type)
    except UnsupportedModel as e:
        if model_type.startswith("llava_") and model_type not in ("llava_next",):
            raise UnsupportedModel(f"{e} (checkpoints of the original LLaVA repository must be converted to the HF "
                                   "format first, e.g. with transformers' convert_llava_weights_to_hf)") from None
        raise


def chat_template_of(processor, override: str | None) -> str:
    """`override`: a name in families.CHAT_TEMPLATES or a Jinja file; else the processor's own template."""
    if override:
        if override in CHAT_TEMPLATES:
            return CHAT_TEMPLATES[override]
        if os.path.isfile(override):
            with open(override, encoding="utf8") as f:
                return f.read()
        raise ValueError(f"chat template {override!r}: not a file and not one of {', '.join(CHAT_TEMPLATES)}")
    tpl = getattr(processor, "chat_template", None)
    if not tpl:
        raise ValueError("the model's processor has no chat template: pass one with --chat-template NAME|FILE "
                         f"(built in: {', '.join(CHAT_TEMPLATES)})")
    return tpl


def lora_config(family: Family, r: int, alpha: float, dropout: float):
    """LoRA on every linear layer of the language model's decoder blocks (attention q/k/v/o and the MLP), never
    on the vision encoder, projector or LM head (the paper's setting, LLaVA's LoRA recipe)."""
    from peft import LoraConfig

    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=family.lora_target_regex, bias="none")


def load_model(path: str, device: str = "auto", dtype: str = "auto", adapters: list[str] | None = None,
               lora: dict | None = None, chat_template: str | None = None, place: bool = True) -> Loaded:
    """Load the base model at `path`; merge each adapter of `adapters` in order (e.g. the SFT adapter, so the
    reference policy of a later DPO run is the SFT model); then add a fresh trainable LoRA if `lora`
    ({r, alpha, dropout}). `place`: move the model to the device (the Trainer places it itself)."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    if not os.path.isdir(path):
        raise FileNotFoundError(f"model directory not found: {path}")
    family = model_family(path)
    dev = pick_device(device)
    dt = pick_dtype(dtype, dev)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = AutoModelForImageTextToText.from_pretrained(path, dtype=dt)
        processor = AutoProcessor.from_pretrained(path)
    if adapters:
        from peft import PeftModel
        for a in adapters:
            model = PeftModel.from_pretrained(model, a).merge_and_unload()
    if lora:
        from peft import get_peft_model

        model = get_peft_model(model, lora_config(family, lora["r"], lora["alpha"], lora["dropout"]))
    if place:
        model.to(dev)
    tok = processor.tokenizer
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    # A tokenizer that writes BOS itself (LLaMA's) under a template that does not (llava-hf's): the model was
    # trained with BOS first, so a rendered prompt gets it (templates that write it are left alone).
    add_bos = tok.bos_token is not None and tok("a", add_special_tokens=True)["input_ids"][:1] == [tok.bos_token_id]
    return Loaded(model=model, processor=processor, family=family,
                  chat_template=chat_template_of(processor, chat_template), device=dev, dtype=dt, add_bos=add_bos)


def load_image(src: str | bytes):
    """The one image loader of the trainer (training, generate, serve): a file path or the file's bytes → an RGB
    PIL image, by the project's one decode rule (`image_io`, mmedpo-canonical-v1, the same as
    lib/canonical-image.ts). Raises DataError naming the file when it does not decode."""
    from .data import DataError
    from .image_io import BadImage, load_image as load_canonical_rgb

    try:
        return load_canonical_rgb(src)
    except BadImage as e:
        what = "image bytes" if isinstance(src, (bytes, bytearray)) else f"image {src}"
        raise DataError(f"{what} does not decode ({e})") from None


def check_image(path: str) -> None:
    """Cheap validation of an image file before training (header and structure, PIL's verify; the pixels are
    decoded by `load_image` when a batch needs them). Raises DataError naming the file."""
    from PIL import Image

    from .data import DataError

    try:
        with Image.open(path) as im:
            im.verify()
    except Exception as e:  # PIL raises many types for a broken file
        raise DataError(f"image {path} does not decode ({type(e).__name__}: {e})") from None


def user_message(prompt: str) -> list[dict]:
    """One user turn: the image, then the question (the authors' data writes <image> in the text; it is
    dropped, the processor places the image)."""
    return [{"role": "user", "content": [{"type": "image"},
                                         {"type": "text", "text": prompt.replace("<image>", "").strip()}]}]


def render(ld: Loaded, messages: list[dict], add_generation_prompt: bool) -> str:
    text = ld.processor.apply_chat_template(messages, chat_template=ld.chat_template, tokenize=False,
                                            add_generation_prompt=add_generation_prompt)
    if ld.add_bos and not text.startswith(ld.tokenizer.bos_token):
        text = ld.tokenizer.bos_token + text
    return text


def prompt_text(ld: Loaded, prompt: str) -> str:
    return render(ld, user_message(prompt), add_generation_prompt=True)


def completion_ids(ld: Loaded, prompt: str, response: str) -> list[int]:
    """The tokens of `response` as the template writes them after the prompt (end-of-turn included): the
    tokens of render(prompt + answer) after their common prefix with render(prompt) — TRL's rule, so a
    tokenizer that merges across the boundary still gives the ids of the whole conversation."""
    tok = ld.tokenizer
    msgs = user_message(prompt)
    p = tok(render(ld, msgs, True), add_special_tokens=False)["input_ids"]
    full = tok(render(ld, msgs + [{"role": "assistant", "content": [{"type": "text", "text": response.strip()}]}],
                      False), add_special_tokens=False)["input_ids"]
    k = 0
    while k < min(len(p), len(full)) and p[k] == full[k]:
        k += 1
    if k < len(p):
        log.warning("the chat template renders the prompt differently alone and before an answer; "
                    "the answer starts where they diverge")
    out = full[k:]
    if not out:
        raise ValueError("empty completion after the chat template")
    return out


def weighted_dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, weights, beta: float):
    """MMedPO Eq. 3 per pair: −s′·log σ(β·((log π(y_w|x) − log π_ref(y_w|x)) − (log π(y_l|x*) − log π_ref(y_l|x*)))).

    All inputs [n] (log-probs summed over response tokens, nats; weights s′ ≥ 0). Returns (losses [n],
    chosen rewards β·(π_w − ref_w) [n], rejected rewards β·(π_l − ref_l) [n]); the rewards are detached. With
    s′ = 1 this is TRL's `sigmoid` DPO loss (Rafailov et al. 2023, Eq. 7)."""
    chosen_r = policy_chosen - ref_chosen
    rejected_r = policy_rejected - ref_rejected
    losses = -F.logsigmoid(beta * (chosen_r - rejected_r)) * weights
    return losses, beta * chosen_r.detach(), beta * rejected_r.detach()


def branch_attention_mask(segments: torch.Tensor, impl: str, dtype: torch.dtype) -> torch.Tensor:
    """[R, 1, L, L] for shared-prompt rows: causal, padding excluded, and a response branch sees the prompt and
    itself only (segments: 0 prompt, b+1 branch b, −1 pad). Boolean for sdpa; additive for eager."""
    L = segments.shape[1]
    idx = torch.arange(L, device=segments.device)
    causal = idx[None, :] <= idx[:, None]
    sq, sk = segments[:, :, None], segments[:, None, :]
    allowed = causal[None] & (sk >= 0) & (sq >= 0) & ((sk == 0) | (sk == sq))
    allowed |= torch.eye(L, dtype=torch.bool, device=segments.device)[None] & (sq < 0)  # pads see themselves
    allowed = allowed[:, None]
    if impl == "eager":
        return torch.zeros(allowed.shape, dtype=dtype, device=segments.device).masked_fill(~allowed, torch.finfo(dtype).min)
    return allowed


# Keys of a collated batch that are not model inputs.
NON_MODEL_KEYS = ("segments", "tgt_rows", "tgt_pos", "tgt_ids", "tgt_seq", "n_seq", "weights", "pair_index",
                  "ref_logps", "tokens")


def _unwrapped(model):
    """The HF model inside DDP / DeepSpeed (`.module`) and PEFT wrappers."""
    while hasattr(model, "module"):
        model = model.module
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def mrope_positions(model, batch: dict) -> torch.Tensor:
    """[3, R, L] multimodal RoPE positions (Qwen2-VL, Qwen2.5-VL) of shared-prompt rows: the model's own
    get_rope_index over each row as one sequence, then the second branch moved back by the first branch's
    length — after the image every token advances all three axes by one, so the rejected answer then
    continues the prompt's positions exactly as in a row of its own."""
    seg = batch["segments"]
    kw = {k: batch[k] for k in ("image_grid_thw", "mm_token_type_ids") if k in batch}
    pos, _ = _unwrapped(model).model.get_rope_index(batch["input_ids"], attention_mask=(seg >= 0).long(), **kw)
    first = (seg == 1).sum(1)
    return pos - torch.where(seg == 2, first[:, None], torch.zeros_like(seg))[None].to(pos.dtype)


def sequence_logps(model, batch: dict, attn_impl: str = "sdpa", dtype: torch.dtype = torch.float32,
                   mrope: bool = False):
    """Per-sequence sum of log π(response token | prefix) [S] and response token counts [S] for a collated batch
    (`batching.py`). One forward through `model` (DDP/FSDP/DeepSpeed-wrapped or not), the LM head on the
    positions from the first predicting position on only (`logits_to_keep`). Rows with two response branches
    (shared prompt) get the branch mask and explicit positions (`mrope`: the model's 3-D ones); other rows the
    model's own causal mask and positions."""
    inputs = {k: v for k, v in batch.items() if k not in NON_MODEL_KEYS}
    seg = batch["segments"]
    L = seg.shape[1]
    if int(seg.max()) > 1:  # some row carries two branches
        inputs["attention_mask"] = branch_attention_mask(seg, attn_impl, dtype)
        if mrope:
            inputs["position_ids"] = mrope_positions(model, batch)
    rows, pos, tgt, seqs = batch["tgt_rows"], batch["tgt_pos"], batch["tgt_ids"], batch["tgt_seq"]
    first = int(pos.min())
    keep = L - first
    out = model(**inputs, use_cache=False, logits_to_keep=keep)
    logits = out.logits[rows, pos - first].float()  # [T, V]
    lp = logits.gather(1, tgt[:, None]).squeeze(1) - torch.logsumexp(logits, dim=-1)
    n_seq = int(batch["n_seq"])
    sums = torch.zeros(n_seq, dtype=lp.dtype, device=lp.device).index_add(0, seqs, lp)
    counts = torch.zeros(n_seq, dtype=lp.dtype, device=lp.device).index_add(0, seqs, torch.ones_like(lp))
    return sums, counts
