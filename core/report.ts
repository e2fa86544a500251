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
// non-ablation rows is bold in Markdown.

export type ResultsFormat = 'vqa' | 'report';

export interface ResultsRow {
  variant: string;
  totals: Record<string, number>;
}

export interface ResultsColumn {
  header: string;
  value: (totals: Record<string, number>) => number | undefined;
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
    { header: 'Open recall', value: (t) => num(t, 'open_recall') },
    { header: 'Closed accuracy', value: (t) => num(t, 'closed_accuracy') },
    { header: 'Closed accuracy (strict)', value: (t) => num(t, 'closed_accuracy_strict') },
  ],
  report: [
    { header: 'BLEU (avg 1-4)', value: bleuAvg },
    { header: 'BLEU-1', value: (t) => num(t, 'bleu1') },
    { header: 'BLEU-2', value: (t) => num(t, 'bleu2') },
    { header: 'BLEU-3', value: (t) => num(t, 'bleu3') },
    { header: 'BLEU-4', value: (t) => num(t, 'bleu4') },
    { header: 'ROUGE-L', value: (t) => num(t, 'rouge_l') },
    { header: 'METEOR', value: (t) => num(t, 'meteor') },
    { header: 'CE F1 (rule-based labeler)', value: (t) => num(t, 'ce_f1_micro') },
  ],
};

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

/** Table 1 layout as Markdown and CSV (2 decimals). */
export function renderResultsTable(rows: { variant: string; totals: Record<string, number> }[], format: 'vqa' | 'report'): { markdown: string; csv: string } {
  checkFormat(format);
  const cols = RESULTS_COLUMNS[format];
  const ordered = orderRows(rows);
  const best = cols.map((c) => {
    const vs = ordered.filter((r) => !ABLATIONS.has(r.variant)).map((r) => c.value(r.totals ?? {})).filter((v): v is number => v !== undefined);
    return vs.length > 1 ? Math.max(...vs) : undefined;
  });
  const mdEsc = (s: string) => s.replace(/\|/g, '\\|');
  const md: string[] = [`| Model | ${cols.map((c) => mdEsc(c.header)).join(' | ')} |`, `|---|${cols.map(() => '---:').join('|')}|`];
  let sep = false;
  for (const r of ordered) {
    if (ABLATIONS.has(r.variant) && !sep && ordered.some((x) => !ABLATIONS.has(x.variant))) {
      md.push(`| *ablations* |${cols.map(() => ' ').join('|')}|`);
      sep = true;
    }
    const cells = cols.map((c, i) => {
      const v = c.value(r.totals ?? {});
      if (v === undefined) return '–';
      const s = v.toFixed(2);
      return !ABLATIONS.has(r.variant) && best[i] !== undefined && v === best[i] ? `**${s}**` : s;
    });
    md.push(`| ${mdEsc(variantLabel(r.variant))} | ${cells.join(' | ')} |`);
  }
  const csvEsc = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const csv: string[] = [['variant', 'model', ...cols.map((c) => c.header)].map(csvEsc).join(',')];
  for (const r of ordered) csv.push([r.variant, variantLabel(r.variant), ...cols.map((c) => { const v = c.value(r.totals ?? {}); return v === undefined ? '' : v.toFixed(2); })].map(csvEsc).join(','));
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

/** Horizontal bar chart of one metric across variants as an inline SVG. */
export function svgBarChart(title: string, bars: ReadonlyArray<{ name: string; value: number }>, w = 480): string {
  const rowH = 22;
  const pad = { l: 200, r: 56, t: 28 };
  const h = pad.t + rowH * bars.length + 10;
  const max = Math.max(1e-9, ...bars.map((b) => b.value).filter(Number.isFinite));
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${escapeHtml(title)}">`];
  parts.push(`<text x="${w / 2}" y="18" text-anchor="middle" font-size="14">${escapeHtml(title)}</text>`);
  bars.forEach((b, i) => {
    const y = pad.t + i * rowH;
    const bw = Number.isFinite(b.value) ? Math.max(0, (b.value / max) * (w - pad.l - pad.r)) : 0;
    parts.push(`<text x="${pad.l - 6}" y="${y + 15}" text-anchor="end" font-size="11">${escapeHtml(b.name)}</text>`);
    parts.push(`<rect x="${pad.l}" y="${y + 3}" width="${bw.toFixed(1)}" height="${rowH - 6}" fill="${PALETTE[i % PALETTE.length]}"/>`);
    parts.push(`<text x="${(pad.l + bw + 4).toFixed(1)}" y="${y + 15}" font-size="11">${Number.isFinite(b.value) ? b.value.toFixed(2) : '–'}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** Self-contained HTML: results table, metric bars per variant, training curves, notes. */
export function renderHtmlReport(input: {
  title: string;
  rows: { variant: string; totals: Record<string, number> }[];
  format: 'vqa' | 'report';
  curves: { variant: string; loss: number[]; rewardMargin?: number[] }[];
  notes?: string[];
}): string {
  checkFormat(input.format);
  const cols = RESULTS_COLUMNS[input.format];
  const ordered = orderRows(input.rows);
  const head = `<tr><th>Model</th>${cols.map((c) => `<th>${escapeHtml(c.header)}</th>`).join('')}</tr>`;
  const body = ordered
    .map((r) => `<tr><td>${escapeHtml(variantLabel(r.variant))}</td>${cols.map((c) => { const v = c.value(r.totals ?? {}); return `<td>${v === undefined ? '–' : v.toFixed(2)}</td>`; }).join('')}</tr>`)
    .join('\n');
  const bars = cols
    .map((c) => ({ c, bars: ordered.map((r) => ({ name: variantLabel(r.variant), value: c.value(r.totals ?? {}) })).filter((b): b is { name: string; value: number } => b.value !== undefined) }))
    .filter((x) => x.bars.length > 0)
    .map((x) => svgBarChart(x.c.header, x.bars))
    .join('\n');
  const curves = input.curves ?? [];
  const lossSeries = curves.filter((c) => c.loss?.length).map((c) => ({ name: variantLabel(c.variant), values: c.loss }));
  const marginSeries = curves.filter((c) => c.rewardMargin?.length).map((c) => ({ name: variantLabel(c.variant), values: c.rewardMargin as number[] }));
  const plots = curves.length ? `<h2>Training</h2>\n${svgLineChart('training loss', lossSeries)}\n${svgLineChart('reward margin', marginSeries)}` : '';
  const notes = input.notes?.length ? `<h2>Notes</h2><ul>${input.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : '';
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
<h2>Metrics per variant</h2>
${bars}
${plots}
${notes}
</body></html>
`;
}
