"""Collators: records → the model inputs of one micro-batch, for `sft` and weighted `dpo`.

A batch is rows of token ids (right-padded) with the vision inputs of each row's image, and for every
response token its (row, position predicting it, id, sequence index). DPO sequences 0..n−1 are the chosen
answers on x, n..2n−1 the rejected answers on x* (the noised image of a D_v pair, x itself for a D_t pair).

Layouts. Concatenated (TRL's): one row per sequence, prompt + answer. Shared prompt (families whose LM is a
plain causal decoder with 1-D positions, `Family.shared_prompt`): a D_t pair — both answers on the same image —
is one row [prompt, chosen, rejected]; the rejected branch attends to the prompt and itself only and both
continue the prompt's positions, so the pair's prompt (hundreds of image tokens) is encoded once, by the
vision tower and the LM. Both layouts give the same log-probs (tests/test_loss.py)."""
from __future__ import annotations

import torch

from .data import DataError
from .modeling import Loaded, completion_ids, load_image, prompt_text

# Processor outputs aligned with input_ids (padded with 0, 0 on answer tokens); everything else that is not
# input_ids / attention_mask is a vision input (pixel values, grids, sizes) collated per row.
TOKEN_KEYS = ("token_type_ids", "mm_token_type_ids")


class Encoder:
    """Tokenizes prompts (with their image, through the processor) and answers; caches both when the set is
    small enough (`cache`), so a second epoch does not decode and resize its images again."""

    def __init__(self, ld: Loaded, max_length: int, cache: bool):
        self.ld, self.max_length = ld, max_length
        self._prompts: dict | None = {} if cache else None
        self._answers: dict = {}

    def prompt(self, prompt: str, image: str) -> dict:
        key = (prompt, image)
        if self._prompts is not None and key in self._prompts:
            return self._prompts[key]
        enc = self.ld.processor(text=[prompt_text(self.ld, prompt)], images=[[load_image(image)]], return_tensors="pt",
                                add_special_tokens=False)
        ids = enc["input_ids"][0].tolist()
        if len(ids) >= self.max_length:
            raise DataError(f"prompt of {len(ids)} tokens (image included) does not fit max length {self.max_length}")
        out = {"ids": ids, "token": {k: enc[k][0].tolist() for k in TOKEN_KEYS if k in enc},
               "vision": {k: v for k, v in enc.items() if k not in TOKEN_KEYS and k not in ("input_ids", "attention_mask")}}
        if self._prompts is not None:
            self._prompts[key] = out
        return out

    def answer(self, prompt: str, response: str) -> list[int]:
        key = (prompt, response)
        if key not in self._answers:
            self._answers[key] = completion_ids(self.ld, prompt, response)
        return self._answers[key]


def collate_vision(per_row: list[dict]) -> dict:
    """Each key's tensors joined along dim 0 in row order, smaller ones zero-padded on the other dims (the
    processors' own batch padding: extra LLaVA-NeXT patches / Idefics3 crops are ignored by the model)."""
    out = {}
    for k in per_row[0]:
        ts = [r[k] for r in per_row]
        if all(t.shape[1:] == ts[0].shape[1:] for t in ts):
            out[k] = torch.cat(ts)
            continue
        shape = [max(t.shape[d] for t in ts) for d in range(1, ts[0].dim())]
        padded = []
        for t in ts:
            p = t.new_zeros([t.shape[0], *shape])
            p[(slice(None), *(slice(0, s) for s in t.shape[1:]))] = t
            padded.append(p)
        out[k] = torch.cat(padded)
    return out


def build_batch(ld: Loaded, rows: list[dict], n_seq: int, max_length: int) -> dict:
    """rows: {prompt: Encoder.prompt(...), answers: [ids, …] (1 or 2), seqs: [sequence index per answer]}.
    Answers are truncated so that prompt + answer ≤ max_length (never the prompt: its image tokens stay whole)."""
    built, targets = [], []
    for r, row in enumerate(rows):
        p = row["prompt"]["ids"]
        ids, seg, posn = list(p), [0] * len(p), list(range(len(p)))
        for b, ans in enumerate(row["answers"]):
            ans = ans[: max_length - len(p)]
            start = len(ids)
            ids += ans
            seg += [b + 1] * len(ans)
            posn += list(range(len(p), len(p) + len(ans)))
            # an answer token is predicted from the position before it: the last prompt token, then its own branch
            pred = [len(p) - 1] + list(range(start, start + len(ans) - 1))
            targets.append((r, pred, ans, row["seqs"][b]))
        built.append((ids, seg, posn, row["prompt"]["token"]))
    R, L = len(built), max(len(b[0]) for b in built)
    pad = ld.tokenizer.pad_token_id
    input_ids = torch.full((R, L), pad, dtype=torch.long)
    segments = torch.full((R, L), -1, dtype=torch.long)
    position_ids = torch.zeros((R, L), dtype=torch.long)
    token = {k: torch.zeros((R, L), dtype=torch.long) for k in built[0][3]}
    for i, (ids, seg, posn, tk) in enumerate(built):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        segments[i, : len(ids)] = torch.tensor(seg)
        position_ids[i, : len(ids)] = torch.tensor(posn)
        for k, v in tk.items():
            token[k][i, : len(v)] = torch.tensor(v)
    T = lambda x: torch.tensor(x, dtype=torch.long)  # noqa: E731
    batch = {"input_ids": input_ids, "attention_mask": (segments >= 0).long(), **token,
             **collate_vision([row["prompt"]["vision"] for row in rows]), "segments": segments,
             "tgt_rows": T([r for r, pred, ans, s in targets for _ in ans]),
             "tgt_pos": T([q for r, pred, ans, s in targets for q in pred]),
             "tgt_ids": T([t for r, pred, ans, s in targets for t in ans]),
             "tgt_seq": T([s for r, pred, ans, s in targets for _ in ans]),
             "n_seq": n_seq, "tokens": T(int((segments >= 0).sum()))}
    if any(len(row["answers"]) > 1 for row in rows):
        batch["position_ids"] = position_ids
    return batch


class SFTCollator:
    """Records {id, image, prompt, response} → a batch of one sequence per record."""

    def __init__(self, ld: Loaded, max_length: int, cache: bool):
        self.ld, self.max_length, self.enc = ld, max_length, Encoder(ld, max_length, cache)

    def __call__(self, items: list[tuple[int, dict]]) -> dict:
        rows = []
        for i, (_, r) in enumerate(items):
            try:
                rows.append({"prompt": self.enc.prompt(r["prompt"], r["image"]),
                             "answers": [self.enc.answer(r["prompt"], r["response"])], "seqs": [i]})
            except DataError as e:
                raise DataError(f"record {r['id']}: {e}") from None
        return build_batch(self.ld, rows, len(items), self.max_length)


class PreferenceCollator:
    """Records {id, image, rejected_image, prompt, chosen, rejected, weight} → a DPO batch carrying the rejected
    image x* and the per-pair weight s′ (`weights` [n]) and the pairs' dataset indices (`pair_index` [n], for
    the reference log-prob cache)."""

    def __init__(self, ld: Loaded, max_length: int, cache: bool, share_prompt: bool):
        self.ld, self.max_length, self.enc = ld, max_length, Encoder(ld, max_length, cache)
        self.share_prompt = share_prompt and ld.family.shared_prompt

    def __call__(self, items: list[tuple[int, dict]]) -> dict:
        n = len(items)
        rows = []
        for i, (_, r) in enumerate(items):
            try:
                p = self.enc.prompt(r["prompt"], r["image"])
                c, rj = self.enc.answer(r["prompt"], r["chosen"]), self.enc.answer(r["prompt"], r["rejected"])
                if r["rejected_image"] == r["image"]:
                    if self.share_prompt:
                        rows.append({"prompt": p, "answers": [c, rj], "seqs": [i, n + i]})
                        continue
                    p_rej = p
                else:
                    p_rej = self.enc.prompt(r["prompt"], r["rejected_image"])
            except DataError as e:
                raise DataError(f"record {r['id']}: {e}") from None
            rows.append({"prompt": p, "answers": [c], "seqs": [i]})
            rows.append({"prompt": p_rej, "answers": [rj], "seqs": [n + i]})
        batch = build_batch(self.ld, rows, 2 * n, self.max_length)
        batch["weights"] = torch.tensor([r["weight"] for _, r in items], dtype=torch.float32)
        batch["pair_index"] = torch.tensor([k for k, _ in items], dtype=torch.long)
        return batch
