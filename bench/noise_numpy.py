"""NumPy reference for bench/noise.ts: Eq. 2 on the same images, masks and ε.

Reads <dir>/meta.json and raw files written by the TS side; prints JSON with timings
(median ms per image) and the max pixel difference from the TS output (same ε).
"""
import json
import sys
import time

import numpy as np


def eq2(x_u8, h, eps, ab):
    x = x_u8.astype(np.float32) / 127.5 - 1.0
    y = np.sqrt(ab) * (x * h) + np.sqrt(1.0 - ab) * (eps * h) + x * (1.0 - h)
    return np.clip(np.floor((y + 1.0) * 127.5 + 0.5), 0, 255).astype(np.uint8)


def main():
    d = sys.argv[1]
    meta = json.load(open(f'{d}/meta.json'))
    W, H, n, reps, ab = meta['width'], meta['height'], meta['images'], meta['reps'], meta['alphaBar']
    imgs = [np.fromfile(f'{d}/img{i}.u8', dtype=np.uint8).reshape(H, W) for i in range(n)]
    masks = [np.fromfile(f'{d}/mask{i}.f32', dtype=np.float32).reshape(H, W) for i in range(n)]
    eps = [np.fromfile(f'{d}/eps{i}.f32', dtype=np.float32).reshape(H, W) for i in range(n)]
    ts = [np.fromfile(f'{d}/ts{i}.u8', dtype=np.uint8).reshape(H, W) for i in range(n)]
    # Same ε as the TS run → pixel agreement.
    maxdiff = 0
    for i in range(n):
        maxdiff = max(maxdiff, int(np.abs(eq2(imgs[i], masks[i], eps[i], ab).astype(np.int16) - ts[i].astype(np.int16)).max()))
    # Timing: a typical NumPy implementation draws ε for the whole image.
    rng = np.random.default_rng(0)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for i in range(n):
            e = rng.standard_normal((H, W), dtype=np.float32)
            eq2(imgs[i], masks[i], e, ab)
        times.append((time.perf_counter() - t0) * 1000 / n)
    print(json.dumps({'msPerImage': float(np.median(times)), 'maxPixelDiff': maxdiff, 'numpy': np.__version__}))


if __name__ == '__main__':
    main()
