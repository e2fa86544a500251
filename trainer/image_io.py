"""The one decode of an input image, Python side: rule ``mmedpo-canonical-v1``, the same as
lib/canonical-image.ts (sharp) so the trainer, generation and the served target see the pixels the
visual tool and the noise saw. Campaigns feed the trainer canonical PNGs (8-bit gray or RGB, no alpha,
no metadata), for which this is the identity; the rule matters for images given to the trainer
directly (``python -m trainer generate --image-dir``, ``serve`` data URLs).

The rule (docs/visual-tool.md, "One decode"):
  1. EXIF orientation applied (``ImageOps.exif_transpose``, a pixel permutation).
  2. 16-bit samples → 8 bits by ``v >> 8`` (Pillow already reads 16-bit colour PNGs that way);
     a 16-bit image with every sample < 4096 is flagged low-range.
  3. CMYK → RGB by R = round((255 − C)(255 − K) / 255) (likewise G/M, B/Y), no colour management.
  4. Embedded ICC profiles are not applied (samples as stored).
  5. Palettes expanded (tRNS alpha included); alpha composited on black: v = (v·a + 127) // 255.
  6. Gray sources → 1 channel; a palette whose pixels are all gray → 1; else RGB.

    decode_canonical(src) -> (pixels uint8 [H, W, C] with C in {1, 3}, transforms: list[str])
    load_canonical(src)   -> PIL.Image, mode "L" or "RGB"
    load_image(src)       -> PIL.Image, mode "RGB" (gray replicated), what the LLaVA processor takes

``src`` is a path or the encoded bytes. Undecodable or unsupported input raises ``BadImage``.
``python -m trainer.image_io FILE...`` prints, per file, the shape, the sha256 of the pixels and the
transforms as JSON lines (the decode-parity test compares them with the TypeScript side).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import sys

import numpy as np

RULE = "mmedpo-canonical-v1"
LOW_RANGE = 4096
_SIXTEEN_MODES = {"I;16", "I;16B", "I;16L", "I;16N"}


class BadImage(ValueError):
    """The bytes are not a PNG, JPEG or TIFF this rule can read."""


def _open(src):
    """(loaded image, 16-bit source?, raw mode). The bit depth is read from the decoder's raw mode
    before loading, since Pillow opens 16-bit colour and gray+alpha PNGs in 8-bit modes (keeping the
    top byte, i.e. v >> 8 — the rule's own reduction)."""
    from PIL import Image

    try:
        im = Image.open(io.BytesIO(src) if isinstance(src, (bytes, bytearray, memoryview)) else src)
        if im.format not in ("PNG", "JPEG", "MPO", "TIFF"):
            raise BadImage(f"unsupported image format {im.format} (PNG, JPEG or TIFF)")
        args = im.tile[0].args if im.tile else None
        rawmode = args if isinstance(args, str) else (args[0] if args else "")
        bits = im.tag_v2.get(258, (8,)) if im.format == "TIFF" else ()
        sixteen = im.mode in _SIXTEEN_MODES or ";16" in str(rawmode) or 16 in (bits if isinstance(bits, tuple) else (bits,))
        im.load()
    except BadImage:
        raise
    except Exception as e:  # Pillow raises several types for truncated or unknown files
        raise BadImage(f"cannot decode image: {e}") from e
    return im, sixteen, str(rawmode)


def decode_canonical(src) -> tuple[np.ndarray, list[str]]:
    from PIL import ImageOps

    im, sixteen, rawmode = _open(src)
    mode, info = im.mode, dict(im.info)
    if mode == "CMYK" and sixteen:
        raise BadImage("unsupported sample format: 16-bit CMYK")
    transforms: list[str] = []
    orientation = im.getexif().get(0x0112, 1)
    if orientation not in range(1, 9):
        orientation = 1
    if orientation != 1:
        im = ImageOps.exif_transpose(im)
        transforms.append(f"exif-orientation {orientation} applied")
    low = False
    alpha = None
    if mode in _SIXTEEN_MODES:
        v = np.asarray(im, dtype=np.uint16)
        low = int(v.max(initial=0)) < LOW_RANGE
        planes = (v >> 8).astype(np.uint8)[..., None]
    elif mode == "1":
        planes = np.asarray(im.convert("L"))[..., None]
    elif mode in ("P", "PA"):
        a = np.asarray(im.convert("RGBA" if ("transparency" in info or mode == "PA") else "RGB"))
        planes, alpha = a[..., :3], (a[..., 3] if a.shape[-1] == 4 else None)
    elif mode == "CMYK":
        c = np.asarray(im).astype(np.uint32)
        k = 255 - c[..., 3:4]
        planes = (((255 - c[..., :3]) * k + 127) // 255).astype(np.uint8)
    elif mode in ("L", "LA", "RGB", "RGBA"):
        a = np.asarray(im)
        a = a[..., None] if a.ndim == 2 else a
        gray = mode in ("L", "LA") or rawmode.startswith("LA;16")  # 16-bit gray+alpha opens as RGBA
        n = 1 if gray else 3
        planes = a[..., :n]
        alpha = a[..., -1] if mode in ("LA", "RGBA") else None
    else:
        raise BadImage(f"unsupported sample format: mode {mode}")
    if sixteen:
        if mode not in _SIXTEEN_MODES:  # top bytes only: every v < 4096 ⇔ every (v >> 8) < 16
            low = int(planes.max(initial=0)) < LOW_RANGE >> 8
        transforms.append("16-bit → 8-bit (v >> 8), low-range: every sample < 4096" if low else "16-bit → 8-bit (v >> 8)")
    if info.get("icc_profile"):
        transforms.append("ICC profile not applied (samples taken as sRGB)")
    if mode == "CMYK":
        transforms.append("CMYK → RGB (R = (255−C)(255−K)/255, no colour management)")
    if mode in ("P", "PA"):
        transforms.append("palette expanded")
    planes = np.ascontiguousarray(planes)
    if alpha is not None:
        if (alpha == 255).all():
            transforms.append("alpha dropped (fully opaque)")
        else:
            transforms.append("alpha composited on black")
            a32 = alpha.astype(np.uint32)[..., None]
            planes = ((planes.astype(np.uint32) * a32 + 127) // 255).astype(np.uint8)
    if mode in ("P", "PA") and (planes[..., 0] == planes[..., 1]).all() and (planes[..., 0] == planes[..., 2]).all():
        planes = np.ascontiguousarray(planes[..., :1])
        transforms.append("gray palette → 1 channel")
    return planes, transforms


def load_canonical(src):
    """The canonical picture as a PIL image, mode "L" or "RGB"."""
    from PIL import Image

    px, _ = decode_canonical(src)
    return Image.fromarray(px[..., 0], "L") if px.shape[-1] == 1 else Image.fromarray(px, "RGB")


def load_image(src):
    """The canonical picture in RGB (gray replicated): what the LLaVA image processor takes."""
    return load_canonical(src).convert("RGB")


def digest(src) -> dict:
    px, transforms = decode_canonical(src)
    return {"height": int(px.shape[0]), "width": int(px.shape[1]), "channels": int(px.shape[2]),
            "sha256": hashlib.sha256(px.tobytes()).hexdigest(), "transforms": transforms}


def main(argv: list[str]) -> int:
    for f in argv:
        try:
            out = {"file": os.path.basename(f), **digest(f)}
        except BadImage as e:
            out = {"file": os.path.basename(f), "error": str(e)}
        print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
