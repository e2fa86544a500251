// Results rendering (pure: data in, strings out): the paper's Table 1 layout as Markdown and
// CSV, and a self-contained HTML report with inline SVG plots (training loss and reward-margin
// curves per variant; metric bars per variant). No external assets, no scripts.
//
// Rows are variants in the paper's order — base, + SFT, + DPO, + MMedPO (+ SFT + MMedPO if
// present) — then the ablations that are present, in the order stage1-only, stage2-only, no-crs,
// single-llm, global-noise, then any other variant in input order. Row values are the flat totals
// of scorePredictions / `mmedpo eval` (percentages). Columns are fixed per format:
//   vqa     open recall (open_recall), closed accuracy (closed_accuracy, LLaVA-Med rule as
//           published under pycoco), closed accuracy strict (closed_accuracy_strict)
//   report  BLEU = average of BLEU-1..4 (bleu_avg, else the mean of bleu1..bleu4), BLEU-1..4
//           (bleu1..bleu4), ROUGE-L (rouge_l), METEOR (meteor), CE F1 (rule-based labeler) (ce_f1_micro: the
//           rule-based clinical-efficacy labeler of core/chexpert.ts, not CheXpert or CheXbert)
// Values have 2 decimals (a column's `decimals` when set: lesion sensitivity 3). A missing value is "–" in
// Markdown and empty in CSV. Best value per column among the non-ablation rows is bold in Markdown (the lowest
// for a column where lower is better).
//
// Grounding columns (GROUNDING_COLUMNS, VQA on a phantom set: trainer/grounding.py computes them from the
// set's ground truth, README "The grounding testbed") follow the paper's columns when any row or the
// statistics carry them, and are left out otherwise:
//   counter-prior accuracy (counter_prior_accuracy, %: closed accuracy on the questions whose wording cues
//   the other answer), blind gap (blind_gap, points: closed accuracy with the image − with a blank image),
//   lesion sensitivity (lesion_sensitivity, nats: mean of [log π(a|x) − log π(a|x̃_lesion)] −
//   [log π(a|x) − log π(a|x̃_control)], Eq. 2 noise in the lesion mask vs an equal-area region away from it),
//   hallucination rate (hallucination_rate, %, lower is better: findings stated on studies with none).
//
// With statistics (core/stats.ts: ResultsStatistics) a cell is the mean over training seeds with
// its 95% percentile bootstrap interval, "43.52 [38.10, 49.07]" (CSV: value, CI low, CI high
// columns), even for one seed (the within-seed item bootstrap); the paired comparisons (MMedPO − DPO,
// MMedPO − SFT) follow as rows "+0.93 [-2.10, 3.90], p = 0.540" (CSV: a p column per metric), and a
// footnote states the procedure. The HTML report draws the intervals as error bars on the metric
// bars and the differences as a forest plot around 0 (inline SVG).
//
// The HTML report also shows what the campaign curated, when the caller gathers it
// (activities/campaign-report.ts reads it from S3): a gallery of curated pairs (image, the visual
// tool's heatmap over it, the noised image x*, question, chosen and rejected answers, the debate's
// turns, raw score and normalized weight), histograms of raw and normalized scores per branch, DPO
// reward margins and accuracies per step, and the quarantine reasons counted. Images arrive as data:
// URLs, so the file stays self-contained: no script, no stylesheet, no request of its own.

import type { MetricInterval, PairedComparison, ResultsStatistics } from './contracts';

export type ResultsFormat = 'vqa' | 'report';

export interface ResultsRow {
  variant: string;
  totals: Record<string, number>;
}

export interface ResultsColumn {
  header: string;
  /** The metric key (scorePredictions' totals, core/stats' statistics) the column shows. */
  key: string;
  value: (totals: Record<string, number>) => number | undefined;
  /** The best value is the lowest (a rate of errors), not the highest. */
  lowerIsBetter?: boolean;
  /** Decimals shown (default 2): lesion sensitivity is thousandths of a nat on a small model. */
  decimals?: number;
}

const num = (t: Record<string, number>, k: string): number | undefined => (typeof t[k] === 'number' && Number.isFinite(t[k]) ? t[k] : undefined);

function bleuAvg(t: Record<string, number>): number | undefined {
  const a = num(t, 'bleu_avg');
  if (a !== undefined) return a;
  const b = [1, 2, 3, 4].map((n) => num(t, `bleu${n}`));
  return b.every((x) => x !== undefined) ? (b as number[]).reduce((x, y) => x + y, 0) / 4 : undefined;
}

export const RESULTS_COLUMNS: Record<ResultsFormat, readonly ResultsColumn[]> = {
  vqa: [
    { header: 'Open recall', key: 'open_recall', value: (t) => num(t, 'open_recall') },
    { header: 'Closed accuracy', key: 'closed_accuracy', value: (t) => num(t, 'closed_accuracy') },
    { header: 'Closed accuracy (strict)', key: 'closed_accuracy_strict', value: (t) => num(t, 'closed_accuracy_strict') },
  ],
  report: [
    { header: 'BLEU (avg 1-4)', key: 'bleu_avg', value: bleuAvg },
    { header: 'BLEU-1', key: 'bleu1', value: (t) => num(t, 'bleu1') },
    { header: 'BLEU-2', key: 'bleu2', value: (t) => num(t, 'bleu2') },
    { header: 'BLEU-3', key: 'bleu3', value: (t) => num(t, 'bleu3') },
    { header: 'BLEU-4', key: 'bleu4', value: (t) => num(t, 'bleu4') },
    { header: 'ROUGE-L', key: 'rouge_l', value: (t) => num(t, 'rouge_l') },
    { header: 'METEOR', key: 'meteor', value: (t) => num(t, 'meteor') },
    { header: 'CE F1 (rule-based labeler)', key: 'ce_f1_micro', value: (t) => num(t, 'ce_f1_micro') },
  ],
};

/** Grounding metrics from a phantom set's ground truth (trainer/grounding.py); shown when present. */
export const GROUNDING_COLUMNS: readonly ResultsColumn[] = [
  { header: 'Counter-prior accuracy', key: 'counter_prior_accuracy', value: (t) => num(t, 'counter_prior_accuracy') },
  { header: 'Blind gap (points)', key: 'blind_gap', value: (t) => num(t, 'blind_gap') },
  { header: 'Lesion sensitivity (nats)', key: 'lesion_sensitivity', value: (t) => num(t, 'lesion_sensitivity'), decimals: 3 },
  { header: 'Hallucination rate', key: 'hallucination_rate', value: (t) => num(t, 'hallucination_rate'), lowerIsBetter: true },
];

/**
 * The columns of a results table: the format's RESULTS_COLUMNS, then (VQA) each grounding column that some row's
 * totals or the statistics hold a finite value for.
 */
export function resultsColumns(format: ResultsFormat, rows: readonly { variant: string; totals: Record<string, number> }[], statistics?: ResultsStatistics): ResultsColumn[] {
  const extra = format === 'vqa' ? GROUNDING_COLUMNS.filter((c) => rows.some((r) => cellOf(c, r, statistics) !== undefined)) : [];
  return [...RESULTS_COLUMNS[format], ...extra];
}

export const VARIANT_ORDER: readonly string[] = ['base', 'sft', 'dpo', 'mmedpo', 'sft+mmedpo', 'stage1-only', 'stage2-only', 'no-crs', 'single-llm', 'global-noise'];
export const VARIANT_LABELS: Record<string, string> = {
  base: 'base',
  sft: '+ SFT',
  dpo: '+ DPO',
  mmedpo: '+ MMedPO',
  'sft+mmedpo': '+ SFT + MMedPO',
  'stage1-only': 'ablation: stage 1 only',
  'stage2-only': 'ablation: stage 2 only',
  'no-crs': 'ablation: w/o clinical relevance scores',
  'single-llm': 'ablation: single Med-LLM scorer',
  'global-noise': 'ablation: global noise',
};
export const ABLATIONS: ReadonlySet<string> = new Set(['stage1-only', 'stage2-only', 'no-crs', 'single-llm', 'global-noise']);

export const variantLabel = (v: string): string => VARIANT_LABELS[v] ?? v;

/** Paper order (stable for unknown variants, which come last in input order). */
export function orderRows<R extends { variant: string }>(rows: readonly R[]): R[] {
  const rank = (v: string) => {
    const i = VARIANT_ORDER.indexOf(v);
    return i < 0 ? VARIANT_ORDER.length : i;
  };
  return rows.map((r, i) => ({ r, i })).sort((a, b) => rank(a.r.variant) - rank(b.r.variant) || a.i - b.i).map((x) => x.r);
}

function checkFormat(format: string): asserts format is ResultsFormat {
  if (format !== 'vqa' && format !== 'report') throw new Error(`unknown results format "${format}": use vqa or report`);
}


/** A column's cell for a variant: the interval when the statistics hold it, else the total. */
export function cellOf(c: ResultsColumn, r: { variant: string; totals: Record<string, number> }, stats?: ResultsStatistics): MetricInterval | { estimate: number } | undefined {
  const iv = stats?.variants.find((v) => v.variant === r.variant)?.metrics[c.key];
  if (iv && Number.isFinite(iv.estimate)) return iv;
  const v = c.value(r.totals ?? {});
  return v === undefined ? undefined : { estimate: v };
}

const hasInterval = (x: unknown): x is MetricInterval => typeof (x as MetricInterval | undefined)?.lo === 'number' && Number.isFinite((x as MetricInterval).lo);
const signed = (v: number, decimals = 2) => (v > 0 ? `+${v.toFixed(decimals)}` : v.toFixed(decimals));
/** p to 3 decimals (the resolution of B = 1000 is 0.002); smaller ones in exponent form. */
export const formatP = (p: number) => (!Number.isFinite(p) ? '–' : p >= 0.001 ? p.toFixed(3) : p.toExponential(1));
const shortLabel = (v: string) => variantLabel(v).replace(/^\+ /, '');
export const comparisonLabel = (c: { variant: string; baseline: string }) => `${shortLabel(c.variant)} − ${shortLabel(c.baseline)}`;

/** "43.52 [38.10, 49.07]" or "43.52" (`decimals`: the column's, default 2). */
export function formatCell(x: MetricInterval | { estimate: number } | undefined, decimals = 2): string {
  if (!x) return '–';
  return hasInterval(x) ? `${x.estimate.toFixed(decimals)} [${x.lo.toFixed(decimals)}, ${x.hi.toFixed(decimals)}]` : x.estimate.toFixed(decimals);
}

/** "+0.93 [-2.10, 3.90], p = 0.540". */
export function formatDifference(d: (MetricInterval & { p: number }) | undefined, decimals = 2): string {
  if (!d) return '–';
  return `${signed(d.estimate, decimals)} [${d.lo.toFixed(decimals)}, ${d.hi.toFixed(decimals)}], p = ${formatP(d.p)}`;
}

/** One line saying what the intervals and p-values are (seeds, n, B, confidence, method). */
export function statisticsFootnote(stats: ResultsStatistics): string {
  const lists = [...new Set(stats.variants.map((v) => v.seeds.join(', ')))];
  const seeds =
    lists.length === 1
      ? `${stats.variants[0]!.seeds.length === 1 ? 'seed' : 'mean over training seeds'} ${lists[0]}`
      : `mean over training seeds (${stats.variants.map((v) => `${v.variant}: ${v.seeds.join(', ')}`).join('; ')})`;
  const pct = Math.round(stats.confidence * 1000) / 10;
  return (
    `Values: ${seeds}; [${pct}% CI]: percentile bootstrap over the ${stats.items} test items` +
    `${stats.strata.length > 1 ? ` (stratified: ${stats.strata.join(' + ')})` : ''}${lists.some((l) => l.includes(',')) ? ' and the seeds' : ''}, B = ${stats.resamples}, seed ${stats.seed}. ` +
    `Differences: paired on the same resampled items${stats.comparisons.some((c) => c.pairedSeeds) && lists.some((l) => l.includes(',')) ? ' and seeds' : ''}; p: two-sided paired bootstrap, p = min(1, 2(1 + #sign flips)/(B + 1)).`
  );
}

/** Table 1 layout as Markdown and CSV (2 decimals); with statistics, intervals, paired differences and p-values. */
export function renderResultsTable(rows: { variant: string; totals: Record<string, number> }[], format: 'vqa' | 'report', statistics?: ResultsStatistics): { markdown: string; csv: string } {
  checkFormat(format);
  const cols = resultsColumns(format, rows, statistics);
  const ordered = orderRows(rows);
  const cells = ordered.map((r) => cols.map((c) => cellOf(c, r, statistics)));
  const best = cols.map((c, i) => {
    const vs = ordered.flatMap((r, k) => (ABLATIONS.has(r.variant) ? [] : cells[k]![i] ? [cells[k]![i]!.estimate] : []));
    return vs.length > 1 ? (c.lowerIsBetter ? Math.min(...vs) : Math.max(...vs)) : undefined;
  });
  const comparisons = (statistics?.comparisons ?? []).filter((c) => Object.keys(c.metrics).length > 0);
  const mdEsc = (s: string) => s.replace(/\|/g, '\\|');
  const md: string[] = [`| Model | ${cols.map((c) => mdEsc(c.header)).join(' | ')} |`, `|---|${cols.map(() => '---:').join('|')}|`];
  let sep = false;
  ordered.forEach((r, k) => {
    if (ABLATIONS.has(r.variant) && !sep && ordered.some((x) => !ABLATIONS.has(x.variant))) {
      md.push(`| *ablations* |${cols.map(() => ' ').join('|')}|`);
      sep = true;
    }
    const line = cols.map((_, i) => {
      const x = cells[k]![i];
      const s = formatCell(x, cols[i]!.decimals);
      return x && !ABLATIONS.has(r.variant) && best[i] !== undefined && x.estimate === best[i] ? `**${s}**` : s;
    });
    md.push(`| ${mdEsc(variantLabel(r.variant))} | ${line.join(' | ')} |`);
  });
  if (comparisons.length) {
    md.push(`| *paired difference [CI], p* |${cols.map(() => ' ').join('|')}|`);
    for (const c of comparisons) md.push(`| ${mdEsc(comparisonLabel(c))} | ${cols.map((col) => formatDifference(c.metrics[col.key], col.decimals)).join(' | ')} |`);
  }
  if (statistics) md.push('', statisticsFootnote(statistics), ...statistics.notes.map((n) => `Note: ${n}`));
  const csvEsc = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const f2 = (v: number | undefined, decimals = 2) => (v === undefined || !Number.isFinite(v) ? '' : v.toFixed(decimals));
  const csv: string[] = [];
  if (!statistics) {
    csv.push(['variant', 'model', ...cols.map((c) => c.header)].map(csvEsc).join(','));
    ordered.forEach((r, k) => csv.push([r.variant, variantLabel(r.variant), ...cells[k]!.map((x, i) => f2(x?.estimate, cols[i]!.decimals))].map(csvEsc).join(',')));
  } else {
    csv.push(['variant', 'model', 'seeds', ...cols.flatMap((c) => [c.header, `${c.header} CI low`, `${c.header} CI high`, `${c.header} p`])].map(csvEsc).join(','));
    ordered.forEach((r, k) => {
      const seeds = statistics.variants.find((v) => v.variant === r.variant)?.seeds.join(' ') ?? '';
      csv.push([r.variant, variantLabel(r.variant), seeds, ...cells[k]!.flatMap((x, i) => [f2(x?.estimate, cols[i]!.decimals), f2(hasInterval(x) ? x.lo : undefined, cols[i]!.decimals), f2(hasInterval(x) ? x.hi : undefined, cols[i]!.decimals), ''])].map(csvEsc).join(','));
    });
    for (const c of comparisons) {
      const d = cols.flatMap((col) => {
        const m = c.metrics[col.key];
        return m ? [f2(m.estimate, col.decimals), f2(m.lo, col.decimals), f2(m.hi, col.decimals), Number.isFinite(m.p) ? m.p.toFixed(4) : ''] : ['', '', '', ''];
      });
      csv.push([`${c.variant}-vs-${c.baseline}`, comparisonLabel(c), '', ...d].map(csvEsc).join(','));
    }
  }
  return { markdown: md.join('\n') + '\n', csv: csv.join('\n') + '\n' };
}

// ---------------------------------------------------------------- HTML report

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3));

/** Line chart of several series (x = step index) as an inline SVG. Non-finite points are skipped. */
export function svgLineChart(title: string, series: ReadonlyArray<{ name: string; values: readonly number[] }>, w = 480, h = 260): string {
  const pad = { l: 56, r: 12, t: 28, b: 36 };
  const all = series.flatMap((s) => s.values.filter(Number.isFinite));
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${escapeHtml(title)}">`];
  parts.push(`<text x="${w / 2}" y="18" text-anchor="middle" font-size="14">${escapeHtml(title)}</text>`);
  if (all.length === 0) {
    parts.push(`<text x="${w / 2}" y="${h / 2}" text-anchor="middle" font-size="12">no data</text></svg>`);
    return parts.join('');
  }
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (hi === lo) [lo, hi] = [lo - 1, hi + 1];
  const maxLen = Math.max(...series.map((s) => s.values.length));
  const X = (i: number) => pad.l + (maxLen > 1 ? (i / (maxLen - 1)) * (w - pad.l - pad.r) : (w - pad.l - pad.r) / 2);
  const Y = (v: number) => pad.t + (1 - (v - lo) / (hi - lo)) * (h - pad.t - pad.b);
  parts.push(`<line x1="${pad.l}" y1="${h - pad.b}" x2="${w - pad.r}" y2="${h - pad.b}" stroke="#333"/><line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${h - pad.b}" stroke="#333"/>`);
  for (const v of [lo, (lo + hi) / 2, hi]) parts.push(`<text x="${pad.l - 4}" y="${Y(v) + 4}" text-anchor="end" font-size="10">${fmt(v)}</text>`);
  parts.push(`<text x="${w - pad.r}" y="${h - pad.b + 14}" text-anchor="end" font-size="10">step ${maxLen}</text>`);
  series.forEach((s, k) => {
    const pts = s.values.map((v, i) => (Number.isFinite(v) ? `${X(i).toFixed(1)},${Y(v).toFixed(1)}` : '')).filter(Boolean);
    const color = PALETTE[k % PALETTE.length];
    if (pts.length) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts.join(' ')}"/>`);
    parts.push(`<text x="${pad.l + 6 + 110 * k}" y="${h - 8}" font-size="10" fill="${color}">${escapeHtml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/**
 * Horizontal bar chart of one metric across variants as an inline SVG; a bar with lo/hi gets an
 * error bar (its confidence interval: a whisker with end caps). The scale holds the largest hi.
 * Values are labelled with `decimals` decimals (counts: 0).
 */
export function svgBarChart(title: string, bars: ReadonlyArray<{ name: string; value: number; lo?: number; hi?: number }>, w = 480, decimals = 2): string {
  const rowH = 22;
  const pad = { l: 200, r: 56, t: 28 };
  const h = pad.t + rowH * bars.length + 10;
  const max = Math.max(1e-9, ...bars.flatMap((b) => [b.value, b.hi ?? Number.NaN]).filter(Number.isFinite));
  // A metric that can be negative (blind gap, lesion sensitivity) gets an axis from its lowest value: bars grow
  // from 0 either way; all-positive metrics keep the axis at 0 on the left.
  const min = Math.min(0, ...bars.flatMap((b) => [b.value, b.lo ?? Number.NaN]).filter(Number.isFinite));
  const X = (v: number) => pad.l + Math.max(0, ((v - min) / (max - min)) * (w - pad.l - pad.r));
  const zero = X(0);
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${escapeHtml(title)}">`];
  parts.push(`<text x="${w / 2}" y="18" text-anchor="middle" font-size="14">${escapeHtml(title)}</text>`);
  bars.forEach((b, i) => {
    const y = pad.t + i * rowH;
    const end = Number.isFinite(b.value) ? X(b.value) : zero;
    const bw = Math.abs(end - zero);
    let labelX = Math.max(zero, end) + 4;
    parts.push(`<text x="${pad.l - 6}" y="${y + 15}" text-anchor="end" font-size="11">${escapeHtml(b.name)}</text>`);
    parts.push(`<rect x="${Math.min(zero, end).toFixed(1)}" y="${y + 3}" width="${bw.toFixed(1)}" height="${rowH - 6}" fill="${PALETTE[i % PALETTE.length]}"/>`);
    if (Number.isFinite(b.lo) && Number.isFinite(b.hi)) {
      const [x1, x2, cy] = [X(b.lo!), X(b.hi!), y + rowH / 2];
      parts.push(`<path class="ci" d="M${x1.toFixed(1)} ${cy}H${x2.toFixed(1)}M${x1.toFixed(1)} ${cy - 5}V${cy + 5}M${x2.toFixed(1)} ${cy - 5}V${cy + 5}" stroke="#222" stroke-width="1.2" fill="none"><title>${escapeHtml(`${b.name}: ${b.value.toFixed(decimals)} [${b.lo!.toFixed(decimals)}, ${b.hi!.toFixed(decimals)}]`)}</title></path>`);
      labelX = Math.max(labelX, x2 + 4);
    }
    parts.push(`<text x="${labelX.toFixed(1)}" y="${y + 15}" font-size="11">${Number.isFinite(b.value) ? b.value.toFixed(decimals) : '–'}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/**
 * Forest plot of differences with their confidence intervals around a dashed zero line, as an inline
 * SVG: a dot at the estimate, a whisker from lo to hi; the label gives the estimate and p.
 */
export function svgIntervalChart(title: string, rows: ReadonlyArray<{ name: string; estimate: number; lo: number; hi: number; p?: number }>, w = 480, decimals = 2): string {
  const rowH = 22;
  const pad = { l: 150, r: 150, t: 28 };
  const h = pad.t + rowH * rows.length + 10;
  const vals = rows.flatMap((r) => [r.estimate, r.lo, r.hi]).filter(Number.isFinite);
  let lo = Math.min(0, ...vals);
  let hi = Math.max(0, ...vals);
  if (hi === lo) [lo, hi] = [lo - 1, hi + 1];
  const X = (v: number) => pad.l + ((v - lo) / (hi - lo)) * (w - pad.l - pad.r);
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${escapeHtml(title)}">`];
  parts.push(`<text x="${w / 2}" y="18" text-anchor="middle" font-size="14">${escapeHtml(title)}</text>`);
  parts.push(`<line x1="${X(0).toFixed(1)}" y1="${pad.t}" x2="${X(0).toFixed(1)}" y2="${h - 10}" stroke="#888" stroke-dasharray="3 3"/>`);
  rows.forEach((r, i) => {
    const cy = pad.t + i * rowH + rowH / 2;
    parts.push(`<text x="${pad.l - 6}" y="${cy + 4}" text-anchor="end" font-size="11">${escapeHtml(r.name)}</text>`);
    if (Number.isFinite(r.lo) && Number.isFinite(r.hi)) {
      const [x1, x2] = [X(r.lo), X(r.hi)];
      parts.push(`<path class="ci" d="M${x1.toFixed(1)} ${cy}H${x2.toFixed(1)}M${x1.toFixed(1)} ${cy - 5}V${cy + 5}M${x2.toFixed(1)} ${cy - 5}V${cy + 5}" stroke="#222" stroke-width="1.2" fill="none"/>`);
    }
    if (Number.isFinite(r.estimate)) parts.push(`<circle cx="${X(r.estimate).toFixed(1)}" cy="${cy}" r="3.5" fill="${PALETTE[i % PALETTE.length]}"/>`);
    parts.push(`<text x="${w - pad.r + 6}" y="${cy + 4}" font-size="11">${escapeHtml(`${signed(r.estimate, decimals)}${r.p !== undefined ? `, p = ${formatP(r.p)}` : ''}`)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/**
 * Histogram of `values` over [range.min, range.max] in `bins` equal bins, as an inline SVG
 * (class "chart histogram"; one `rect.bin` per bin, its count in a <title>). Values outside the range
 * fall in the first or last bin; non-finite ones are left out. `markers` draw dashed vertical lines
 * (e.g. the clip bounds α and β), labelled.
 */
export function svgHistogram(
  title: string,
  values: readonly number[],
  range: { min: number; max: number },
  o: { bins?: number; markers?: ReadonlyArray<{ at: number; label: string }>; w?: number; h?: number; color?: string } = {},
): string {
  const bins = Math.max(1, o.bins ?? 20);
  const [w, h] = [o.w ?? 360, o.h ?? 200];
  const pad = { l: 40, r: 12, t: 28, b: 32 };
  let { min, max } = range;
  if (!(max > min)) [min, max] = [min - 0.5, max + 0.5];
  const finite = values.filter(Number.isFinite);
  const counts = new Array<number>(bins).fill(0);
  for (const v of finite) counts[Math.min(bins - 1, Math.max(0, Math.floor(((v - min) / (max - min)) * bins)))]!++;
  const top = Math.max(1, ...counts);
  const X = (v: number) => pad.l + ((v - min) / (max - min)) * (w - pad.l - pad.r);
  const Y = (c: number) => h - pad.b - (c / top) * (h - pad.t - pad.b);
  const bw = (w - pad.l - pad.r) / bins;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" class="chart histogram" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${escapeHtml(title)}">`];
  parts.push(`<text x="${w / 2}" y="18" text-anchor="middle" font-size="13">${escapeHtml(title)}</text>`);
  parts.push(`<line x1="${pad.l}" y1="${h - pad.b}" x2="${w - pad.r}" y2="${h - pad.b}" stroke="#333"/>`);
  counts.forEach((c, i) => {
    const lo = min + ((max - min) * i) / bins;
    const x = pad.l + i * bw;
    parts.push(`<rect class="bin" x="${x.toFixed(1)}" y="${Y(c).toFixed(1)}" width="${Math.max(0.5, bw - 1).toFixed(1)}" height="${(h - pad.b - Y(c)).toFixed(1)}" fill="${o.color ?? PALETTE[0]}"><title>${escapeHtml(`[${fmt(lo)}, ${fmt(lo + (max - min) / bins)}): ${c}`)}</title></rect>`);
  });
  for (const m of o.markers ?? []) {
    if (!Number.isFinite(m.at)) continue;
    const x = X(Math.min(max, Math.max(min, m.at))).toFixed(1);
    parts.push(`<line class="marker" x1="${x}" y1="${pad.t}" x2="${x}" y2="${h - pad.b}" stroke="#d62728" stroke-dasharray="4 3"/><text x="${x}" y="${pad.t - 2}" text-anchor="middle" font-size="10" fill="#d62728">${escapeHtml(m.label)}</text>`);
  }
  parts.push(`<text x="${pad.l}" y="${h - pad.b + 14}" text-anchor="start" font-size="10">${fmt(min)}</text><text x="${w - pad.r}" y="${h - pad.b + 14}" text-anchor="end" font-size="10">${fmt(max)}</text>`);
  parts.push(`<text x="${pad.l - 4}" y="${pad.t + 8}" text-anchor="end" font-size="10">${top}</text><text x="${w / 2}" y="${h - 6}" text-anchor="middle" font-size="10">n = ${finite.length}</text>`);
  parts.push('</svg>');
  return parts.join('');
}

/** One debate turn as the gallery shows it (a DebateTurnRecord of core/debate.ts without its bookkeeping). */
export interface GalleryDebateTurn {
  /** 0-based turn and agent index. */
  turn: number;
  agent: number;
  model: string;
  /** The score the turn stands for (the adopted one when it agreed); null: no vote. */
  score: number | null;
  agree: boolean | null;
  reason: string;
  valid: boolean;
  invalid?: string;
}

/** One curated item of the gallery: its D_t pair and its D_v pair, with what scored and weighted them. */
export interface GalleryPair {
  itemId: string;
  /** What the model is asked (the question, or the report prompt). */
  question: string;
  /** y_w (the ground truth) and y_l (the judge's hallucinated answer). */
  chosen: string;
  rejected: string;
  /** 'sampled' (one of the target's answers) or 'generated' (written by the judge). */
  source?: string;
  /** The judge's conflicts of y_l with the ground truth. */
  conflicts: string[];
  /**
   * Image URLs, in practice data: URLs (the report must open with no network): the image x, the visual
   * tool's heatmap blended over it, the noised image x* (the D_v pair's rejected image). Absent: not found.
   */
  images: { original?: string; heatmap?: string; noised?: string };
  /** D_t: raw debate score s_t on `scale`, its normalized weight s' (absent when the set has no such pair), clip side. */
  text?: { rawScore: number; scale: { min: number; max: number }; weight?: number; clipped?: 'low' | 'high'; consensus: boolean; atCap: boolean; turns: number };
  /** D_v: raw score = the tool's confidence s_v in [0, 1], its normalized weight, clip side, mask coverage (share of pixels noised). */
  visual?: { confidence: number; weight?: number; clipped?: 'low' | 'high'; coverage?: number };
  /** The debate's transcript; absent when it was not found in S3. */
  debate?: { agents: string[]; rounds: number; turns: GalleryDebateTurn[]; outcome: { score?: number; consensus: boolean; atCap: boolean; turns: number } };
  /** Why the draw picked it: e.g. "text weight clipped high", "debate at the round cap", "random". */
  why: string[];
}

export interface ReportGallery {
  pairs: GalleryPair[];
  /** Items that had both a text and a visual pair (what the draw chose from). */
  candidates: number;
  /** The seed of the draw (the campaign seed). */
  seed: number;
  /** The preference set whose weights are shown (e.g. mmedpo). */
  weightsOf?: string;
}

/** One branch's scores: raw (text: debate scale; visual: [0, 1]) and normalized weights, with the clip bounds. */
export interface ScoreDistribution {
  branch: 'text' | 'visual';
  raw: number[];
  rawRange: { min: number; max: number };
  normalized: number[];
  /** [α, β] of the z-score normalization (absent for raw weights). */
  clip?: { alpha: number; beta: number };
}

/** How many records a quarantine stage left out for one reason (the reason with item-specific parts removed). */
export interface QuarantineCount {
  stage: string;
  reason: string;
  count: number;
}

/** A training run's per-step curves (metrics.json: lossCurve, rewardMarginCurve, rewardAccuracyCurve, stepCurve). */
export interface TrainingCurve {
  variant: string;
  loss: number[];
  /** DPO: mean implicit-reward margin β·[(log π − log π_ref)(y_w) − (…)(y_l)] per step. */
  rewardMargin?: number[];
  /** DPO: share of pairs with chosen reward > rejected reward per step, in [0, 1]. */
  rewardAccuracy?: number[];
  /** The optimizer step of each entry. */
  steps?: number[];
}

const fixed2 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(2));
const fixed3 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(3));

function imageFigure(cls: string, caption: string, url: string | undefined): string {
  // Only data: URLs are embedded; anything else would make the file fetch something when opened.
  if (!url || !url.startsWith('data:image/')) return `<figure class="${cls} missing"><div class="noimg">not found</div><figcaption>${escapeHtml(caption)}</figcaption></figure>`;
  return `<figure class="${cls}"><img src="${escapeHtml(url)}" alt="${escapeHtml(caption)}"><figcaption>${escapeHtml(caption)}</figcaption></figure>`;
}

function renderPairCard(p: GalleryPair, n: number): string {
  const clip = (c?: 'low' | 'high') => (c ? ` <span class="badge clipped">clipped ${c}</span>` : '');
  const t = p.text;
  const v = p.visual;
  const turns = p.debate?.turns ?? [];
  const debate = p.debate
    ? `<table class="debate"><caption>Debate: ${escapeHtml(p.debate.agents.join(', '))}; ${p.debate.rounds} round(s) at most → ${p.debate.outcome.consensus ? 'consensus' : p.debate.outcome.atCap ? 'round cap (mean of the history)' : 'no result'}, s<sub>t</sub> = ${fixed2(p.debate.outcome.score)}</caption>
<tr><th>turn</th><th>agent</th><th>score</th><th>agrees</th><th>reason</th></tr>
${turns.map((x) => `<tr class="turn${x.valid ? '' : ' invalid'}"><td>${x.turn + 1}</td><td>${escapeHtml(x.model)}</td><td class="score">${x.score === null ? '–' : escapeHtml(String(x.score))}</td><td>${x.agree === null ? '–' : x.agree ? 'yes' : 'no'}</td><td class="reason">${escapeHtml(x.valid ? x.reason : `invalid: ${x.invalid ?? x.reason}`)}</td></tr>`).join('\n')}
</table>`
    : '<p class="debate missing">debate transcript not found</p>';
  return `<article class="pair" id="pair-${n}" data-item="${escapeHtml(p.itemId)}">
<h3>${n}. ${escapeHtml(p.itemId)}${p.why.map((w) => ` <span class="badge why">${escapeHtml(w)}</span>`).join('')}</h3>
<div class="images">${imageFigure('original', 'image x', p.images.original)}${imageFigure('heatmap', 'heatmap over x', p.images.heatmap)}${imageFigure('noised', 'noised x*', p.images.noised)}</div>
<p class="question"><b>Question:</b> ${escapeHtml(p.question)}</p>
<p class="chosen"><b>Chosen y<sub>w</sub>:</b> ${escapeHtml(p.chosen)}</p>
<p class="rejected"><b>Rejected y<sub>l</sub>${p.source ? ` (${escapeHtml(p.source)})` : ''}:</b> ${escapeHtml(p.rejected)}${p.conflicts.length ? ` <small>conflicts: ${escapeHtml(p.conflicts.join('; '))}</small>` : ''}</p>
<table class="scores">
<tr><th>branch</th><th>raw score</th><th>normalized weight</th></tr>
<tr class="text-scores"><td>text (D<sub>t</sub>)</td><td class="raw-score">${t ? `${fixed2(t.rawScore)} <small>on [${t.scale.min}, ${t.scale.max}]${t.atCap ? ', at the round cap' : t.consensus ? ', consensus' : ''}</small>` : '–'}</td><td class="weight">${t ? fixed3(t.weight) + clip(t.clipped) : '–'}</td></tr>
<tr class="visual-scores"><td>visual (D<sub>v</sub>)</td><td class="raw-score">${v ? `${fixed3(v.confidence)} <small>tool confidence${v.coverage !== undefined ? `, ${(v.coverage * 100).toFixed(1)}% noised` : ''}</small>` : '–'}</td><td class="weight">${v ? fixed3(v.weight) + clip(v.clipped) : '–'}</td></tr>
</table>
${debate}
</article>`;
}

/** Reasons counted, most frequent first: a table and a bar chart. */
function renderQuarantine(counts: readonly QuarantineCount[]): string {
  const sorted = [...counts].sort((a, b) => b.count - a.count || a.stage.localeCompare(b.stage) || a.reason.localeCompare(b.reason));
  const total = sorted.reduce((a, c) => a + c.count, 0);
  if (!total) return '<h2>Quarantine</h2>\n<p class="quarantine-none">No record was quarantined.</p>';
  const rows = sorted.map((c) => `<tr class="quarantine-reason"><td>${escapeHtml(c.stage)}</td><td class="reason">${escapeHtml(c.reason)}</td><td class="count">${c.count}</td></tr>`).join('\n');
  const byStage = new Map<string, number>();
  for (const c of sorted) byStage.set(c.stage, (byStage.get(c.stage) ?? 0) + c.count);
  return `<h2>Quarantine</h2>
<p>${total} record(s) left out, by stage and reason (item-specific parts of a reason removed, so equal causes count together).</p>
<table class="quarantine"><tr><th>stage</th><th>reason</th><th>count</th></tr>
${rows}
</table>
${svgBarChart('quarantined per stage', [...byStage].map(([name, value]) => ({ name, value })), 480, 0)}`;
}

/**
 * Self-contained HTML: results table, metric bars per variant, training curves, notes. With
 * statistics: intervals in the table and as error bars, the paired differences as a table and a
 * forest plot per metric, and the procedure's footnote. The results table's columns are those of the
 * Markdown table (resultsColumns: the format's RESULTS_COLUMNS, then the grounding columns present), then any
 * metric the statistics hold that no column shows (by its key), each with its interval. With `gallery`, `scores`, `quarantine`: the curated pairs, the score histograms per
 * branch and the quarantine counts; with DPO curves, reward margins and accuracies per step.
 * Images are embedded only as data: URLs (anything else is shown as "not found").
 */
export function renderHtmlReport(input: {
  title: string;
  rows: { variant: string; totals: Record<string, number> }[];
  format: 'vqa' | 'report';
  curves: TrainingCurve[];
  notes?: string[];
  statistics?: ResultsStatistics;
  gallery?: ReportGallery;
  scores?: ScoreDistribution[];
  quarantine?: QuarantineCount[];
}): string {
  checkFormat(input.format);
  const stats = input.statistics;
  // The results table's columns (the format's, then the grounding metrics present), as in the Markdown table.
  const named = resultsColumns(input.format, input.rows, stats);
  const known = new Set(named.map((c) => c.key));
  // Metrics the statistics carry that no column of the format names yet: shown under their key, so a
  // new metric is never silently left out of the report.
  const extra: ResultsColumn[] = [...new Set((stats?.variants ?? []).flatMap((v) => Object.keys(v.metrics)))]
    .filter((k) => !known.has(k))
    .map((k) => ({ header: k, key: k, value: (t: Record<string, number>) => num(t, k) }));
  const cols = [...named, ...extra];
  const ordered = orderRows(input.rows);
  const cell = (x: MetricInterval | { estimate: number } | undefined, d = 2) =>
    !x ? '–' : hasInterval(x) ? `${x.estimate.toFixed(d)} <small>[${x.lo.toFixed(d)}, ${x.hi.toFixed(d)}]</small>` : x.estimate.toFixed(d);
  const head = `<tr><th>Model</th>${cols.map((c) => `<th>${escapeHtml(c.header)}</th>`).join('')}</tr>`;
  const body = ordered.map((r) => `<tr><td>${escapeHtml(variantLabel(r.variant))}</td>${cols.map((c) => `<td>${cell(cellOf(c, r, stats), c.decimals)}</td>`).join('')}</tr>`).join('\n');
  const bars = cols
    .map((c) => ({
      c,
      bars: ordered.flatMap((r) => {
        const x = cellOf(c, r, stats);
        return x ? [{ name: variantLabel(r.variant), value: x.estimate, ...(hasInterval(x) ? { lo: x.lo, hi: x.hi } : {}) }] : [];
      }),
    }))
    .filter((x) => x.bars.length > 0)
    .map((x) => svgBarChart(x.c.header, x.bars, 480, x.c.decimals))
    .join('\n');
  const comparisons: PairedComparison[] = (stats?.comparisons ?? []).filter((c) => Object.keys(c.metrics).length > 0);
  const diffs = comparisons.length
    ? `<h2>Paired differences</h2>
<table>
<tr><th>Difference</th>${cols.map((c) => `<th>${escapeHtml(c.header)}</th>`).join('')}</tr>
${comparisons.map((c) => `<tr><td>${escapeHtml(comparisonLabel(c))}</td>${cols.map((col) => `<td>${escapeHtml(formatDifference(c.metrics[col.key], col.decimals))}</td>`).join('')}</tr>`).join('\n')}
</table>
${cols
  .map((col) => ({ col, rows: comparisons.flatMap((c) => (c.metrics[col.key] ? [{ name: comparisonLabel(c), ...c.metrics[col.key]! }] : [])) }))
  .filter((x) => x.rows.length > 0)
  .map((x) => svgIntervalChart(`${x.col.header}: difference`, x.rows, 480, x.col.decimals))
  .join('\n')}`
    : '';
  const footnote = stats ? `<p><small>${escapeHtml(statisticsFootnote(stats))}</small></p>` : '';
  const curves = input.curves ?? [];
  const lossSeries = curves.filter((c) => c.loss?.length).map((c) => ({ name: variantLabel(c.variant), values: c.loss }));
  const marginSeries = curves.filter((c) => c.rewardMargin?.length).map((c) => ({ name: variantLabel(c.variant), values: c.rewardMargin as number[] }));
  const accuracySeries = curves.filter((c) => c.rewardAccuracy?.length).map((c) => ({ name: variantLabel(c.variant), values: c.rewardAccuracy as number[] }));
  const plots = curves.length
    ? `<h2>Training</h2>\n${svgLineChart('training loss', lossSeries)}\n${svgLineChart(accuracySeries.length ? 'DPO reward margin per step' : 'reward margin', marginSeries)}${
        accuracySeries.length ? `\n${svgLineChart('DPO reward accuracy per step', accuracySeries)}` : ''
      }`
    : '';
  const scores = (input.scores ?? []).filter((d) => d.raw.length || d.normalized.length);
  const histograms = scores.length
    ? `<h2>Scores per branch</h2>
<p>Raw clinical-relevance scores (text: the debate's s<sub>t</sub>; visual: the tool's confidence s<sub>v</sub>) and the normalized weights s′ the preference set trains with (z-score per branch, rescaled, clipped to [α, β]).</p>
<div class="histograms">${scores
        .map(
          (d, i) =>
            `${svgHistogram(`${d.branch}: raw score`, d.raw, d.rawRange, { color: PALETTE[(2 * i) % PALETTE.length] })}${svgHistogram(
              `${d.branch}: normalized weight`,
              d.normalized,
              d.clip ? { min: d.clip.alpha - 0.05, max: d.clip.beta + 0.05 } : { min: Math.min(...d.normalized, 0), max: Math.max(...d.normalized, 1) },
              { color: PALETTE[(2 * i + 1) % PALETTE.length], markers: d.clip ? [{ at: d.clip.alpha, label: 'α' }, { at: d.clip.beta, label: 'β' }] : [] },
            )}`,
        )
        .join('\n')}</div>`
    : '';
  const g = input.gallery;
  const gallery = g
    ? `<h2>Curated pairs</h2>
<p>${g.pairs.length} of ${g.candidates} items with a text and a visual pair, drawn with seed ${g.seed} (clipped weights and debates at the round cap first, then at random)${g.weightsOf ? `; weights of the ${escapeHtml(g.weightsOf)} set` : ''}. The D<sub>t</sub> pair is (x, y<sub>w</sub>) over (x, y<sub>l</sub>); the D<sub>v</sub> pair is (x, y<sub>w</sub>) over (x*, y<sub>w</sub>).</p>
<div class="gallery">
${g.pairs.map((p, i) => renderPairCard(p, i + 1)).join('\n')}
</div>`
    : '';
  const quarantine = input.quarantine ? renderQuarantine(input.quarantine) : '';
  const allNotes = [...(input.notes ?? []), ...(stats?.notes ?? [])];
  const notes = allNotes.length ? `<h2>Notes</h2><ul>${allNotes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}svg{margin:8px;vertical-align:top}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:16px}.pair{border:1px solid #ccc;border-radius:6px;padding:8px 12px}.pair h3{margin:4px 0;font-size:15px}
.images{display:flex;gap:8px}figure{margin:0;text-align:center}figure img{width:168px;height:168px;object-fit:contain;background:#000;image-rendering:pixelated}figcaption{font-size:12px}.noimg{width:168px;height:168px;background:#eee;line-height:168px}
.pair p{margin:4px 0;font-size:13px}.pair table{font-size:12px;margin:4px 0}.pair td.reason{text-align:left;max-width:300px}.badge{font-size:11px;border-radius:3px;padding:1px 4px;background:#eef;font-weight:normal}.badge.clipped{background:#fde2e2}.turn.invalid{color:#999}td.reason{text-align:left}</style>
</head><body>
<h1>${escapeHtml(input.title)}</h1>
<h2>Results (${input.format === 'vqa' ? 'Med-VQA' : 'report generation'})</h2>
<table class="results">
${head}
${body}
</table>
${footnote}
<h2>Metrics per variant</h2>
${bars}
${diffs}
${plots}
${histograms}
${gallery}
${quarantine}
${notes}
</body></html>
`;
}
