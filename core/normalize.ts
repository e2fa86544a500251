// Clinical-relevance score normalization (the paper's Z, Appendix B).
//
// zscore (default): standardize the scores, rescale to mean μ and variance σ²,
// then clip to [α, β]:
//     s' = clip( μ + sqrt(σ²) · (s − mean(S)) / std(S),  α, β )
// with μ = 1, σ² = 0.1, α = 0.75, β = 1.25, std the population standard
// deviation. Weights stay near 1 so the total loss does not shrink. A set whose
// scores are all equal (std = 0) maps every score to μ.
//
// raw: the authors' released code multiplies each pair's loss by the score
// itself (their `weighted_score` is on a 0–1 scale); `raw` maps the score to
// [0, 1] by its scale (s − min)/(max − min) and uses it as the weight.

export interface NormalizationParams {
  mode: 'zscore' | 'raw';
  mean: number;
  variance: number;
  alpha: number;
  beta: number;
}

export interface NormalizationStats {
  n: number;
  mean: number;
  std: number;
  clippedLow: number;
  clippedHigh: number;
  weightMean: number;
}

export function normalizeScores(scores: readonly number[], p: NormalizationParams, scale: { min: number; max: number } = { min: 0, max: 1 }): { weights: number[]; stats: NormalizationStats } {
  const n = scores.length;
  if (n === 0) return { weights: [], stats: { n: 0, mean: 0, std: 0, clippedLow: 0, clippedHigh: 0, weightMean: 0 } };
  const mean = scores.reduce((a, b) => a + b, 0) / n;
  const std = Math.sqrt(scores.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
  let clippedLow = 0;
  let clippedHigh = 0;
  let weights: number[];
  if (p.mode === 'raw') {
    weights = scores.map((s) => Math.min(1, Math.max(0, (s - scale.min) / (scale.max - scale.min))));
  } else {
    const sd = Math.sqrt(p.variance);
    weights = scores.map((s) => {
      const z = std > 0 ? (s - mean) / std : 0;
      const w = p.mean + sd * z;
      if (w < p.alpha) {
        clippedLow++;
        return p.alpha;
      }
      if (w > p.beta) {
        clippedHigh++;
        return p.beta;
      }
      return w;
    });
  }
  const weightMean = weights.reduce((a, b) => a + b, 0) / n;
  return { weights, stats: { n, mean, std, clippedLow, clippedHigh, weightMean } };
}
