"""Reading preference sets and SFT sets.

Preference JSONL (one pair a line): {id, image, rejected_image?, prompt, chosen, rejected, weight}.
SFT JSONL: {id, image, prompt, response}. The authors' LLaVA JSON layout (a JSON array, or JSONL, of
{id, image, conversations, rejected_conversations?, rejected_image?, weighted_score?}) is accepted too.
Image paths are relative to --image-dir (or to the data file's directory)."""
from __future__ import annotations

import json
import os


class DataError(ValueError):
    pass


def _read_records(path: str) -> list[dict]:
    with open(path, encoding="utf8") as f:
        text = f.read()
    s = text.lstrip()
    if s.startswith("["):
        recs = json.loads(s)
    else:
        recs = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    recs.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise DataError(f"{path}:{n}: not JSON ({e.msg})") from None
    if not recs:
        raise DataError(f"{path}: no records")
    return recs


def _conv(turns: list[dict]) -> tuple[str, str]:
    human = next((t["value"] for t in turns if t.get("from") in ("human", "user")), None)
    gpt = next((t["value"] for t in turns if t.get("from") in ("gpt", "assistant")), None)
    if human is None or gpt is None:
        raise DataError("conversations need a human and a gpt turn")
    return human.replace("<image>", "").strip(), gpt


def _img(image_dir: str, p: str | None, checked: dict | None = None) -> str | None:
    """The image's path; DataError when it is missing or not an image (checked once per file by
    `modeling.check_image`; the pixels are decoded in the collator by `modeling.load_image`)."""
    if p is None:
        return None
    full = p if os.path.isabs(p) else os.path.join(image_dir, p)
    if checked is not None and full in checked:
        return full
    if not os.path.exists(full):
        raise DataError(f"image not found: {full}")
    from .modeling import check_image

    check_image(full)
    if checked is not None:
        checked[full] = True
    return full


def load_preferences(path: str, image_dir: str | None = None) -> list[dict]:
    image_dir = image_dir or os.path.dirname(os.path.abspath(path))
    out, checked = [], {}
    for i, r in enumerate(_read_records(path)):
        rid = str(r.get("id", i))
        try:
            if "conversations" in r:
                prompt, chosen = _conv(r["conversations"])
                _, rejected = _conv(r.get("rejected_conversations") or [])
                weight = float(r.get("weighted_score", 1.0))
            else:
                prompt, chosen, rejected = r["prompt"], r["chosen"], r["rejected"]
                weight = float(r.get("weight", 1.0))
            image = _img(image_dir, r["image"], checked)
            rej_image = _img(image_dir, r.get("rejected_image"), checked) or image
        except KeyError as e:
            raise DataError(f"{path}: record {rid}: missing field {e}") from None
        except DataError as e:
            raise DataError(f"{path}: record {rid}: {e}") from None
        if not (weight >= 0):
            raise DataError(f"{path}: record {rid}: weight must be ≥ 0, got {weight}")
        out.append({"id": rid, "image": image, "rejected_image": rej_image, "prompt": prompt, "chosen": chosen,
                    "rejected": rejected, "weight": weight})
    return out


def load_sft(path: str, image_dir: str | None = None) -> list[dict]:
    image_dir = image_dir or os.path.dirname(os.path.abspath(path))
    out, checked = [], {}
    for i, r in enumerate(_read_records(path)):
        rid = str(r.get("id", i))
        try:
            if "conversations" in r:
                prompt, response = _conv(r["conversations"])
            elif "response" in r:
                prompt, response = r["prompt"], r["response"]
            else:  # a preference record: train on its chosen answer
                prompt, response = r["prompt"], r["chosen"]
            out.append({"id": rid, "image": _img(image_dir, r["image"], checked), "prompt": prompt, "response": response})
        except KeyError as e:
            raise DataError(f"{path}: record {rid}: missing field {e}") from None
        except DataError as e:
            raise DataError(f"{path}: record {rid}: {e}") from None
    return out


def load_prompts(path: str, image_dir: str | None = None) -> list[dict]:
    image_dir = image_dir or os.path.dirname(os.path.abspath(path))
    out = []
    for i, r in enumerate(_read_records(path)):
        if "conversations" in r:
            prompt, _ = _conv(r["conversations"] + [{"from": "gpt", "value": ""}])
        else:
            prompt = r.get("prompt") or r.get("question")
        if prompt is None:
            raise DataError(f"{path}: record {r.get('id', i)}: missing prompt")
        out.append({"id": str(r.get("id", i)), "image": _img(image_dir, r["image"]), "prompt": prompt})
    return out
