import { seededRng } from '../../core/rng';
import { alphaBar, betaSchedule, DEFAULT_NOISE, maskFromHeatmap, maskStats, noiseEq2, noiseEq2Float, normalSampler, replaceNoise } from '../../core/noise';
import { gaussianBlur, gaussianKernel, resizeArea, resizeBilinear } from '../../core/image';

function image(w: number, h: number, channels = 1): Uint8Array {
  const r = seededRng(1, 'img', 'test');
  return Uint8Array.from({ length: w * h * channels }, () => r.int(256));
}

function diskMask(w: number, h: number, cx: number, cy: number, rad: number): Float32Array {
  const m = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if ((x - cx) ** 2 + (y - cy) ** 2 < rad * rad) m[y * w + x] = 1;
  return m;
}

describe('noise schedule', () => {
  test('sigmoid betas match sigmoid(linspace(-6, 6)) scaled to [1e-5, 5e-3]', () => {
    const b = betaSchedule(DEFAULT_NOISE);
    expect(b.length).toBe(1000);
    expect(b[0]).toBeCloseTo(1e-5 + (5e-3 - 1e-5) / (1 + Math.exp(6)), 12);
    expect(b[999]).toBeCloseTo(1e-5 + (5e-3 - 1e-5) / (1 + Math.exp(-6)), 12);
    for (let i = 1; i < b.length; i++) expect(b[i]).toBeGreaterThan(b[i - 1]!);
  });

  test('ξ̄_k is the product of (1 − β_i), i ≤ k; k = 0 gives 1', () => {
    expect(alphaBar({ ...DEFAULT_NOISE, k: 0 })).toBe(1);
    const b = betaSchedule(DEFAULT_NOISE);
    expect(alphaBar({ ...DEFAULT_NOISE, k: 3 })).toBeCloseTo((1 - b[0]!) * (1 - b[1]!) * (1 - b[2]!), 15);
    const a500 = alphaBar(DEFAULT_NOISE);
    expect(a500).toBeGreaterThan(0.5);
    expect(a500).toBeLessThan(0.95);
    expect(alphaBar({ ...DEFAULT_NOISE, k: 1000 })).toBeLessThan(a500);
    expect(() => alphaBar({ ...DEFAULT_NOISE, k: 1001 })).toThrow(/k must be/);
  });
});

describe('normal sampler (ziggurat over core/rng uniforms)', () => {
  test('moments and tails of N(0, 1); deterministic per rng', () => {
    const n = 400_000;
    const z = normalSampler(seededRng(1, 'zig', 'test'));
    let s = 0, s2 = 0, s4 = 0, gt2 = 0, gt35 = 0, neg = 0;
    for (let i = 0; i < n; i++) {
      const v = z();
      s += v;
      s2 += v * v;
      s4 += v ** 4;
      if (Math.abs(v) > 2) gt2++;
      if (Math.abs(v) > 3.5) gt35++;
      if (v < 0) neg++;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.006);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.01);
    expect(Math.abs(s4 / n - 3)).toBeLessThan(0.06); // kurtosis of a normal
    expect(Math.abs(gt2 / n - 0.0455)).toBeLessThan(0.0015);
    expect(gt35 / n).toBeGreaterThan(0.00025); // P(|z| > 3.5) = 4.65e-4: the tail path works
    expect(gt35 / n).toBeLessThan(0.0007);
    expect(Math.abs(neg / n - 0.5)).toBeLessThan(0.003);
    const a = normalSampler(seededRng(2, 'x', 'y')), b = normalSampler(seededRng(2, 'x', 'y'));
    for (let i = 0; i < 1000; i++) expect(a()).toBe(b());
  });
});

describe('Eq. 2 local noise', () => {
  const W = 96, H = 80;
  const ab = alphaBar(DEFAULT_NOISE);

  test.each([1, 3])('pixels outside the mask are bit-exact (%i channel(s))', (ch) => {
    const img = image(W, H, ch);
    const m = diskMask(W, H, 40, 30, 15);
    const out = noiseEq2(img, ch, m, ab, seededRng(7, 'item', 'visual-noise'));
    let changedInside = 0;
    for (let i = 0; i < W * H; i++) {
      for (let c = 0; c < ch; c++) {
        const j = i * ch + c;
        if (m[i] === 0) expect(out[j]).toBe(img[j]);
        else if (out[j] !== img[j]) changedInside++;
      }
    }
    expect(changedInside).toBeGreaterThan(0.8 * maskStats(m, W, H).nonzero * ch);
  });

  test('inside the mask: mean sqrt(ξ̄)·x and variance 1 − ξ̄ (float space)', () => {
    const n = 200_000;
    for (const x0 of [-0.5, 0, 0.6]) {
      const x = new Float32Array(n).fill(x0);
      const y = noiseEq2Float(x, new Float32Array(n).fill(1), ab, seededRng(3, `c${x0}`, 'visual-noise'));
      let s = 0, s2 = 0;
      for (const v of y) {
        s += v;
        s2 += v * v;
      }
      const mean = s / n, variance = s2 / n - mean * mean;
      expect(Math.abs(mean - Math.sqrt(ab) * x0)).toBeLessThan(0.01);
      expect(Math.abs(variance - (1 - ab)) / (1 - ab)).toBeLessThan(0.02);
    }
  });

  test('8-bit output: mean and variance inside the mask match Eq. 2 (mild k, no clipping)', () => {
    const p = { ...DEFAULT_NOISE, k: 100 };
    const a = alphaBar(p);
    const n = 100_000;
    const img = new Uint8Array(n).fill(150);
    const out = noiseEq2(img, 1, new Float32Array(n).fill(1), a, seededRng(5, 'bytes', 'visual-noise'));
    let s = 0, s2 = 0;
    for (const v of out) {
      const f = v / 127.5 - 1;
      s += f;
      s2 += f * f;
    }
    const mean = s / n, variance = s2 / n - mean * mean;
    const x = 150 / 127.5 - 1;
    expect(Math.abs(mean - Math.sqrt(a) * x)).toBeLessThan(0.005);
    // Quantization adds (1/127.5)²/12 of variance.
    expect(Math.abs(variance - (1 - a) - 1 / (127.5 ** 2 * 12)) / (1 - a)).toBeLessThan(0.03);
  });

  test('soft mask blends: h = 0.5 gives mean (0.5·sqrt(ξ̄) + 0.5)·x', () => {
    const n = 100_000, x0 = 0.5;
    const y = noiseEq2Float(new Float32Array(n).fill(x0), new Float32Array(n).fill(0.5), ab, seededRng(9, 'soft', 'visual-noise'));
    const mean = y.reduce((a, b) => a + b, 0) / n;
    expect(Math.abs(mean - (0.5 * Math.sqrt(ab) + 0.5) * x0)).toBeLessThan(0.01);
  });

  test('same seed → identical bytes; another item → different bytes', () => {
    const img = image(W, H);
    const m = diskMask(W, H, 50, 40, 20);
    const a = noiseEq2(img, 1, m, ab, seededRng(11, 'item-a', 'visual-noise'));
    const b = noiseEq2(img, 1, m, ab, seededRng(11, 'item-a', 'visual-noise'));
    const c = noiseEq2(img, 1, m, ab, seededRng(11, 'item-b', 'visual-noise'));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(c))).toBe(false);
  });

  test('k = 0 is the identity', () => {
    const img = image(W, H, 3);
    const out = noiseEq2(img, 3, new Float32Array(W * H).fill(1), alphaBar({ ...DEFAULT_NOISE, k: 0 }), seededRng(1, 'x', 'visual-noise'));
    expect(Buffer.from(out).equals(Buffer.from(img))).toBe(true);
  });

  test('mask size mismatch is an error', () => {
    expect(() => noiseEq2(new Uint8Array(10), 1, new Float32Array(9), ab, seededRng(1, 'x', 'y'))).toThrow(/mask/);
  });
});

describe('mask from heatmap', () => {
  test('binary threshold on the normalized, bilinearly resized map', () => {
    // 4×4 heatmap with a hot 2×2 corner; raw values not in [0, 1] (normalization matters).
    const heat = [10, 10, 2, 2, 10, 10, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2];
    const m = maskFromHeatmap(heat, 4, 4, 16, 16, 'binary', 0.5);
    expect(m[0]).toBe(1);
    expect(m[15 * 16 + 15]).toBe(0);
    const st = maskStats(m, 16, 16);
    expect(st.box![0]).toBe(0);
    expect(st.box![2]).toBeGreaterThan(4);
    expect(st.box![2]).toBeLessThan(12);
    const soft = maskFromHeatmap(heat, 4, 4, 16, 16, 'soft', 0.5);
    expect(Math.max(...soft)).toBeCloseTo(1, 6);
    expect(Math.min(...soft)).toBeCloseTo(0, 6);
  });
});

describe('replace mode (authors’ script)', () => {
  test('mask = blurred map above mean − std; replaced values are clipped N(0, 10); rest untouched', () => {
    const W = 64, H = 64;
    // A ramp: mean − std cuts off the low corner (a flat-zero background would put every pixel above the cut).
    const heat = Float32Array.from({ length: 14 * 14 }, (_, i) => (i % 14) + Math.floor(i / 14));
    const img = new Uint8Array(W * H).fill(200);
    const { out, mask } = replaceNoise(img, 1, W, H, heat, 14, 14, seededRng(1, 'r', 'visual-replace'));
    let inside = 0, sum = 0, zeros = 0;
    for (let i = 0; i < W * H; i++) {
      if (mask[i]) {
        inside++;
        sum += out[i]!;
        if (out[i] === 0) zeros++;
        expect(out[i]).toBeLessThan(80);
      } else expect(out[i]).toBe(200);
    }
    expect(inside).toBeGreaterThan(0);
    expect(inside).toBeLessThan(W * H);
    // Half of N(0, 10) is clipped to 0; the positive half truncated has mean ≈ 10·sqrt(2/π)/2 − 0.5 overall.
    expect(zeros / inside).toBeGreaterThan(0.4);
    expect(sum / inside).toBeGreaterThan(2.5);
    expect(sum / inside).toBeLessThan(5.5);
  });

  test('Gaussian kernel 15 uses OpenCV sigma 2.6 and sums to 1; blur keeps a constant map', () => {
    const k = gaussianKernel(15);
    expect(k.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(k[7]! / k[0]!).toBeCloseTo(Math.exp(49 / (2 * 2.6 * 2.6)), 6);
    const b = gaussianBlur(new Float32Array(100).fill(3), 10, 10);
    for (const v of b) expect(v).toBeCloseTo(3, 5);
  });
});

describe('resampling', () => {
  test('area resize by 2 is the 2×2 block mean; bilinear keeps constants and corners', () => {
    const src = Float32Array.from({ length: 16 }, (_, i) => i);
    const a = resizeArea(src, 4, 4, 2, 2);
    expect(Array.from(a)).toEqual([(0 + 1 + 4 + 5) / 4, (2 + 3 + 6 + 7) / 4, (8 + 9 + 12 + 13) / 4, (10 + 11 + 14 + 15) / 4]);
    const odd = resizeArea(new Float32Array(15 * 15).fill(7), 15, 15, 4, 4);
    for (const v of odd) expect(v).toBeCloseTo(7, 5);
    const b = resizeBilinear(src, 4, 4, 8, 8);
    expect(b[0]).toBe(0);
    expect(b[63]).toBe(15);
  });
});

describe('visual-tool metrics', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { auroc, pointingHit } = require('../../core/visual-eval') as typeof import('../../core/visual-eval');
  test('AUROC: perfect, reversed, ties, one class', () => {
    expect(auroc([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0])).toBe(1);
    expect(auroc([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0])).toBe(0);
    expect(auroc([0.5, 0.5], [1, 0])).toBe(0.5);
    expect(auroc([0.3, 0.9, 0.5, 0.1], [1, 1, 0, 0])).toBe(0.75);
    expect(auroc([0.1], [1])).toBeNaN();
  });
  test('pointing game uses the resized heatmap maximum', () => {
    const heat = [0, 0, 0, 1]; // 2×2, hot bottom-right
    const mask = new Uint8Array(16);
    mask[15] = 1;
    expect(pointingHit(heat, 2, 2, mask, 4, 4)).toBe(true);
    expect(pointingHit([1, 0, 0, 0], 2, 2, mask, 4, 4)).toBe(false);
  });
});
