// Metrics for the visual tool on phantom studies (pure).
import { resizeBilinear } from './image';
// Module-local Math bindings: hot loops avoid global lookups (slow inside vm contexts such as jest).
const { floor } = Math;

/** Image-space argmax of a heatmap after a bilinear resize to the image (first max in raster order). */
export function heatmapArgmax(heat: ArrayLike<number>, hw: number, hh: number, width: number, height: number): [number, number] {
  const up = resizeBilinear(heat, hw, hh, width, height);
  let best = -Infinity, bi = 0;
  for (let i = 0; i < up.length; i++) if (up[i]! > best) {
    best = up[i]!;
    bi = i;
  }
  return [bi % width, floor(bi / width)];
}

/** Pointing game: is the heatmap's maximum inside a true lesion (mask > 0)? */
export function pointingHit(heat: ArrayLike<number>, hw: number, hh: number, mask: ArrayLike<number>, width: number, height: number): boolean {
  const [x, y] = heatmapArgmax(heat, hw, hh, width, height);
  return mask[y * width + x]! > 0;
}

/** AUROC (Mann–Whitney U, ties count half). NaN without both classes. */
export function auroc(scores: readonly number[], labels: readonly (0 | 1 | boolean)[]): number {
  const pos: number[] = [], neg: number[] = [];
  scores.forEach((s, i) => (labels[i] ? pos : neg).push(s));
  if (!pos.length || !neg.length) return NaN;
  const all = scores.map((s, i) => ({ s, p: labels[i] ? 1 : 0 })).sort((a, b) => a.s - b.s);
  // Rank sum with average ranks for ties.
  let rankSumPos = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && all[j + 1]!.s === all[i]!.s) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (all[k]!.p) rankSumPos += avg;
    i = j + 1;
  }
  return (rankSumPos - (pos.length * (pos.length + 1)) / 2) / (pos.length * neg.length);
}
