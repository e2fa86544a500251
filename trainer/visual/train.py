"""Train the phantom localizer on the phantom-cxr train split and export it to ONNX.

    npx mmedpo dataset make-phantom --out .mmedpo/data/phantom-train --studies 2400 --seed 1 --test-fraction 0
    .mmedpo/venv/bin/python -m trainer.visual.train --data .mmedpo/data/phantom-train --out models/visual-tool

Writes <out>/phantom-localizer.onnx and its contract <out>/phantom-localizer.json.
CPU only, deterministic (torch.manual_seed, 2 threads); a few minutes on 2 cores.
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from .data import HEAT, INPUT, load_phantom
from .model import Exported, Localizer


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    pos, neg = scores[labels == 1], scores[labels == 0]
    if not len(pos) or not len(neg):
        return float('nan')
    # Mann-Whitney U with ties counted half.
    gt = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(gt / (len(pos) * len(neg)))


def normalize(x: np.ndarray) -> np.ndarray:
    return (x / 255.0 - 0.5) / 0.5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', required=True, help='phantom-cxr folder (train studies)')
    ap.add_argument('--out', required=True, help='output folder for the .onnx and its .json contract')
    ap.add_argument('--name', default='phantom-localizer')
    ap.add_argument('--epochs', type=int, default=10)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--width', type=int, default=16)
    ap.add_argument('--holdout', type=float, default=0.1, help='share of the studies held out for a progress check')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    torch.set_num_threads(a.threads)
    t0 = time.time()
    xs, ms, ys, ids, meta = load_phantom(a.data)
    n = len(xs)
    nh = int(round(n * a.holdout))
    xtr, mtr, ytr = xs[: n - nh], ms[: n - nh], ys[: n - nh]
    xho, mho, yho = xs[n - nh:], ms[n - nh:], ys[n - nh:]
    print(f'loaded {n} studies ({int(ys.sum())} abnormal) in {time.time() - t0:.1f}s; training on {len(xtr)}, holding out {nh}', flush=True)

    model = Localizer(a.width)
    params = sum(p.numel() for p in model.parameters())
    steps_per_epoch = (len(xtr) + a.batch - 1) // a.batch
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=a.epochs * steps_per_epoch, pct_start=0.15)
    rng = np.random.default_rng(a.seed)
    Xtr = torch.from_numpy(normalize(xtr)).unsqueeze(1).float()
    Mtr = torch.from_numpy(mtr).unsqueeze(1).float()
    Ytr = torch.from_numpy(ytr).unsqueeze(1).float()
    pos_w = torch.tensor(4.0)
    for ep in range(a.epochs):
        model.train()
        perm = torch.from_numpy(rng.permutation(len(xtr)))
        tl = 0.0
        for s in range(steps_per_epoch):
            idx = perm[s * a.batch:(s + 1) * a.batch]
            x, m, y = Xtr[idx], Mtr[idx], Ytr[idx]
            # Acquisition augmentation: gain, offset, gamma-ish contrast, noise.
            b = x.shape[0]
            gain = torch.from_numpy(rng.uniform(0.8, 1.2, (b, 1, 1, 1))).float()
            off = torch.from_numpy(rng.uniform(-0.15, 0.15, (b, 1, 1, 1))).float()
            x = (x * gain + off + 0.03 * torch.from_numpy(rng.standard_normal(x.shape)).float()).clamp(-1, 1)
            logits, cl = model(x)
            seg = F.binary_cross_entropy_with_logits(logits, m, pos_weight=pos_w)
            p = torch.sigmoid(logits)
            dice = 1 - (2 * (p * m).sum(dim=(1, 2, 3)) + 1) / (p.sum(dim=(1, 2, 3)) + m.sum(dim=(1, 2, 3)) + 1)
            cls = F.binary_cross_entropy_with_logits(cl, y)
            loss = seg + 0.5 * dice.mean() + cls
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tl += loss.item()
            if ep == 0 and s % 10 == 0:
                print(f"  step {s}/{steps_per_epoch} loss {loss.item():.4f} ({time.time() - t0:.0f}s)", flush=True)
        msg = f'epoch {ep + 1}/{a.epochs} loss {tl / steps_per_epoch:.4f} ({time.time() - t0:.0f}s)'
        if nh:
            pg, au = evaluate(model, xho, mho, yho)
            msg += f'  holdout pointing {pg:.3f} auroc {au:.3f}'
        print(msg, flush=True)

    os.makedirs(a.out, exist_ok=True)
    onnx_path = os.path.join(a.out, f'{a.name}.onnx')
    export(model, onnx_path)
    contract = {
        'name': a.name,
        'adapter': 'heatmap-prob',
        'description': 'Phantom lesion localizer: small U-Net trained by trainer/visual/train.py on phantom-cxr (synthetic chest X-rays); heatmap = per-cell lesion probability, confidence = probability that a lesion is present.',
        'input': {
            'name': 'image', 'layout': 'NCHW', 'channels': 1, 'height': INPUT, 'width': INPUT,
            'resize': 'area', 'scale': 1 / 255.0, 'mean': [0.5], 'std': [0.5],
        },
        'outputs': {'heatmap': 'heatmap', 'heatmapShape': [HEAT, HEAT], 'confidence': 'prob', 'activation': 'none'},
        'training': {
            'data': 'phantom-cxr', 'seed': meta['seed'], 'studies': meta['studies'], 'size': meta['size'],
            'epochs': a.epochs, 'batch': a.batch, 'lr': a.lr, 'width': a.width, 'torchSeed': a.seed, 'params': params,
            'command': f'.mmedpo/venv/bin/python -m trainer.visual.train --data <phantom seed {meta["seed"]}, {meta["studies"]} studies> --out {a.out} --epochs {a.epochs} --seed {a.seed}',
        },
    }
    with open(os.path.join(a.out, f'{a.name}.json'), 'w') as f:
        json.dump(contract, f, indent=2)
        f.write('\n')
    print(f'wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes, {params} params) in {time.time() - t0:.0f}s', flush=True)


@torch.no_grad()
def evaluate(model, x, m, y):
    model.eval()
    X = torch.from_numpy(normalize(x)).unsqueeze(1).float()
    hs, ps = [], []
    for i in range(0, len(X), 64):
        h, c = model(X[i:i + 64])
        hs.append(h[:, 0].numpy())
        ps.append(torch.sigmoid(c)[:, 0].numpy())
    h = np.concatenate(hs)
    p = np.concatenate(ps)
    hits = []
    for k in range(len(h)):
        if y[k] != 1:
            continue
        j = int(np.argmax(h[k]))
        hits.append(m[k].flat[j] > 0)
    model.train()
    return float(np.mean(hits)) if hits else float('nan'), auroc(p, y)


def export(model: Localizer, path: str) -> None:
    model.eval()
    e = Exported(model).eval()
    dummy = torch.zeros(1, 1, INPUT, INPUT)
    torch.onnx.export(e, (dummy,), path, input_names=['image'], output_names=['heatmap', 'prob'],
                      dynamic_axes={'image': {0: 'batch'}, 'heatmap': {0: 'batch'}, 'prob': {0: 'batch'}},
                      opset_version=17, dynamo=False)


if __name__ == '__main__':
    main()
