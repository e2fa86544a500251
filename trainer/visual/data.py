"""Reads a phantom-cxr folder (written by `npx mmedpo dataset make-phantom`) into arrays."""
import json
import os
import numpy as np
from PIL import Image

INPUT = 128
HEAT = 64


def area_down(a: np.ndarray, out: int) -> np.ndarray:
    """Area-average downsampling by an integer factor (matches core/image.ts resizeArea)."""
    h, w = a.shape
    f = h // out
    assert h == w and h % out == 0, f'image side {h} must be a multiple of {out}'
    return a.reshape(out, f, out, f).mean(axis=(1, 3))


def load_phantom(root: str, split: str | None = None):
    meta = json.load(open(os.path.join(root, 'phantom.json')))
    xs, ms, ys, ids = [], [], [], []
    for it in meta['items']:
        if split and it['split'] != split:
            continue
        img = np.asarray(Image.open(os.path.join(root, it['image'])).convert('L'), dtype=np.float32)
        mask = (np.asarray(Image.open(os.path.join(root, it['mask'])).convert('L'), dtype=np.uint8) > 0).astype(np.float32)
        xs.append(area_down(img, INPUT))
        ms.append(area_down(mask, HEAT))
        ys.append(0.0 if it['normal'] else 1.0)
        ids.append(it['id'])
    return np.stack(xs), np.stack(ms), np.asarray(ys, dtype=np.float32), ids, meta
