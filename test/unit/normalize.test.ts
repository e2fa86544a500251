import { normalizeScores } from '../../core/normalize';

const P = { mode: 'zscore' as const, mean: 1, variance: 0.1, alpha: 0.75, beta: 1.25 };

describe('score normalization', () => {
  it('z-scores, rescales to mean 1 / variance 0.1 and clips to [0.75, 1.25] (hand-computed)', () => {
    // scores 2,4,6,8: mean 5, population std sqrt(5) = 2.2360680
    const { weights, stats } = normalizeScores([2, 4, 6, 8], P);
    const sd = Math.sqrt(0.1);
    const z = [-3, -1, 1, 3].map((d) => d / Math.sqrt(5));
    // z·sd = ±0.4243 (clipped) and ±0.1414 (kept)
    expect(weights[0]).toBe(0.75);
    expect(weights[3]).toBe(1.25);
    expect(weights[1]).toBeCloseTo(1 + sd * z[1]!, 12);
    expect(weights[2]).toBeCloseTo(1 + sd * z[2]!, 12);
    expect(weights[1]).toBeCloseTo(0.858578643762691, 12);
    expect(stats).toMatchObject({ n: 4, mean: 5, clippedLow: 1, clippedHigh: 1 });
    expect(stats.std).toBeCloseTo(Math.sqrt(5), 12);
  });

  it('maps a constant set to the mean, an empty set to nothing', () => {
    expect(normalizeScores([7, 7, 7], P).weights).toEqual([1, 1, 1]);
    expect(normalizeScores([], P).weights).toEqual([]);
  });

  it('keeps unclipped weights at mean 1 and variance 0.1', () => {
    const scores = Array.from({ length: 1001 }, (_, i) => Math.sin(i) * 0.1);
    const { weights } = normalizeScores(scores, { ...P, alpha: -10, beta: 10 });
    const m = weights.reduce((a, b) => a + b, 0) / weights.length;
    const v = weights.reduce((a, b) => a + (b - m) ** 2, 0) / weights.length;
    expect(m).toBeCloseTo(1, 10);
    expect(v).toBeCloseTo(0.1, 10);
  });

  it('raw mode uses the score on its scale, as the authors’ code', () => {
    expect(normalizeScores([1, 5.5, 10], { ...P, mode: 'raw' }, { min: 1, max: 10 }).weights).toEqual([0, 0.5, 1]);
    expect(normalizeScores([0.2, 0.9], { ...P, mode: 'raw' }).weights).toEqual([0.2, 0.9]);
  });
});
