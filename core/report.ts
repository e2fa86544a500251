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
// A missing value is "–" in Markdown and empty in CSV. Best value per column among the
// non-ablation rows is bold in Markdown (the lowest for a column where lower is better).
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
  { header: 'Lesion sensitivity (nats)', key: 'lesion_sensitivity', value: (t) => num(t, 'lesion_sensitivity') },
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
const signed = (v: number) => (v > 0 ? `+${v.toFixed(2)}` : v.toFixed(2));
/** p to 3 decimals (the resolution of B = 1000 is 0.002); smaller ones in exponent form. */
export const formatP = (p: number) => (!Number.isFinite(p) ? '–' : p >= 0.001 ? p.toFixed(3) : p.toExponential(1));
const shortLabel = (v: string) => variantLabel(v).replace(/^\+ /, '');
export const comparisonLabel = (c: { variant: string; baseline: string }) => `${shortLabel(c.variant)} − ${shortLabel(c.baseline)}`;

/** "43.52 [38.10, 49.07]" or "43.52". */
export function formatCell(x: MetricInterval | { estimate: number } | undefined): string {
  if (!x) return '–';
  return hasInterval(x) ? `${x.estimate.toFixed(2)} [${x.lo.toFixed(2)}, ${x.hi.toFixed(2)}]` : x.estimate.toFixed(2);
}

/** "+0.93 [-2.10, 3.90], p = 0.540". */
export function formatDifference(d: (MetricInterval & { p: number }) | undefined): string {
  if (!d) return '–';
  return `${signed(d.estimate)} [${d.lo.toFixed(2)}, ${d.hi.toFixed(2)}], p = ${formatP(d.p)}`;
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
      const s = formatCell(x);
      return x && !ABLATIONS.has(r.variant) && best[i] !== undefined && x.estimate === best[i] ? `**${s}**` : s;
    });
    md.push(`| ${mdEsc(variantLabel(r.variant))} | ${line.join(' | ')} |`);
  });
  if (comparisons.length) {
    md.push(`| *paired difference [CI], p* |${cols.map(() => ' ').join('|')}|`);
    for (const c of comparisons) md.push(`| ${mdEsc(comparisonLabel(c))} | ${cols.map((col) => formatDifference(c.metrics[col.key])).join(' | ')} |`);
  }
  if (statistics) md.push('', statisticsFootnote(statistics), ...statistics.notes.map((n) => `Note: ${n}`));
  const csvEsc = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const f2 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '' : v.toFixed(2));
  const csv: string[] = [];
  if (!statistics) {
    csv.push(['variant', 'model', ...cols.map((c) => c.header)].map(csvEsc).join(','));
    ordered.forEach((r, k) => csv.push([r.variant, variantLabel(r.variant), ...cells[k]!.map((x) => f2(x?.estimate))].map(csvEsc).join(',')));
  } else {
    csv.push(['variant', 'model', 'seeds', ...cols.flatMap((c) => [c.header, `${c.header} CI low`, `${c.header} CI high`, `${c.header} p`])].map(csvEsc).join(','));
    ordered.forEach((r, k) => {
      const seeds = statistics.variants.find((v) => v.variant === r.variant)?.seeds.join(' ') ?? '';
      csv.push([r.variant, variantLabel(r.variant), seeds, ...cells[k]!.flatMap((x) => [f2(x?.estimate), f2(hasInterval(x) ? x.lo : undefined), f2(hasInterval(x) ? x.hi : undefined), ''])].map(csvEsc).join(','));
    });
    for (const c of comparisons) {
      const d = cols.flatMap((col) => {
        const m = c.metrics[col.key];
        return m ? [f2(m.estimate), f2(m.lo), f2(m.hi), Number.isFinite(m.p) ? m.p.toFixed(4) : ''] : ['', '', '', ''];
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
 */
export function svgBarChart(title: string, bars: ReadonlyArray<{ name: string; value: number; lo?: number; hi?: number }>, w = 480): string {
  const rowH = 22;
  const pad = { l: 200, r: 56, t: 28 };
  const h = pad.t + rowH * bars.length + 10;
  const max = Math.max(1e-9, ...bars.flatMap((b) => [b.value, b.hi ?? Number.NaN]).filter(Number.isFinite));
  const X = (v: number) => pad.l + Math.max(0, (v / max) * (w - pad.l - pad.r));
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${escapeHtml(title)}">`];
  parts.push(`<text x="${w / 2}" y="18" text-anchor="middle" font-size="14">${escapeHtml(title)}</text>`);
  bars.forEach((b, i) => {
    const y = pad.t + i * rowH;
    const bw = Number.isFinite(b.value) ? X(b.value) - pad.l : 0;
    let labelX = pad.l + bw + 4;
    parts.push(`<text x="${pad.l - 6}" y="${y + 15}" text-anchor="end" font-size="11">${escapeHtml(b.name)}</text>`);
    parts.push(`<rect x="${pad.l}" y="${y + 3}" width="${bw.toFixed(1)}" height="${rowH - 6}" fill="${PALETTE[i % PALETTE.length]}"/>`);
    if (Number.isFinite(b.lo) && Number.isFinite(b.hi)) {
      const [x1, x2, cy] = [X(b.lo!), X(b.hi!), y + rowH / 2];
      parts.push(`<path class="ci" d="M${x1.toFixed(1)} ${cy}H${x2.toFixed(1)}M${x1.toFixed(1)} ${cy - 5}V${cy + 5}M${x2.toFixed(1)} ${cy - 5}V${cy + 5}" stroke="#222" stroke-width="1.2" fill="none"><title>${escapeHtml(`${b.name}: ${b.value.toFixed(2)} [${b.lo!.toFixed(2)}, ${b.hi!.toFixed(2)}]`)}</title></path>`);
      labelX = Math.max(labelX, x2 + 4);
    }
    parts.push(`<text x="${labelX.toFixed(1)}" y="${y + 15}" font-size="11">${Number.isFinite(b.value) ? b.value.toFixed(2) : '–'}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/**
 * Forest plot of differences with their confidence intervals around a dashed zero line, as an inline
 * SVG: a dot at the estimate, a whisker from lo to hi; the label gives the estimate and p.
 */
export function svgIntervalChart(title: string, rows: ReadonlyArray<{ name: string; estimate: number; lo: number; hi: number; p?: number }>, w = 480): string {
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
    parts.push(`<text x="${w - pad.r + 6}" y="${cy + 4}" font-size="11">${escapeHtml(`${signed(r.estimate)}${r.p !== undefined ? `, p = ${formatP(r.p)}` : ''}`)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/**
 * Self-contained HTML: results table, metric bars per variant, training curves, notes. With
 * statistics: intervals in the table and as error bars, the paired differences as a table and a
 * forest plot per metric, and the procedure's footnote.
 */
export function renderHtmlReport(input: {
  title: string;
  rows: { variant: string; totals: Record<string, number> }[];
  format: 'vqa' | 'report';
  curves: { variant: string; loss: number[]; rewardMargin?: number[] }[];
  notes?: string[];
  statistics?: ResultsStatistics;
}): string {
  checkFormat(input.format);
  const cols = RESULTS_COLUMNS[input.format];
  const ordered = orderRows(input.rows);
  const stats = input.statistics;
  const cell = (x: MetricInterval | { estimate: number } | undefined) =>
    !x ? '–' : hasInterval(x) ? `${x.estimate.toFixed(2)} <small>[${x.lo.toFixed(2)}, ${x.hi.toFixed(2)}]</small>` : x.estimate.toFixed(2);
  const head = `<tr><th>Model</th>${cols.map((c) => `<th>${escapeHtml(c.header)}</th>`).join('')}</tr>`;
  const body = ordered.map((r) => `<tr><td>${escapeHtml(variantLabel(r.variant))}</td>${cols.map((c) => `<td>${cell(cellOf(c, r, stats))}</td>`).join('')}</tr>`).join('\n');
  const bars = cols
    .map((c) => ({
      c,
      bars: ordered.flatMap((r) => {
        const x = cellOf(c, r, stats);
        return x ? [{ name: variantLabel(r.variant), value: x.estimate, ...(hasInterval(x) ? { lo: x.lo, hi: x.hi } : {}) }] : [];
      }),
    }))
    .filter((x) => x.bars.length > 0)
    .map((x) => svgBarChart(x.c.header, x.bars))
    .join('\n');
  const comparisons: PairedComparison[] = (stats?.comparisons ?? []).filter((c) => Object.keys(c.metrics).length > 0);
  const diffs = comparisons.length
    ? `<h2>Paired differences</h2>
<table>
<tr><th>Difference</th>${cols.map((c) => `<th>${escapeHtml(c.header)}</th>`).join('')}</tr>
${comparisons.map((c) => `<tr><td>${escapeHtml(comparisonLabel(c))}</td>${cols.map((col) => `<td>${escapeHtml(formatDifference(c.metrics[col.key]))}</td>`).join('')}</tr>`).join('\n')}
</table>
${cols
  .map((col) => ({ col, rows: comparisons.flatMap((c) => (c.metrics[col.key] ? [{ name: comparisonLabel(c), ...c.metrics[col.key]! }] : [])) }))
  .filter((x) => x.rows.length > 0)
  .map((x) => svgIntervalChart(`${x.col.header}: difference`, x.rows))
  .join('\n')}`
    : '';
  const footnote = stats ? `<p><small>${escapeHtml(statisticsFootnote(stats))}</small></p>` : '';
  const curves = input.curves ?? [];
  const lossSeries = curves.filter((c) => c.loss?.length).map((c) => ({ name: variantLabel(c.variant), values: c.loss }));
  const marginSeries = curves.filter((c) => c.rewardMargin?.length).map((c) => ({ name: variantLabel(c.variant), values: c.rewardMargin as number[] }));
  const plots = curves.length ? `<h2>Training</h2>\n${svgLineChart('training loss', lossSeries)}\n${svgLineChart('reward margin', marginSeries)}` : '';
  const allNotes = [...(input.notes ?? []), ...(stats?.notes ?? [])];
  const notes = allNotes.length ? `<h2>Notes</h2><ul>${allNotes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}svg{margin:8px;vertical-align:top}</style>
</head><body>
<h1>${escapeHtml(input.title)}</h1>
<h2>Results (${input.format === 'vqa' ? 'Med-VQA' : 'report generation'})</h2>
<table>
${head}
${body}
</table>
${footnote}
<h2>Metrics per variant</h2>
${bars}
${diffs}
${plots}
${notes}
</body></html>
`;
}
