// core/stats.ts: percentile bootstrap intervals over test items and seeds, paired bootstrap p-values.
import type { ItemScores, PredictionItem } from '../../core/metrics';
import { score } from '../../core/metrics';
import { seededRng } from '../../core/rng';
import {
  bootstrapResults,
  pairedBootstrapP,
  percentileInterval,
  quantile,
  resultsStatistics,
  seededDraws,
  type BootstrapDraw,
  type ItemsStatistic,
  type ScoredRun,
} from '../../core/stats';

/** acc = mean of 0/1 item values on the multiset. */
const accOf = (xs: number[]): ItemsStatistic => (idx) => {
  let s = 0;
  for (let j = 0; j < idx.length; j++) s += xs[idx[j]!]!;
  return { acc: s / idx.length };
};

describe('quantile, percentile interval, p-value', () => {
  test('quantile is Hyndman & Fan definition 7 (NumPy linear)', () => {
    const xs = [1, 2, 4, 8];
    expect(quantile(xs, 0)).toBe(1);
    expect(quantile(xs, 1)).toBe(8);
    expect(quantile(xs, 0.5)).toBeCloseTo(3, 12); // h = 1.5: 2 + 0.5·(4 − 2)
    expect(quantile(xs, 0.25)).toBeCloseTo(1.75, 12); // h = 0.75: 1 + 0.75·(2 − 1)
    expect(quantile([], 0.5)).toBeNaN();
  });
  test('percentile interval drops non-finite replicates and rejects a bad confidence', () => {
    expect(percentileInterval([3, Number.NaN, 1, 2, 4, 5], 0.5)).toEqual({ lo: 2, hi: 4 });
    expect(() => percentileInterval([1, 2], 1)).toThrow('confidence must be in (0, 1)');
  });
  test('p = min(1, 2(1 + min(#≤0, #≥0))/(B + 1))', () => {
    expect(pairedBootstrapP([1, 2, -1, 3])).toBeCloseTo((2 * 2) / 5, 12);
    expect(pairedBootstrapP([0, 0, 0])).toBe(1);
    expect(pairedBootstrapP(new Array(999).fill(0.5))).toBeCloseTo(2 / 1000, 12);
    expect(pairedBootstrapP([])).toBeNaN();
  });
});

describe('bootstrapResults: hand-computed cases with fixed resamples', () => {
  // 4 test items; MMedPO right on items 0, 2, 3; DPO right on item 2 only.
  const mmedpo = [1, 0, 1, 1];
  const dpo = [0, 0, 1, 0];
  const draws: BootstrapDraw[] = [{ items: [0, 0, 1, 2] }, { items: [1, 1, 2, 3] }, { items: [1, 2, 2, 2] }, { items: [3, 3, 3, 0] }];
  // replicate values:      mmedpo 0.75, 0.5, 0.75, 1;  dpo 0.25, 0.25, 0.75, 0;  Δ 0.5, 0.25, 0, 1
  test('one seed: intervals, difference and p from the injected resamples', () => {
    const r = bootstrapResults({
      runs: [
        { variant: 'mmedpo', seed: 0, statistic: accOf(mmedpo) },
        { variant: 'dpo', seed: 0, statistic: accOf(dpo) },
      ],
      items: 4,
      seed: 0,
      draws,
    });
    expect(r.resamples).toBe(4);
    const m = r.variants.find((v) => v.variant === 'mmedpo')!.metrics.acc!;
    // sorted [0.5, 0.75, 0.75, 1]; h = 3·0.025 = 0.075 and 3·0.975 = 2.925
    expect(m.estimate).toBeCloseTo(0.75, 12);
    expect(m.lo).toBeCloseTo(0.5 + 0.075 * 0.25, 12);
    expect(m.hi).toBeCloseTo(0.75 + 0.925 * 0.25, 12);
    const d = r.variants.find((v) => v.variant === 'dpo')!.metrics.acc!;
    // sorted [0, 0.25, 0.25, 0.75]
    expect(d.lo).toBeCloseTo(0.075 * 0.25, 12);
    expect(d.hi).toBeCloseTo(0.25 + 0.925 * 0.5, 12);
    expect(r.comparisons).toHaveLength(1); // no sft: that comparison is left out
    const c = r.comparisons[0]!;
    expect([c.variant, c.baseline, c.pairedSeeds]).toEqual(['mmedpo', 'dpo', true]);
    // Δ sorted [0, 0.25, 0.5, 1]; one replicate ≤ 0, four ≥ 0 → p = 2(1 + 1)/(4 + 1)
    expect(c.metrics.acc!.estimate).toBeCloseTo(0.5, 12);
    expect(c.metrics.acc!.lo).toBeCloseTo(0.075 * 0.25, 12);
    expect(c.metrics.acc!.hi).toBeCloseTo(0.5 + 0.925 * 0.5, 12);
    expect(c.metrics.acc!.p).toBeCloseTo(0.8, 12);
  });

  test('two seeds: mean over the drawn seeds on the same items', () => {
    const seed1 = [0, 1, 1, 1];
    const r = bootstrapResults({
      runs: [
        { variant: 'mmedpo', seed: 1, statistic: accOf(seed1) },
        { variant: 'mmedpo', seed: 0, statistic: accOf(mmedpo) },
      ],
      items: 4,
      seed: 0,
      draws: [
        { items: [0, 0, 1, 2], seeds: { '0,1': [0, 1] } }, // seed 0: 0.75, seed 1: 0.5 → 0.625
        { items: [1, 1, 2, 3], seeds: { '0,1': [1, 1] } }, // seed 1 twice: 1
      ],
    });
    const v = r.variants[0]!;
    expect(v.seeds).toEqual([0, 1]);
    expect(v.metrics.acc!.estimate).toBeCloseTo(0.75, 12); // (0.75 + 0.75)/2
    expect(v.metrics.acc!.lo).toBeCloseTo(0.625 + 0.025 * 0.375, 12);
    expect(v.metrics.acc!.hi).toBeCloseTo(0.625 + 0.975 * 0.375, 12);
    expect(() => bootstrapResults({ runs: [{ variant: 'a', seed: 0, statistic: accOf(seed1) }, { variant: 'a', seed: 1, statistic: accOf(seed1) }], items: 4, seed: 0, draws: [{ items: [0, 1, 2, 3] }] })).toThrow(
      'no seed positions for seeds 0,1',
    );
    expect(() => bootstrapResults({ runs: [{ variant: 'a', seed: 0, statistic: accOf(seed1) }, { variant: 'a', seed: 0, statistic: accOf(seed1) }], items: 4, seed: 0 })).toThrow(
      'two evaluations of variant a with seed 0',
    );
  });
});

// ---------------------------------------------------------------- on scored predictions

function vqaItems(n: number, correct: (i: number) => boolean): PredictionItem[] {
  return Array.from({ length: n }, (_, i) => {
    const closed = i % 3 !== 0;
    const reference = closed ? (i % 2 ? 'yes' : 'no') : ['left lung', 'heart', 'right lower lobe'][i % 3]!;
    const prediction = closed ? (correct(i) ? reference : reference === 'yes' ? 'no' : 'yes') : correct(i) ? `the ${reference}` : i % 2 ? 'lung' : 'abdomen';
    return { id: `q${i}`, prediction, reference, answer_type: closed ? 'CLOSED' : 'OPEN' };
  });
}

function scored(variant: string, seed: number, items: PredictionItem[], convention: 'pycoco' | 'mmedpo-release' = 'pycoco', format: 'vqa' | 'report' = 'vqa'): ScoredRun {
  const r = score(format, items, { convention });
  return { variant, seed, convention, predictions: items, perItem: r.perItem as ItemScores[] };
}

const REPORTS = [
  'the heart size is normal . no pleural effusion or pneumothorax .',
  'mild cardiomegaly . small left pleural effusion .',
  'lungs are clear . no focal consolidation .',
  'right lower lobe opacity concerning for pneumonia .',
  'stable cardiomediastinal silhouette . no acute fracture .',
  'pulmonary edema with bilateral effusions .',
];

function reportItems(n: number, shift: number): PredictionItem[] {
  return Array.from({ length: n }, (_, i) => ({ id: `r${i}`, reference: REPORTS[i % REPORTS.length]!, prediction: i % 7 === 0 ? '' : REPORTS[(i + shift * (i % 2)) % REPORTS.length]! }));
}

describe('resultsStatistics on scored predictions', () => {
  test.each([
    ['vqa', 'pycoco'],
    ['vqa', 'mmedpo-release'],
    ['report', 'pycoco'],
    ['report', 'mmedpo-release'],
  ] as const)('%s/%s: the point estimates are score()’s totals (corpus BLEU and CE recomputed, not averaged)', (format, convention) => {
    const items = format === 'vqa' ? vqaItems(30, (i) => i % 4 !== 1) : reportItems(24, 1);
    const totals = score(format, items, { convention }).totals;
    const r = resultsStatistics(format, [scored('mmedpo', 0, items, convention, format)], { seed: 1, resamples: 50 });
    const m = r.variants[0]!.metrics;
    const keys =
      format === 'vqa'
        ? ['open_recall', 'closed_accuracy', 'closed_accuracy_strict']
        : ['bleu1', 'bleu2', 'bleu3', 'bleu4', 'bleu', 'bleu_avg', 'rouge_l', ...(convention === 'pycoco' ? [] : ['meteor']), 'ce_f1_micro', 'ce_f1_macro', 'ce_precision_micro', 'ce_recall_micro'];
    for (const k of keys) {
      expect([k, m[k]?.estimate]).toEqual([k, expect.closeTo(totals[k]!, 9)]);
      expect(m[k]!.lo).toBeLessThanOrEqual(m[k]!.estimate + 1e-9);
      expect(m[k]!.hi).toBeGreaterThanOrEqual(m[k]!.estimate - 1e-9);
    }
    if (format === 'report' && convention === 'pycoco') {
      // METEOR 1.5's corpus score cannot be recomputed from the stored segment scores: no interval, and a note.
      const withMeteor = resultsStatistics(format, [{ ...scored('mmedpo', 0, items, convention, format), perItem: score(format, items, { convention }).perItem.map((p) => ({ ...p, scores: { ...p.scores, meteor: 30 } })) }], { seed: 1, resamples: 20 });
      expect(withMeteor.variants[0]!.metrics.meteor).toBeUndefined();
      expect(withMeteor.notes).toEqual([expect.stringContaining('METEOR has no interval')]);
      // corpus BLEU-4 differs from the mean of per-study BLEU-4: the estimate must be the corpus one
      const perStudy = score(format, items, { convention }).perItem.reduce((a, p) => a + p.scores.bleu4!, 0) / items.length;
      expect(Math.abs(perStudy - totals.bleu4!)).toBeGreaterThan(0.5);
    }
    if (format === 'vqa') expect(r.strata).toEqual([10, 20]); // open, closed
  });

  test('identical predictions: p = 1 and a zero-width difference interval', () => {
    const items = vqaItems(60, (i) => i % 3 !== 2);
    const r = resultsStatistics('vqa', [scored('mmedpo', 0, items), scored('dpo', 0, items), scored('sft', 0, items)], { seed: 7, resamples: 300 });
    expect(r.comparisons.map((c) => c.baseline)).toEqual(['dpo', 'sft']);
    for (const c of r.comparisons)
      for (const k of ['open_recall', 'closed_accuracy', 'closed_accuracy_strict']) expect(c.metrics[k]).toEqual({ estimate: 0, lo: 0, hi: 0, p: 1 });
    // ... while each variant's own interval has width.
    expect(r.variants[0]!.metrics.closed_accuracy!.hi - r.variants[0]!.metrics.closed_accuracy!.lo).toBeGreaterThan(5);
  });

  test('a large difference gives p at its floor 2/(B+1) and an interval away from 0; a small mixed one neither', () => {
    const B = 400;
    const large = resultsStatistics('vqa', [scored('mmedpo', 0, vqaItems(90, () => true)), scored('dpo', 0, vqaItems(90, (i) => i % 5 === 0))], { seed: 3, resamples: B });
    const big = large.comparisons[0]!.metrics.closed_accuracy!;
    expect(big.estimate).toBeGreaterThan(50);
    expect(big.p).toBeCloseTo(2 / (B + 1), 12);
    expect(big.lo).toBeGreaterThan(40);
    // Each wins on its own quarter of the items, MMedPO on one item more: Δ > 0 but well inside the noise.
    const a = vqaItems(90, (i) => i % 4 === 0 || i % 4 === 1 || i === 7);
    const b = vqaItems(90, (i) => i % 4 === 1 || i % 4 === 2);
    const small = resultsStatistics('vqa', [scored('mmedpo', 0, a), scored('dpo', 0, b)], { seed: 3, resamples: B }).comparisons[0]!.metrics.closed_accuracy!;
    expect(small.estimate).toBeGreaterThan(0);
    expect(small.p).toBeGreaterThan(0.5);
    expect(small.lo).toBeLessThan(0);
    expect(small.hi).toBeGreaterThan(0);
  });

  test('deterministic from the seed; another seed draws other resamples', () => {
    const runs = [scored('mmedpo', 0, vqaItems(45, (i) => i % 4 !== 0)), scored('dpo', 0, vqaItems(45, (i) => i % 3 !== 0))];
    const a = resultsStatistics('vqa', runs, { seed: 11, resamples: 200 });
    expect(resultsStatistics('vqa', runs, { seed: 11, resamples: 200 })).toEqual(a);
    expect(resultsStatistics('vqa', runs, { seed: 12, resamples: 200 }).variants[0]!.metrics.closed_accuracy).not.toEqual(a.variants[0]!.metrics.closed_accuracy);
  });

  test('items are aligned by id; an item missing from one evaluation is left out and noted', () => {
    const items = vqaItems(30, (i) => i % 2 === 0);
    const shuffled = seededRng(1, 'test', 'shuffle').shuffle([...items]);
    const r = resultsStatistics('vqa', [scored('mmedpo', 0, items), scored('dpo', 0, shuffled)], { seed: 1, resamples: 100 });
    expect(r.comparisons[0]!.metrics.closed_accuracy).toEqual({ estimate: 0, lo: 0, hi: 0, p: 1 }); // same predictions, other order
    expect(r.notes).toEqual([]);
    const r2 = resultsStatistics('vqa', [scored('mmedpo', 0, items), scored('dpo', 0, items.slice(1))], { seed: 1, resamples: 100 });
    expect(r2.items).toBe(29);
    expect(r2.notes[0]).toContain('29 test items');
  });

  test('several seeds: the interval includes the between-seed spread', () => {
    // Three seeds whose closed accuracy differs by ~20 points: the across-seed interval is wider than any one seed's.
    const seeds = [0, 1, 2].map((s) => scored('mmedpo', s, vqaItems(90, (i) => (i + s) % 10 < 4 + 2 * s)));
    const all = resultsStatistics('vqa', seeds, { seed: 5, resamples: 400 }).variants[0]!;
    expect(all.seeds).toEqual([0, 1, 2]);
    const width = (x: { lo: number; hi: number }) => x.hi - x.lo;
    const one = resultsStatistics('vqa', [seeds[1]!], { seed: 5, resamples: 400 }).variants[0]!;
    expect(width(all.metrics.closed_accuracy!)).toBeGreaterThan(width(one.metrics.closed_accuracy!) * 1.2);
  });
});

describe('the seeded draws', () => {
  test('resample within strata (counts per stratum kept) and seeds per seed list', () => {
    const strata = [[0, 1, 2], [3, 4, 5, 6, 7]];
    const draws = [...seededDraws(9, strata, [[0, 1, 2], [0, 1, 2], [4]], 50)];
    expect(draws).toHaveLength(50);
    for (const d of draws) {
      expect(Array.from(d.items).slice(0, 3).every((i) => i <= 2)).toBe(true);
      expect(Array.from(d.items).slice(3).every((i) => i >= 3 && i <= 7)).toBe(true);
      expect(Object.keys(d.seeds!).sort()).toEqual(['0,1,2', '4']);
      expect(Array.from(d.seeds!['0,1,2']!).every((p) => p >= 0 && p < 3)).toBe(true);
    }
    // the item draws do not depend on the seed lists
    expect([...seededDraws(9, strata, [], 50)].map((d) => Array.from(d.items))).toEqual(draws.map((d) => Array.from(d.items)));
  });

  test('coverage: the 95% interval of a mean holds the true value in about 95% of simulated test sets', () => {
    // 120 test sets of 100 Bernoulli(0.7) items; B = 250 each. Percentile intervals of a mean are
    // slightly narrow at this n (≈ 94%); the bounds leave room for Monte-Carlo error (sd ≈ 2%), and
    // catch an interval half as wide (≈ 68%) or twice as wide (≈ 100%). Deterministic (seeded).
    let covered = 0;
    const sets = 120;
    for (let t = 0; t < sets; t++) {
      const rng = seededRng(t, 'coverage', 'items');
      const xs = Array.from({ length: 100 }, () => (rng.next() < 0.7 ? 1 : 0));
      const r = bootstrapResults({ runs: [{ variant: 'v', seed: 0, statistic: accOf(xs) }], items: 100, seed: t, resamples: 250 });
      const m = r.variants[0]!.metrics.acc!;
      if (m.lo <= 0.7 && 0.7 <= m.hi) covered++;
    }
    expect(covered / sets).toBeGreaterThan(0.88);
    expect(covered / sets).toBeLessThan(0.99);
  });
});
