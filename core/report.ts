// Results table in the paper's Table 1 layout (Markdown + CSV) and a
// self-contained HTML report with inline SVG plots. Pure string builders.

export interface ResultRow {
  variant: string;
  totals: Record<string, number>;
}

const ORDER = ['base', 'sft', 'dpo', 'mmedpo', 'stage1-only', 'stage2-only', 'no-crs', 'single-llm', 'global-noise'];
const LABEL: Record<string, string> = {
  base: 'base',
  sft: '+ SFT',
  dpo: '+ DPO',
  mmedpo: '+ MMedPO',
  'stage1-only': 'MMedPO, stage 1 only (D_t)',
  'stage2-only': 'MMedPO, stage 2 only (D_v)',
  'no-crs': 'MMedPO w/o clinical relevance scores',
  'single-llm': 'MMedPO, single-LLM scores',
  'global-noise': 'MMedPO, global noise',
};

const COLUMNS: Record<'vqa' | 'report', [string, string][]> = {
  vqa: [
    ['open_recall', 'Open (recall)'],
    ['closed_accuracy', 'Closed (acc.)'],
    ['closed_accuracy_strict', 'Closed (strict)'],
  ],
  report: [
    ['bleu', 'BLEU'],
    ['bleu1', 'BLEU-1'],
    ['bleu2', 'BLEU-2'],
    ['bleu3', 'BLEU-3'],
    ['bleu4', 'BLEU-4'],
    ['rouge_l', 'ROUGE-L'],
    ['meteor', 'METEOR'],
    ['ce_f1_micro', 'CE F1'],
  ],
};

function sorted(rows: ResultRow[]): ResultRow[] {
  const rank = (v: string) => (ORDER.includes(v) ? ORDER.indexOf(v) : ORDER.length);
  return [...rows].sort((a, b) => rank(a.variant) - rank(b.variant) || a.variant.localeCompare(b.variant));
}

const fmt = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(2));

export function renderResultsTable(rows: ResultRow[], format: 'vqa' | 'report'): { markdown: string; csv: string } {
  const cols = COLUMNS[format];
  const rs = sorted(rows);
  const md = [
    `| Model | ${cols.map((c) => c[1]).join(' | ')} |`,
    `|---|${cols.map(() => '---:').join('|')}|`,
    ...rs.map((r) => `| ${LABEL[r.variant] ?? r.variant} | ${cols.map(([k]) => fmt(r.totals[k])).join(' | ')} |`),
  ].join('\n');
  const csv = [['variant', ...cols.map((c) => c[0])].join(','), ...rs.map((r) => [r.variant, ...cols.map(([k]) => (r.totals[k] ?? '').toString())].join(','))].join('\n') + '\n';
  return { markdown: md + '\n', csv };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#17becf'];

function linePlot(title: string, series: { name: string; ys: number[] }[]): string {
  const W = 560,
    H = 220,
    P = 36;
  const all = series.flatMap((s) => s.ys).filter(Number.isFinite);
  if (!all.length) return '';
  const lo = Math.min(...all),
    hi = Math.max(...all);
  const span = hi - lo || 1;
  const paths = series
    .filter((s) => s.ys.length)
    .map((s, i) => {
      const n = Math.max(1, s.ys.length - 1);
      const d = s.ys.map((y, j) => `${j ? 'L' : 'M'}${(P + (j / n) * (W - 2 * P)).toFixed(1)},${(H - P - ((y - lo) / span) * (H - 2 * P)).toFixed(1)}`).join(' ');
      return `<path d="${d}" fill="none" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="1.5"/><text x="${W - P + 4}" y="${P + 14 * i}" font-size="11" fill="${PALETTE[i % PALETTE.length]}">${esc(s.name)}</text>`;
    })
    .join('');
  return `<figure><figcaption>${esc(title)}</figcaption><svg width="${W + 120}" height="${H}" role="img"><rect x="${P}" y="${P / 2}" width="${W - 2 * P}" height="${H - 1.5 * P}" fill="none" stroke="#ccc"/><text x="4" y="${P}" font-size="10">${hi.toPrecision(3)}</text><text x="4" y="${H - P}" font-size="10">${lo.toPrecision(3)}</text>${paths}</svg></figure>`;
}

function barPlot(rows: ResultRow[], cols: [string, string][]): string {
  const bw = 14,
    gap = 28,
    H = 200,
    P = 30;
  const groups = cols.filter(([k]) => rows.some((r) => Number.isFinite(r.totals[k])));
  const max = Math.max(1, ...rows.flatMap((r) => groups.map(([k]) => r.totals[k] ?? 0)));
  let x = P;
  const parts: string[] = [];
  for (const [k, label] of groups) {
    rows.forEach((r, i) => {
      const v = r.totals[k] ?? 0;
      const h = (v / max) * (H - 2 * P);
      parts.push(`<rect x="${x}" y="${H - P - h}" width="${bw}" height="${h}" fill="${PALETTE[i % PALETTE.length]}"><title>${esc(r.variant)} ${esc(label)}: ${fmt(v)}</title></rect>`);
      x += bw;
    });
    parts.push(`<text x="${x - (bw * rows.length) / 2}" y="${H - 8}" font-size="10" text-anchor="middle">${esc(label)}</text>`);
    x += gap;
  }
  const legend = rows.map((r, i) => `<text x="${x + 8}" y="${P + 14 * i}" font-size="11" fill="${PALETTE[i % PALETTE.length]}">${esc(LABEL[r.variant] ?? r.variant)}</text>`).join('');
  return `<figure><figcaption>Metrics per variant</figcaption><svg width="${x + 220}" height="${H}" role="img">${parts.join('')}${legend}</svg></figure>`;
}

export function renderHtmlReport(o: {
  title: string;
  rows: ResultRow[];
  format: 'vqa' | 'report';
  curves: { variant: string; loss: number[]; rewardMargin?: number[] }[];
  notes?: string[];
}): string {
  const rs = sorted(o.rows);
  const cols = COLUMNS[o.format];
  const table = `<table><thead><tr><th>Model</th>${cols.map((c) => `<th>${esc(c[1])}</th>`).join('')}</tr></thead><tbody>${rs
    .map((r) => `<tr><td>${esc(LABEL[r.variant] ?? r.variant)}</td>${cols.map(([k]) => `<td>${fmt(r.totals[k])}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(o.title)}</title><style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:1000px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}td:first-child,th:first-child{text-align:left}figure{margin:1.5em 0}figcaption{font-weight:600}
</style></head><body><h1>${esc(o.title)}</h1><h2>Results</h2>${table}
${barPlot(rs, cols)}
<h2>Training</h2>${linePlot('Training loss per step', o.curves.map((c) => ({ name: c.variant, ys: c.loss })))}
${linePlot('Reward margin per step', o.curves.filter((c) => c.rewardMargin?.length).map((c) => ({ name: c.variant, ys: c.rewardMargin! })))}
${o.notes?.length ? `<h2>Notes</h2><ul>${o.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}
</body></html>
`;
}
