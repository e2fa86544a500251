// Confidence intervals and paired significance tests for the results table (pure, deterministic
// from a seed). Data: for each variant, one evaluation per training seed, all on the same n test
// items; for each evaluation, per-item scores (scorePredictions' `items`) and the predictions.
//
// Statistic. Every metric is recomputed on a resampled test set exactly as scorePredictions computes
// it on the whole one (core/metrics), so the full-sample value equals the stored total:
//   - per-item-mean metrics — VQA open recall (mean over open questions), closed accuracy and its
//     variants (over closed questions), ROUGE-L (pycoco: mean over studies), and under the
//     mmedpo-release convention also BLEU and METEOR (per-item nltk scores averaged): the mean of the
//     stored per-item values over the resampled items that carry the metric;
//   - corpus metrics — pycoco BLEU-1..4 (clipped n-gram counts and lengths summed over studies, then
//     one brevity penalty: pycocoCorpusBleu on the resample's pycocoBleuStats) and clinical efficacy
//     P/R/F1 micro and macro (clinicalEfficacy on the resample's labels): recomputed per resample from
//     per-item sufficient statistics, never averaged per item;
//   - grounding metrics of a phantom set (core/grounding.ts: counter-prior accuracy, blind gap, lesion
//     sensitivity, hallucination rate) — grounding_totals of the resampled items' per-question records
//     (trainer/grounding.py), an item without a record contributing nothing; same draws, so they get
//     intervals and paired differences like the other metrics;
//   - pycoco METEOR gets no interval: it is METEOR 1.5's aggregate over the jar's summed per-segment
//     statistics (lib/meteor15.ts), and the scores document keeps only the per-segment scores, whose
//     mean is another number. The table shows its total alone, and `notes` says why.
//
// Resampling (one procedure for one seed and for several):
//   θ_{v,s}(I) = a metric of variant v, training seed s, on the item multiset I.
//   Point estimate θ̄_v = (1/S) Σ_s θ_{v,s}(all n items).
//   Replicate b = 1..B: draw n item positions I_b with replacement — within strata (VQA: open and
//   closed questions, so each resample keeps the test set's open/closed counts; Davison & Hinkley
//   1997, §3.2, several samples), one draw shared by every variant and seed; and for each variant draw
//   S seed positions with replacement from its seeds (variants with the same seed list share that draw,
//   so comparisons are paired by seed as well as by item). θ̄*_{v,b} = (1/S) Σ_j θ_{v,s*_j}(I_b).
//   Resampling items and seeds independently is the pigeonhole bootstrap for a crossed design
//   (Owen 2007, "The pigeonhole bootstrap", Ann. Appl. Stat. 1(2)): the interval holds both the
//   within-seed (test-set) and the between-seed (training) variability. With one seed it is the
//   ordinary item bootstrap. With 2–3 seeds the seed level has few distinct resamples: read the
//   interval as approximate.
//   Interval: the percentile interval (Efron & Tibshirani 1993, §13.3) — the (1−c)/2 and (1+c)/2
//   sample quantiles (Hyndman & Fan 1996, definition 7: R's default, NumPy's 'linear') of θ̄*_{v,b}.
//
// Paired comparison (MMedPO vs DPO, MMedPO vs SFT): Δ = θ̄_a − θ̄_b and Δ*_b = θ̄*_{a,b} − θ̄*_{b,b} on
// the same I_b (and seed draw): the paired bootstrap of Koehn (2004, "Statistical significance tests
// for machine translation evaluation", EMNLP). Interval: percentile interval of Δ*_b. Two-sided
// p-value by inverting the percentile interval (Efron & Tibshirani 1993, §15.4: the smallest 1−c
// whose interval excludes 0), with the Monte-Carlo +1 correction of Davison & Hinkley (1997, §4.2,
// p = (1 + #)/(B + 1), so a finite B never reports p = 0):
//   p = min(1, 2 · (1 + min(#{Δ*_b ≤ 0}, #{Δ*_b ≥ 0})) / (B + 1)).
// Identical predictions give Δ*_b = 0 for every b: p = 1 and the interval [0, 0]. The smallest
// p a run can report is 2/(B + 1) (≈ 0.002 at B = 1000).
//
// Determinism: the draws come from seededRng(seed, 'results-table', purpose) — one stream for the
// items, one per seed list — so the same campaign seed gives the same intervals and p-values.
import type { MetricInterval, PairedComparison, ResultsStatistics, VariantStatistics } from './contracts';
import {
  binaryLabels,
  clinicalEfficacy,
  pycocoBleuStats,
  pycocoCorpusBleu,
  pycocoText,
  questionType,
  whitespaceTokens,
  type BinaryLabels,
  type Convention,
  type EvalFormat,
  type ItemScores,
  type PredictionItem,
  type PycocoBleuStats,
} from './metrics';
import { groundingStatistic, type GroundingRecord } from './grounding';
import { seededRng } from './rng';

/** Bootstrap resamples B when the config does not say (p resolution 2/(B+1) ≈ 0.002). */
export const DEFAULT_RESAMPLES = 1000;
export const DEFAULT_CONFIDENCE = 0.95;
/** The paired comparisons of the results table: [variant, baseline]. */
export const DEFAULT_COMPARISONS: readonly (readonly [string, string])[] = [
  ['mmedpo', 'dpo'],
  ['mmedpo', 'sft'],
];

/**
 * Sample quantile of `sorted` (ascending, finite) at p ∈ [0, 1]: Hyndman & Fan (1996) definition 7,
 * x[⌊h⌋] + (h − ⌊h⌋)(x[⌊h⌋+1] − x[⌊h⌋]) with h = (n − 1)p. NaN for an empty input.
 */
export function quantile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = (n - 1) * Math.min(1, Math.max(0, p));
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/**
 * Percentile bootstrap interval (Efron & Tibshirani 1993, §13.3): the (1 − confidence)/2 and
 * (1 + confidence)/2 quantiles (definition 7) of the replicates. Non-finite replicates are dropped
 * (a statistic undefined on that resample); NaN bounds when none is left.
 */
export function percentileInterval(replicates: ArrayLike<number>, confidence = DEFAULT_CONFIDENCE): { lo: number; hi: number } {
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`confidence must be in (0, 1), got ${confidence}`);
  const xs = Float64Array.from(Array.from(replicates).filter(Number.isFinite)).sort();
  return { lo: quantile(xs, (1 - confidence) / 2), hi: quantile(xs, (1 + confidence) / 2) };
}

/**
 * Two-sided paired-bootstrap p-value of H0: no difference, from the replicates Δ*_b of a difference:
 * p = min(1, 2(1 + min(#{Δ* ≤ 0}, #{Δ* ≥ 0}))/(B + 1)) — percentile-interval inversion (Efron &
 * Tibshirani 1993, §15.4) with the Monte-Carlo +1 correction (Davison & Hinkley 1997, §4.2).
 * Ties at 0 count on both sides (conservative). Non-finite replicates are dropped; NaN when none is left.
 */
export function pairedBootstrapP(diffs: ArrayLike<number>): number {
  let le = 0;
  let ge = 0;
  let b = 0;
  for (let i = 0; i < diffs.length; i++) {
    const d = diffs[i]!;
    if (!Number.isFinite(d)) continue;
    b++;
    if (d <= 0) le++;
    if (d >= 0) ge++;
  }
  if (b === 0) return Number.NaN;
  return Math.min(1, (2 * (1 + Math.min(le, ge))) / (b + 1));
}

// ---------------------------------------------------------------- draws

/** Item positions 0..n−1 (a multiset: a position drawn twice counts twice). */
export type ItemsStatistic = (idx: ArrayLike<number>) => Record<string, number>;

/** One bootstrap replicate's draw. */
export interface BootstrapDraw {
  /** n item positions drawn with replacement (within strata). */
  items: ArrayLike<number>;
  /**
   * Per seed list (seedListKey(seeds)): positions into that list drawn with replacement, one per
   * seed. A list of one seed may be omitted (it can only draw itself).
   */
  seeds?: Record<string, ArrayLike<number>>;
}

export const seedListKey = (seeds: readonly number[]): string => seeds.join(',');

/**
 * The seeded draws of B replicates: items within each stratum (strata: position lists partitioning
 * 0..n−1; the drawn positions come out stratum by stratum) and one position list per seed list.
 * Streams: seededRng(seed, 'results-table', 'bootstrap-items') and (…, 'bootstrap-seeds:<list>'), so
 * adding a variant or a seed list never changes the item draws.
 */
export function* seededDraws(seed: number | string, strata: readonly (readonly number[])[], seedLists: readonly (readonly number[])[], resamples: number): Generator<BootstrapDraw> {
  const itemRng = seededRng(seed, 'results-table', 'bootstrap-items');
  const lists = [...new Map(seedLists.map((s) => [seedListKey(s), s.length])).entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const seedRngs = lists.map(([key]) => seededRng(seed, 'results-table', `bootstrap-seeds:${key}`));
  const n = strata.reduce((a, s) => a + s.length, 0);
  for (let b = 0; b < resamples; b++) {
    const items: number[] = new Array<number>(n);
    let k = 0;
    for (const s of strata) for (let j = 0; j < s.length; j++) items[k++] = s[itemRng.int(s.length)]!;
    const seeds: Record<string, number[]> = {};
    lists.forEach(([key, len], i) => {
      const pos: number[] = new Array<number>(len);
      for (let j = 0; j < len; j++) pos[j] = seedRngs[i]!.int(len);
      seeds[key] = pos;
    });
    yield { items, seeds };
  }
}

// ---------------------------------------------------------------- the bootstrap

/** One (variant, training seed) evaluation as a statistic of the item multiset. */
export interface RunStatistic {
  variant: string;
  seed: number;
  /** metric key → value on the items at these positions (positions aligned across all runs). */
  statistic: ItemsStatistic;
}

export interface BootstrapInput {
  runs: readonly RunStatistic[];
  /** n: the test items every run is aligned on. */
  items: number;
  /** Position lists partitioning 0..n−1; default one stratum. */
  strata?: readonly (readonly number[])[];
  /** [variant, baseline] pairs; pairs with a missing variant are left out. Default DEFAULT_COMPARISONS. */
  comparisons?: readonly (readonly [string, string])[];
  /** B; ignored when `draws` is given (B = its length). */
  resamples?: number;
  confidence?: number;
  /** Seed of the draws (the campaign seed). */
  seed: number | string;
  /** The replicates' draws instead of seededDraws (an exact reproduction, or a hand-computed check). */
  draws?: Iterable<BootstrapDraw>;
  notes?: string[];
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * Mean over seeds ± percentile bootstrap interval per variant and metric, and the paired comparisons
 * (difference, interval, two-sided p), by the procedure at the top of this file. A metric is kept
 * for a variant when every seed's full-sample value is finite. Throws on a duplicate (variant, seed)
 * or a draw whose item count is not n.
 */
export function bootstrapResults(input: BootstrapInput): ResultsStatistics {
  const n = input.items;
  const confidence = input.confidence ?? DEFAULT_CONFIDENCE;
  const strata = input.strata ?? [Array.from({ length: n }, (_, i) => i)];
  const byVariant = new Map<string, RunStatistic[]>();
  for (const r of input.runs) {
    const list = byVariant.get(r.variant) ?? [];
    if (list.some((x) => x.seed === r.seed)) throw new Error(`two evaluations of variant ${r.variant} with seed ${r.seed}`);
    list.push(r);
    byVariant.set(r.variant, list);
  }
  const all = Array.from({ length: n }, (_, i) => i);
  type V = { variant: string; runs: RunStatistic[]; seeds: number[]; key: string; metrics: string[]; estimate: Record<string, number>; reps: Record<string, number[]> };
  const variants: V[] = [...byVariant.entries()].map(([variant, rs]) => {
    const runs = [...rs].sort((a, b) => a.seed - b.seed);
    const full = runs.map((r) => r.statistic(all));
    const metrics = Object.keys(full[0] ?? {}).filter((m) => full.every((f) => Number.isFinite(f[m])));
    const estimate = Object.fromEntries(metrics.map((m) => [m, mean(full.map((f) => f[m]!))]));
    const seeds = runs.map((r) => r.seed);
    return { variant, runs, seeds, key: seedListKey(seeds), metrics, estimate, reps: Object.fromEntries(metrics.map((m) => [m, [] as number[]])) };
  });
  const draws = input.draws ?? seededDraws(input.seed, strata, variants.map((v) => v.seeds), input.resamples ?? DEFAULT_RESAMPLES);
  let resamples = 0;
  for (const d of draws) {
    if (d.items.length !== n) throw new Error(`bootstrap draw ${resamples} has ${d.items.length} items, expected ${n}`);
    for (const v of variants) {
      const pos = d.seeds?.[v.key] ?? (v.seeds.length === 1 ? [0] : undefined);
      if (!pos) throw new Error(`bootstrap draw ${resamples} has no seed positions for seeds ${v.key}`);
      const cache = new Map<number, Record<string, number>>();
      const at = (j: number) => {
        let r = cache.get(j);
        if (!r) cache.set(j, (r = v.runs[j]!.statistic(d.items)));
        return r;
      };
      for (const m of v.metrics) {
        let s = 0;
        for (let j = 0; j < pos.length; j++) s += at(pos[j]!)[m]!;
        v.reps[m]!.push(s / pos.length);
      }
    }
    resamples++;
  }
  const interval = (estimate: number, reps: number[]): MetricInterval => ({ estimate, ...percentileInterval(reps, confidence) });
  const variantStats: VariantStatistics[] = variants.map((v) => ({
    variant: v.variant,
    seeds: v.seeds,
    metrics: Object.fromEntries(v.metrics.map((m) => [m, interval(v.estimate[m]!, v.reps[m]!)])),
  }));
  const comparisons: PairedComparison[] = [];
  for (const [a, b] of input.comparisons ?? DEFAULT_COMPARISONS) {
    const va = variants.find((v) => v.variant === a);
    const vb = variants.find((v) => v.variant === b);
    if (!va || !vb) continue;
    const metrics: PairedComparison['metrics'] = {};
    for (const m of va.metrics.filter((x) => vb.metrics.includes(x))) {
      const diffs = va.reps[m]!.map((x, i) => x - vb.reps[m]![i]!);
      metrics[m] = { ...interval(va.estimate[m]! - vb.estimate[m]!, diffs), p: pairedBootstrapP(diffs) };
    }
    comparisons.push({ variant: a, baseline: b, pairedSeeds: va.key === vb.key, metrics });
  }
  return {
    method: `percentile bootstrap over test items${strata.length > 1 ? ' (stratified)' : ''} and training seeds (pigeonhole, Owen 2007); paired on the same resampled items; two-sided p by interval inversion (Efron & Tibshirani 1993 §15.4) with (1+#)/(B+1)`,
    resamples,
    confidence,
    seed: input.seed,
    items: n,
    strata: strata.map((s) => s.length),
    variants: variantStats,
    comparisons,
    notes: input.notes ?? [],
  };
}

// ---------------------------------------------------------------- metrics as statistics of the items

/** The keys averaged per item (as scorePredictions does) for the report format, by convention; the others are corpus statistics. */
const REPORT_MEAN_KEYS: Record<Convention, readonly string[]> = {
  // not meteor: under pycoco it is METEOR 1.5's corpus aggregate, not a mean of the stored segment scores
  pycoco: ['rouge_l'],
  'mmedpo-release': ['bleu1', 'bleu2', 'bleu3', 'bleu4', 'bleu', 'bleu_avg', 'rouge_l', 'meteor'],
};

/**
 * The metrics of one scored evaluation as a statistic of the item multiset, computed as
 * core/metrics' score() computes them (see the top of this file): on all positions it returns
 * score()'s totals for those keys. `predictions[i]` and `perItem[i]` are the same item (aligned).
 * Report format: the pycoco BLEU statistics use the whitespace tokenizer, as scorePredictions does.
 * A per-item-mean metric with no item in the resample is NaN.
 */
export function itemsStatistic(format: EvalFormat, convention: Convention, predictions: readonly PredictionItem[], perItem: readonly ItemScores[]): ItemsStatistic {
  const meanKeys =
    format === 'vqa' ? [...new Set(perItem.flatMap((p) => Object.keys(p.scores)))].sort() : REPORT_MEAN_KEYS[convention].filter((k) => perItem.some((p) => k in p.scores));
  const columns = meanKeys.map((k) => Float64Array.from(perItem, (p) => (typeof p.scores[k] === 'number' ? p.scores[k]! : Number.NaN)));
  const meanOf = (col: Float64Array, idx: ArrayLike<number>) => {
    let s = 0;
    let c = 0;
    for (let j = 0; j < idx.length; j++) {
      const x = col[idx[j]!]!;
      if (x === x) {
        s += x;
        c++;
      }
    }
    return c ? s / c : Number.NaN;
  };
  if (format === 'vqa') return (idx) => Object.fromEntries(meanKeys.map((k, i) => [k, meanOf(columns[i]!, idx)]));
  let bleu: PycocoBleuStats[] | undefined;
  if (convention === 'pycoco') {
    bleu = predictions.map((it) => pycocoBleuStats(whitespaceTokens(pycocoText(it.prediction ?? '', 'whitespace')), whitespaceTokens(pycocoText(it.reference ?? '', 'whitespace'))));
  }
  const predLabels: BinaryLabels[] = predictions.map((it) => binaryLabels(it.prediction ?? ''));
  const refLabels: BinaryLabels[] = predictions.map((it) => binaryLabels(it.reference ?? ''));
  return (idx) => {
    const out: Record<string, number> = Object.fromEntries(meanKeys.map((k, i) => [k, meanOf(columns[i]!, idx)]));
    if (bleu) {
      // pycocoCorpusBleu sums its inputs' counts: one summed record gives the corpus score.
      const sum: PycocoBleuStats = { correct: [0, 0, 0, 0], guess: [0, 0, 0, 0], testlen: 0, reflen: 0 };
      for (let j = 0; j < idx.length; j++) {
        const s = bleu[idx[j]!]!;
        for (let k = 0; k < 4; k++) {
          sum.correct[k]! += s.correct[k]!;
          sum.guess[k]! += s.guess[k]!;
        }
        sum.testlen += s.testlen;
        sum.reflen += s.reflen;
      }
      const b = idx.length ? pycocoCorpusBleu([sum]) : [0, 0, 0, 0];
      b.forEach((x, k) => (out[`bleu${k + 1}`] = 100 * x));
      out.bleu = out.bleu_avg = (100 * (b[0]! + b[1]! + b[2]! + b[3]!)) / 4;
    }
    const pl: BinaryLabels[] = new Array(idx.length);
    const rl: BinaryLabels[] = new Array(idx.length);
    for (let j = 0; j < idx.length; j++) {
      pl[j] = predLabels[idx[j]!]!;
      rl[j] = refLabels[idx[j]!]!;
    }
    const ce = clinicalEfficacy(pl, rl);
    Object.assign(out, {
      ce_precision_micro: 100 * ce.microPrecision,
      ce_recall_micro: 100 * ce.microRecall,
      ce_f1_micro: 100 * ce.microF1,
      ce_precision_macro: 100 * ce.macroPrecision,
      ce_recall_macro: 100 * ce.macroRecall,
      ce_f1_macro: 100 * ce.macroF1,
    });
    return out;
  };
}

/** One (variant, seed) evaluation as stored: its predictions and scorePredictions' per-item scores. */
export interface ScoredRun {
  variant: string;
  seed: number;
  convention: Convention;
  predictions: readonly PredictionItem[];
  perItem: readonly ItemScores[];
  /** Phantom sets: the grounding document's per-question records (keyed by item `id`); their metrics join the statistic. */
  grounding?: readonly GroundingRecord[];
}

/**
 * The results table's statistics from a campaign's scored evaluations (one per variant and seed).
 * Items are aligned by id on the items every run holds (the first run's order); fewer than a run
 * holds is recorded in `notes`. Strata: VQA by question type (open / closed, core/metrics
 * questionType), reports one stratum. Throws when the runs mix conventions.
 */
export function resultsStatistics(
  format: EvalFormat,
  runs: readonly ScoredRun[],
  opts: { seed: number | string; resamples?: number; confidence?: number; comparisons?: readonly (readonly [string, string])[]; draws?: Iterable<BootstrapDraw> },
): ResultsStatistics {
  const conventions = [...new Set(runs.map((r) => r.convention))];
  if (conventions.length > 1) throw new Error(`evaluations scored under different conventions (${conventions.join(', ')})`);
  const convention = conventions[0] ?? 'pycoco';
  const notes: string[] = [];
  const maps = runs.map((r) => ({ preds: new Map(r.predictions.map((p) => [p.id, p])), scores: new Map(r.perItem.map((p) => [p.id, p])) }));
  const ids = (runs[0]?.predictions ?? []).map((p) => p.id).filter((id) => maps.every((m) => m.preds.has(id) && m.scores.has(id)));
  const most = Math.max(0, ...runs.map((r) => r.predictions.length));
  if (ids.length < most) notes.push(`intervals on the ${ids.length} test items every evaluation holds (an evaluation holds ${most})`);
  if (format === 'report' && convention === 'pycoco' && runs.some((r) => r.perItem.some((p) => 'meteor' in p.scores)))
    notes.push("METEOR has no interval: METEOR 1.5's corpus score aggregates the jar's per-segment statistics, which the scores document does not keep");
  const aligned = runs.map((r, i) => ({ run: r, preds: ids.map((id) => maps[i]!.preds.get(id)!), scores: ids.map((id) => maps[i]!.scores.get(id)!) }));
  const first = aligned[0]?.preds ?? [];
  const strata =
    format === 'vqa'
      ? (['open', 'closed'] as const).map((t) => first.flatMap((p, i) => (questionType(p) === t ? [i] : []))).filter((s) => s.length > 0)
      : [ids.map((_, i) => i)];
  const statisticOf = (a: (typeof aligned)[number]): ItemsStatistic => {
    const scores = itemsStatistic(format, convention, a.preds, a.scores);
    if (!a.run.grounding?.length) return scores;
    const byId = new Map(a.run.grounding.flatMap((r) => (r.id ? [[r.id, r] as const] : [])));
    const grounding = groundingStatistic(ids.map((id) => byId.get(id)));
    return (idx) => ({ ...scores(idx), ...grounding(idx) });
  };
  return bootstrapResults({
    runs: aligned.map((a) => ({ variant: a.run.variant, seed: a.run.seed, statistic: statisticOf(a) })),
    items: ids.length,
    strata: strata.length ? strata : [[]],
    comparisons: opts.comparisons,
    resamples: opts.resamples,
    confidence: opts.confidence,
    seed: opts.seed,
    draws: opts.draws,
    notes,
  });
}
