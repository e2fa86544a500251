"""Loading a LLaVA-family model (+ LoRA), turning (image, prompt, response) into tensors, and
summed response log-probs. Everything is local: nothing is downloaded."""
from __future__ import annotations

import contextlib
import json
import logging
import os
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F

log = logging.getLogger("trainer")

TEMPLATES = {
    # LLaVA conversation templates (prompt part; the response follows, then EOS).
    "vicuna_v1": ("A chat between a curious human and an artificial intelligence assistant. The assistant gives "
                  "helpful, detailed, and polite answers to the human's questions. USER: <image>\n{prompt} ASSISTANT:"),
    "mistral_instruct": "[INST] <image>\n{prompt} [/INST]",
    "plain": "<image>\n{prompt}",
}


@dataclass
class Loaded:
    model: torch.nn.Module
    tokenizer: object
    image_processor: object
    image_tokens: int
    image_token_id: int
    template: str
    device: torch.device
    dtype: torch.dtype


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def num_image_tokens(cfg) -> int:
    v = cfg.vision_config
    n = (v.image_size // v.patch_size) ** 2
    return n + (1 if cfg.vision_feature_select_strategy == "full" else 0)


def language_linear_names(model) -> list[str]:
    """Every nn.Linear of the language model (not projector, vision tower or lm_head)."""
    names = []
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and ".language_model." in f".{name}." and "lm_head" not in name:
            names.append(name)
    return names


def load_model(path: str, device: str = "auto", dtype: str = "auto", adapters: list[str] | None = None,
               lora: dict | None = None, template: str | None = None) -> Loaded:
    """Load base model from `path`; merge each adapter in `adapters` in order (e.g. the SFT adapter, so the
    reference policy of a later DPO run is the SFT model); then add a fresh trainable LoRA if `lora`."""
    from transformers import AutoImageProcessor, AutoTokenizer, LlavaForConditionalGeneration

    if not os.path.isdir(path):
        raise SystemExit(f"model directory not found: {path}")
    dev = pick_device(device)
    if dtype == "auto":
        dt = torch.bfloat16 if dev.type == "cuda" else torch.float32
    else:
        dt = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp32": torch.float32, "float32": torch.float32,
              "fp16": torch.float16}[dtype]
    model = LlavaForConditionalGeneration.from_pretrained(path, dtype=dt)
    tok = AutoTokenizer.from_pretrained(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ip = AutoImageProcessor.from_pretrained(path)
    meta = {}
    if os.path.exists(os.path.join(path, "mmedpo_model.json")):
        meta = json.load(open(os.path.join(path, "mmedpo_model.json")))
    image_token_id = model.config.image_token_index
    if adapters:
        from peft import PeftModel
        for a in adapters:
            model = PeftModel.from_pretrained(model, a).merge_and_unload()
    if lora:
        from peft import LoraConfig, get_peft_model
        targets = language_linear_names(model)
        cfg = LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"], target_modules=targets,
                         bias="none")
        model = get_peft_model(model, cfg)
    model.to(dev)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return Loaded(model=model, tokenizer=tok, image_processor=ip, image_tokens=num_image_tokens(model.config),
                  image_token_id=image_token_id, template=template or meta.get("template", "vicuna_v1"), device=dev,
                  dtype=dt)


def load_image(path: str):
    from .image_io import load_image as load_canonical_rgb  # the one decode rule (lib/canonical-image.ts)

    return load_canonical_rgb(path)


def pixel_values(ld: Loaded, images) -> torch.Tensor:
    out = ld.image_processor(images, return_tensors="pt")["pixel_values"]
    return out.to(ld.device, ld.dtype)


def prompt_ids(ld: Loaded, prompt: str) -> list[int]:
    """BOS + templated prompt with the <image> placeholder expanded to the vision token count."""
    text = TEMPLATES[ld.template].format(prompt=prompt.replace("<image>", "").strip())
    ids = ld.tokenizer(text, add_special_tokens=False)["input_ids"]
    out: list[int] = [] if ld.tokenizer.bos_token_id is None else [ld.tokenizer.bos_token_id]
    for i in ids:
        out.extend([ld.image_token_id] * ld.image_tokens if i == ld.image_token_id else [i])
    if ld.image_token_id not in out:
        raise ValueError("template lost the <image> token")
    return out


def response_ids(ld: Loaded, response: str, prompt: str | None = None) -> list[int]:
    """Response tokens + EOS. With the prompt, the response is tokenized in context (the suffix of
    tokenize(prompt + response)), so SentencePiece tokenizers give the same ids as a whole conversation."""
    tok = ld.tokenizer
    if prompt is not None:
        text = TEMPLATES[ld.template].format(prompt=prompt.replace("<image>", "").strip())
        p = tok(text, add_special_tokens=False)["input_ids"]
        full = tok(text + " " + response.strip(), add_special_tokens=False)["input_ids"]
        if full[: len(p)] == p and len(full) > len(p):
            return full[len(p):] + [tok.eos_token_id]
    ids = tok(" " + response.strip(), add_special_tokens=False)["input_ids"]
    return ids + [tok.eos_token_id]


def pack(ld: Loaded, prompts: list[list[int]], responses: list[list[int]], max_length: int):
    """Right-padded input_ids, attention_mask and completion_mask (1 on response tokens). The response
    is truncated (never the prompt, whose image tokens must stay whole) to fit max_length."""
    rows, comp = [], []
    for p, r in zip(prompts, responses):
        if len(p) >= max_length:
            raise ValueError(f"prompt of {len(p)} tokens does not fit max_length {max_length}")
        r = r[: max_length - len(p)]
        rows.append(p + r)
        comp.append([0] * len(p) + [1] * len(r))
    L = max(len(x) for x in rows)
    pad = ld.tokenizer.pad_token_id
    ids = torch.full((len(rows), L), pad, dtype=torch.long)
    am = torch.zeros((len(rows), L), dtype=torch.long)
    cm = torch.zeros((len(rows), L), dtype=torch.long)
    for i, (x, c) in enumerate(zip(rows, comp)):
        ids[i, : len(x)] = torch.tensor(x)
        am[i, : len(x)] = 1
        cm[i, : len(x)] = torch.tensor(c)
    return ids.to(ld.device), am.to(ld.device), cm.to(ld.device)


def sequence_logps(model, input_ids, attention_mask, completion_mask, pixel_values):
    """Per-sequence sum of log π(response token | prefix), and the number of response tokens.
    Only the positions that predict response tokens go through the LM head (logits_to_keep)."""
    L = input_ids.shape[1]
    first = int(completion_mask.float().argmax(dim=1).min().item())  # earliest response position
    keep = L - max(first - 1, 0)
    out = model(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixel_values, use_cache=False,
                logits_to_keep=keep)
    logits = out.logits[:, :-1].float()  # position t predicts t+1
    targets = input_ids[:, L - keep + 1:]
    mask = completion_mask[:, L - keep + 1:].to(logits.dtype)
    lp = torch.gather(logits.log_softmax(-1), 2, targets.unsqueeze(-1)).squeeze(-1)
    return (lp * mask).sum(-1), mask.sum(-1)


def weighted_dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, weights, beta: float):
    """MMedPO Eq. 3: −s′·log σ(β·((π_w − ref_w) − (π_l − ref_l))), per pair (mean taken by the caller)."""
    chosen_r = policy_chosen - ref_chosen
    rejected_r = policy_rejected - ref_rejected
    losses = -F.logsigmoid(beta * (chosen_r - rejected_r)) * weights
    return losses, beta * chosen_r.detach(), beta * rejected_r.detach()


# ---- Packed forward: shared prompts, one vision pass per unique image, LM head on response tokens only ----

@dataclass
class Packed:
    """Rows of [prompt, response₁, response₂?]: two responses to the same (prompt, image) share the prompt
    (the rejected branch does not see the chosen one; both continue the prompt's positions), so a D_t pair
    costs one prompt (hundreds of image tokens) instead of two. Sequence s has its targets at `tgt[seq == s]`,
    predicted from hidden states at (rows, pos)."""
    input_ids: torch.Tensor       # [R, L]
    segments: torch.Tensor        # [R, L] 0 prompt, b+1 response branch b, -1 pad
    position_ids: torch.Tensor    # [R, L]
    pixel_values: torch.Tensor    # [U, 3, H, W] unique images
    image_index: torch.Tensor     # [R] row → unique image
    rows: torch.Tensor            # [T]
    pos: torch.Tensor             # [T]
    tgt: torch.Tensor             # [T]
    seq: torch.Tensor             # [T]
    n_seq: int
    tokens: int                   # real (non-pad) tokens in the batch


def pack_rows(ld: Loaded, rows: list[dict], n_seq: int, pixels: torch.Tensor, max_length: int) -> Packed:
    """rows: {prompt: ids, responses: [ids, …] (1 or 2), seqs: [sequence index per response], image: unique
    image index}. Each response is truncated so prompt + response ≤ max_length (never the prompt)."""
    seqs_rows, built = [], []
    for r in rows:
        p = r["prompt"]
        if len(p) >= max_length:
            raise ValueError(f"prompt of {len(p)} tokens does not fit max_length {max_length}")
        ids, seg, posn = list(p), [0] * len(p), list(range(len(p)))
        for b, resp in enumerate(r["responses"]):
            resp = resp[: max_length - len(p)]
            start = len(ids)
            ids += resp
            seg += [b + 1] * len(resp)
            posn += list(range(len(p), len(p) + len(resp)))
            # predictors: the last prompt position, then this branch's own tokens
            pred = [len(p) - 1] + list(range(start, start + len(resp) - 1))
            seqs_rows.append((len(built), pred, resp, r["seqs"][b]))
        built.append((ids, seg, posn))
    L = max(len(b[0]) for b in built)
    R = len(built)
    pad = ld.tokenizer.pad_token_id if ld.tokenizer is not None else 0
    input_ids = torch.full((R, L), pad, dtype=torch.long)
    segments = torch.full((R, L), -1, dtype=torch.long)
    position_ids = torch.zeros((R, L), dtype=torch.long)
    for i, (ids, seg, posn) in enumerate(built):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        segments[i, : len(ids)] = torch.tensor(seg)
        position_ids[i, : len(ids)] = torch.tensor(posn)
    rows_t, pos_t, tgt_t, seq_t = [], [], [], []
    for row, pred, resp, s in seqs_rows:
        rows_t += [row] * len(resp)
        pos_t += pred
        tgt_t += resp
        seq_t += [s] * len(resp)
    dev = ld.device
    T = lambda x: torch.tensor(x, dtype=torch.long, device=dev)  # noqa: E731
    return Packed(input_ids.to(dev), segments.to(dev), position_ids.to(dev), pixels,
                  T([r["image"] for r in rows]), T(rows_t), T(pos_t), T(tgt_t), T(seq_t), n_seq,
                  int((segments >= 0).sum()))


def packed_attention_mask(segments: torch.Tensor, impl: str, dtype: torch.dtype) -> torch.Tensor:
    """[R, 1, L, L]: causal, padding excluded, and a response branch sees only the prompt and itself."""
    L = segments.shape[1]
    idx = torch.arange(L, device=segments.device)
    causal = idx[None, :] <= idx[:, None]                                     # [q, k]
    sq, sk = segments[:, :, None], segments[:, None, :]
    allowed = causal[None] & (sk >= 0) & (sq >= 0) & ((sk == 0) | (sk == sq))
    allowed |= torch.eye(L, dtype=torch.bool, device=segments.device)[None] & (sq < 0)  # pads see themselves
    allowed = allowed[:, None]
    if impl == "eager":
        return torch.zeros(allowed.shape, dtype=dtype, device=segments.device).masked_fill(~allowed, torch.finfo(dtype).min)
    return allowed


def _vision_frozen(base) -> bool:
    return not any(p.requires_grad for n, p in base.named_parameters()
                   if "vision_tower" in n or "multi_modal_projector" in n)


def image_features(model, pixel_values: torch.Tensor) -> torch.Tensor:
    """Vision tower + projector, [U, N, H]; without autograd when both are frozen (LoRA on the LM only)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    cfg = base.config
    ctx = torch.no_grad() if _vision_frozen(base) else contextlib.nullcontext()
    with ctx:
        out = base.model.get_image_features(pixel_values=pixel_values, vision_feature_layer=cfg.vision_feature_layer,
                                            vision_feature_select_strategy=cfg.vision_feature_select_strategy,
                                            return_dict=True)
    return torch.stack(list(out.pooler_output))


def row_groups(lengths: list[int], slack: float = 0.9, min_saving: float = 0.05, min_tokens: int = 256) -> list[list[int]]:
    """Rows sorted by length, cut where a row is shorter than `slack` × its group's longest: padding waste
    per group stays under 1 − slack. One group when splitting would save < min_saving of the padded tokens."""
    order = sorted(range(len(lengths)), key=lambda r: (-lengths[r], r))
    groups: list[list[int]] = [[]]
    for r in order:
        if groups[-1] and lengths[r] < slack * lengths[groups[-1][0]]:
            groups.append([])
        groups[-1].append(r)
    one = len(lengths) * max(lengths)
    split = sum(len(g) * lengths[g[0]] for g in groups)
    # a group costs one more forward: worth it only for a real saving (relative, and in tokens)
    return groups if split < (1 - min_saving) * one and one - split >= min_tokens else [sorted(order)]


def packed_logps(model, pk: Packed, feats: torch.Tensor | None = None, group_slack: float = 0.9,
                 group_min_saving: float = 0.05, group_min_tokens: int = 256):
    """Per-sequence sum of response-token log-probs, and token counts, for a Packed batch. Rows of very
    different lengths (shared-prompt D_t rows next to single D_v rows) run as separate length groups so
    little compute goes to padding."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    if feats is None:
        feats = image_features(model, pk.pixel_values)
    lm = base.model.language_model
    impl = base.config.text_config._attn_implementation or "sdpa"
    lengths = (pk.segments >= 0).sum(1).tolist()
    sums = counts = None
    for g in row_groups(lengths, group_slack, group_min_saving, group_min_tokens):
        Lg = max(lengths[r] for r in g)
        gi = torch.tensor(g, dtype=torch.long, device=pk.input_ids.device)
        ids = pk.input_ids[gi, :Lg]
        remap = torch.full((pk.input_ids.shape[0],), -1, dtype=torch.long, device=ids.device)
        remap[gi] = torch.arange(len(g), device=ids.device)
        sel = remap[pk.rows] >= 0
        emb = lm.get_input_embeddings()(ids)
        img_mask = (ids == base.config.image_token_index).unsqueeze(-1)
        emb = emb.masked_scatter(img_mask, feats[pk.image_index[gi]].to(emb.dtype))
        mask = packed_attention_mask(pk.segments[gi, :Lg], impl, emb.dtype)
        hidden = lm(inputs_embeds=emb, attention_mask=mask, position_ids=pk.position_ids[gi, :Lg],
                    use_cache=False).last_hidden_state
        h = hidden[remap[pk.rows[sel]], pk.pos[sel]]
        logits = base.lm_head(h).float()
        lp = torch.gather(logits.log_softmax(-1), 1, pk.tgt[sel][:, None]).squeeze(1)
        s_g = torch.zeros(pk.n_seq, dtype=lp.dtype, device=lp.device).index_add(0, pk.seq[sel], lp)
        c_g = torch.zeros(pk.n_seq, dtype=lp.dtype, device=lp.device).index_add(0, pk.seq[sel], torch.ones_like(lp))
        sums = s_g if sums is None else sums + s_g
        counts = c_g if counts is None else counts + c_g
    return sums, counts
