"""Synthetic demo data for tests and benches: little grayscale 'scans' with a bright blob, and
preference pairs (chosen names the right side, rejected the wrong one; some pairs are D_v pairs
whose rejected image is a noised copy). Deterministic from the seed."""
from __future__ import annotations

import json
import os
import random


def make_demo_data(out: str, pairs: int = 16, seed: int = 0, size: int = 32) -> dict:
    import numpy as np
    from PIL import Image

    rng = random.Random(seed)
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    prefs, sft = [], []
    for i in range(pairs):
        side = rng.choice(["left", "right"])
        arr = np.full((size, size), 40, dtype=np.uint8)
        cx = size // 4 if side == "left" else 3 * size // 4
        cy = rng.randrange(size // 4, 3 * size // 4)
        r = max(2, size // 8)
        arr[max(0, cy - r):cy + r, max(0, cx - r):cx + r] = 220
        img = f"images/{i:04d}.png"
        Image.fromarray(arr).convert("RGB").save(os.path.join(out, img))
        rec = {"id": f"p{i:04d}", "image": img, "prompt": "Is the abnormality on the left or right?",
               "chosen": f"{side.capitalize()}.", "rejected": f"{'Right' if side == 'left' else 'Left'}.",
               "weight": round(rng.uniform(0.75, 1.25), 3)}
        if i % 2 == 1:  # a D_v pair: rejected answer is the chosen one, on the noised image
            noisy = np.clip(arr.astype(np.int16) + np.array([rng.randrange(-60, 60) for _ in range(size * size)],
                                                            dtype=np.int16).reshape(size, size), 0, 255).astype(np.uint8)
            nimg = f"images/{i:04d}-noised.png"
            Image.fromarray(noisy).convert("RGB").save(os.path.join(out, nimg))
            rec["rejected_image"] = nimg
            rec["rejected"] = rec["chosen"]
        prefs.append(rec)
        sft.append({"id": rec["id"], "image": img, "prompt": rec["prompt"], "response": rec["chosen"]})
    with open(os.path.join(out, "prefs.jsonl"), "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in prefs)
    with open(os.path.join(out, "sft.jsonl"), "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in sft)
    return {"prefs": os.path.join(out, "prefs.jsonl"), "sft": os.path.join(out, "sft.jsonl")}
