// Pure image resampling and filtering on row-major float planes (no I/O), shared by
// the visual tool's preprocessing and the visual curation branch.
// Module-local Math bindings: hot loops avoid global lookups (slow inside vm contexts such as jest).
const { ceil, exp, floor, max, min, sqrt } = Math;

/** Bilinear resize with half-pixel centres (OpenCV INTER_LINEAR / torch align_corners=False), edges clamped. */
export function resizeBilinear(src: ArrayLike<number>, sw: number, sh: number, dw: number, dh: number): Float32Array {
  const out = new Float32Array(dw * dh);
  const sx = sw / dw, sy = sh / dh;
  for (let y = 0; y < dh; y++) {
    let fy = (y + 0.5) * sy - 0.5;
    if (fy < 0) fy = 0;
    let y0 = floor(fy);
    if (y0 > sh - 1) y0 = sh - 1;
    const y1 = min(y0 + 1, sh - 1);
    const wy = min(1, fy - y0);
    for (let x = 0; x < dw; x++) {
      let fx = (x + 0.5) * sx - 0.5;
      if (fx < 0) fx = 0;
      let x0 = floor(fx);
      if (x0 > sw - 1) x0 = sw - 1;
      const x1 = min(x0 + 1, sw - 1);
      const wx = min(1, fx - x0);
      const a = src[y0 * sw + x0]!, b = src[y0 * sw + x1]!, c = src[y1 * sw + x0]!, d = src[y1 * sw + x1]!;
      out[y * dw + x] = (a * (1 - wx) + b * wx) * (1 - wy) + (c * (1 - wx) + d * wx) * wy;
    }
  }
  return out;
}

/**
 * Area-average resize (each output pixel = mean of the source area it covers, fractional
 * overlaps weighted). For an integer factor it is the plain f×f block mean, which is what
 * trainer/visual/data.py uses, so the bundled tool sees the same input in training and here.
 */
export function resizeArea(src: ArrayLike<number>, sw: number, sh: number, dw: number, dh: number): Float32Array {
  const out = new Float32Array(dw * dh);
  const fx = sw / dw, fy = sh / dh;
  // Horizontal pass into a temp (dw × sh), then vertical.
  const tmp = new Float64Array(dw * sh);
  for (let x = 0; x < dw; x++) {
    const a = x * fx, b = (x + 1) * fx;
    for (let y = 0; y < sh; y++) {
      let s = 0;
      for (let i = floor(a); i < ceil(b) && i < sw; i++) {
        const w = min(b, i + 1) - max(a, i);
        if (w > 0) s += w * src[y * sw + i]!;
      }
      tmp[y * dw + x] = s / fx;
    }
  }
  for (let y = 0; y < dh; y++) {
    const a = y * fy, b = (y + 1) * fy;
    for (let x = 0; x < dw; x++) {
      let s = 0;
      for (let j = floor(a); j < ceil(b) && j < sh; j++) {
        const w = min(b, j + 1) - max(a, j);
        if (w > 0) s += w * tmp[j * dw + x]!;
      }
      out[y * dw + x] = s / fy;
    }
  }
  return out;
}

/** OpenCV's sigma for a given odd kernel size when sigma = 0 is passed. */
export function cvSigmaForKernel(ksize: number): number {
  return 0.3 * ((ksize - 1) * 0.5 - 1) + 0.8;
}

export function gaussianKernel(ksize: number, sigma = cvSigmaForKernel(ksize)): Float64Array {
  const k = new Float64Array(ksize);
  const c = (ksize - 1) / 2;
  let s = 0;
  for (let i = 0; i < ksize; i++) {
    k[i] = exp(-((i - c) ** 2) / (2 * sigma * sigma));
    s += k[i]!;
  }
  for (let i = 0; i < ksize; i++) k[i]! /= s;
  return k;
}

/** BORDER_REFLECT_101 index (OpenCV's default border for GaussianBlur). */
function reflect101(i: number, n: number): number {
  if (n === 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * n - 2 - i;
  return i;
}

/** Separable Gaussian blur (cv2.GaussianBlur(img, (k, k), 0) semantics). */
export function gaussianBlur(src: ArrayLike<number>, w: number, h: number, ksize = 15, sigma?: number): Float32Array {
  const k = gaussianKernel(ksize, sigma);
  const r = (ksize - 1) / 2;
  const tmp = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let t = -r; t <= r; t++) s += k[t + r]! * src[y * w + reflect101(x + t, w)]!;
      tmp[y * w + x] = s;
    }
  }
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let t = -r; t <= r; t++) s += k[t + r]! * tmp[reflect101(y + t, h) * w + x]!;
      out[y * w + x] = s;
    }
  }
  return out;
}

/** Min-max normalize to [0, 1]; a constant map becomes all zeros. */
export function minMaxNormalize(src: ArrayLike<number>): Float32Array {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const out = new Float32Array(src.length);
  const d = hi - lo;
  if (!(d > 0)) return out;
  for (let i = 0; i < src.length; i++) out[i] = (src[i]! - lo) / d;
  return out;
}

export function meanStd(src: ArrayLike<number>): { mean: number; std: number } {
  let s = 0;
  for (let i = 0; i < src.length; i++) s += src[i]!;
  const mean = s / src.length;
  let v = 0;
  for (let i = 0; i < src.length; i++) v += (src[i]! - mean) ** 2;
  return { mean, std: sqrt(v / src.length) };
}

// ---------------------------------------------------------------- IEEE 754 half precision
// For visual tools exported with float16 inputs/outputs: onnxruntime-node passes float16 tensors as
// Uint16Array bit patterns (Node 20 has no Float16Array).
const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** float32 → float16 bits, round to nearest, ties to even (inf/NaN kept; overflow → ±inf; subnormals). */
export function float32ToFloat16Bits(v: number): number {
  f32Scratch[0] = v;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // a carry into the exponent is the right result
  return half;
}

/** float16 bits → number. */
export function float16BitsToFloat32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
