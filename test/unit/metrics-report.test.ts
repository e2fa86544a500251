import { renderHtmlReport, renderResultsTable, svgLineChart } from '../../core/report';
import type { ResultsRow } from '../../core/report';

const vqaRows: ResultsRow[] = [
  { variant: 'mmedpo', totals: { open_recall: 36.36, closed_accuracy: 66.54, closed_accuracy_strict: 60.1 } },
  { variant: 'no-crs', totals: { open_recall: 30, closed_accuracy: 70, closed_accuracy_strict: 61 } },
  { variant: 'stage1-only', totals: { open_recall: 31, closed_accuracy: 65 } },
  { variant: 'base', totals: { open_recall: 29.24, closed_accuracy: 63.97, closed_accuracy_strict: 55.5 } },
  { variant: 'dpo', totals: { open_recall: 29.76, closed_accuracy: 64.7, closed_accuracy_strict: 58 } },
  { variant: 'sft', totals: { open_recall: 29.5, closed_accuracy: 64, closed_accuracy_strict: 57 } },
];
const reportRows: ResultsRow[] = [
  { variant: 'mmedpo', totals: { bleu1: 40, bleu2: 30, bleu3: 20, bleu4: 10, rouge_l: 29.52, meteor: 34.16, ce_f1_micro: 20 } },
  { variant: 'base', totals: { bleu_avg: 14.56, bleu1: 30, bleu2: 20, bleu3: 5, bleu4: 1, rouge_l: 10.31, meteor: 10.95 } },
];

describe('results table (Table 1 layout)', () => {
  test('vqa markdown: paper row order, ablations after in their order, best bold among non-ablations, missing –', () => {
    const lines = renderResultsTable(vqaRows, 'vqa').markdown.trim().split('\n');
    expect(lines[0]).toBe('| Model | Open recall | Closed accuracy | Closed accuracy (strict) |');
    expect(lines[2]).toBe('| base | 29.24 | 63.97 | 55.50 |');
    expect(lines[3]).toBe('| + SFT | 29.50 | 64.00 | 57.00 |');
    expect(lines[4]).toBe('| + DPO | 29.76 | 64.70 | 58.00 |');
    expect(lines[5]).toBe('| + MMedPO | **36.36** | **66.54** | **60.10** |');
    expect(lines[6]).toContain('*ablations*');
    expect(lines[7]).toBe('| ablation: stage 1 only | 31.00 | 65.00 | – |');
    expect(lines[8]).toBe('| ablation: w/o clinical relevance scores | 30.00 | 70.00 | 61.00 |'); // ablations never bold
    expect(lines).toHaveLength(9);
  });
  test('report columns: BLEU avg of 1-4 (bleu_avg if given), BLEU-1..4, ROUGE-L, METEOR, CE F1', () => {
    const t = renderResultsTable(reportRows, 'report');
    const csv = t.csv.trim().split('\n');
    expect(csv[0]).toBe('variant,model,BLEU (avg 1-4),BLEU-1,BLEU-2,BLEU-3,BLEU-4,ROUGE-L,METEOR,CE F1 (rule-based labeler)');
    expect(csv[1]).toBe('base,base,14.56,30.00,20.00,5.00,1.00,10.31,10.95,');
    expect(csv[2]).toBe('mmedpo,+ MMedPO,25.00,40.00,30.00,20.00,10.00,29.52,34.16,20.00');
    expect(t.markdown.split('\n')[3]).toBe('| + MMedPO | **25.00** | **40.00** | **30.00** | **20.00** | **10.00** | **29.52** | **34.16** | 20.00 |');
  });
  test('unknown format throws a one-line error', () => {
    expect(() => renderResultsTable(vqaRows, 'xray' as 'vqa')).toThrow('unknown results format "xray": use vqa or report');
  });
});

describe('HTML report', () => {
  test('self-contained, escaped, with inline SVG curves and bars', () => {
    const html = renderHtmlReport({
      title: 'Run <1> & co',
      rows: vqaRows,
      format: 'vqa',
      curves: [
        { variant: 'mmedpo', loss: [0.69, 0.6, 0.5, Number.NaN, 0.4], rewardMargin: [0, 0.1, 0.3, 0.5, 0.6] },
        { variant: 'dpo', loss: [0.69, 0.65, 0.62] },
      ],
      notes: ['METEOR is an <approximation>'],
    });
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('Run &lt;1&gt; &amp; co');
    expect(html).toContain('METEOR is an &lt;approximation&gt;');
    expect(html).not.toMatch(/<script|<link|<img|https?:\/\/(?!www\.w3\.org)/);
    expect((html.match(/<svg /g) ?? []).length).toBe(3 + 2); // 3 metric columns + loss + margin
    expect((html.match(/<polyline /g) ?? []).length).toBe(3); // 2 loss curves + 1 margin curve
    expect((html.match(/<rect /g) ?? []).length).toBe(6 + 6 + 5); // bars per variant per metric (stage1-only lacks strict)
    expect(html).toContain('<td>66.54</td>');
  });
  test('line chart with no data says so', () => {
    expect(svgLineChart('loss', [])).toContain('no data');
  });
});

// ---------------------------------------------------------------- with statistics (core/stats.ts)
import type { ResultsStatistics } from '../../core/contracts';

const iv = (estimate: number, lo: number, hi: number) => ({ estimate, lo, hi });
function vqaStats(seeds: number[]): ResultsStatistics {
  return {
    method: 'percentile bootstrap',
    resamples: 1000,
    confidence: 0.95,
    seed: 3,
    items: 189,
    strata: [81, 108],
    variants: [
      { variant: 'base', seeds, metrics: { open_recall: iv(0.36, 0, 1.1), closed_accuracy: iv(30.56, 22.2, 39.81), closed_accuracy_strict: iv(3.7, 0.93, 7.41) } },
      { variant: 'sft', seeds, metrics: { open_recall: iv(18.64, 12.1, 25.3), closed_accuracy: iv(59.26, 50, 68.52), closed_accuracy_strict: iv(59.26, 50, 68.52) } },
      { variant: 'dpo', seeds, metrics: { open_recall: iv(7.53, 3.2, 12.9), closed_accuracy: iv(42.59, 33.33, 51.85), closed_accuracy_strict: iv(42.59, 33.33, 51.85) } },
      { variant: 'mmedpo', seeds, metrics: { open_recall: iv(7.53, 3.2, 12.9), closed_accuracy: iv(43.52, 34.26, 52.78), closed_accuracy_strict: iv(43.52, 34.26, 52.78) } },
    ],
    comparisons: [
      { variant: 'mmedpo', baseline: 'dpo', pairedSeeds: true, metrics: { open_recall: { ...iv(0, 0, 0), p: 1 }, closed_accuracy: { ...iv(0.93, -1.85, 3.7), p: 0.6543 }, closed_accuracy_strict: { ...iv(0.93, -1.85, 3.7), p: 0.6543 } } },
      { variant: 'mmedpo', baseline: 'sft', pairedSeeds: true, metrics: { open_recall: { ...iv(-11.11, -17.5, -5.02), p: 0.001998 }, closed_accuracy: { ...iv(-15.74, -25, -6.48), p: 0.004 }, closed_accuracy_strict: { ...iv(-15.74, -25, -6.48), p: 0.004 } } },
    ],
    notes: [],
  };
}
const demoRows: ResultsRow[] = vqaStats([3]).variants.map((v) => ({ variant: v.variant, totals: Object.fromEntries(Object.entries(v.metrics).map(([k, m]) => [k, m.estimate])) }));

describe('results table with intervals and p-values', () => {
  test('markdown: mean [lo, hi] per cell, best bold by estimate, paired rows with Δ [CI] and p, a footnote (one seed: the item bootstrap)', () => {
    const md = renderResultsTable(demoRows, 'vqa', vqaStats([3])).markdown.trim().split('\n');
    expect(md[0]).toBe('| Model | Open recall | Closed accuracy | Closed accuracy (strict) |');
    expect(md[2]).toBe('| base | 0.36 [0.00, 1.10] | 30.56 [22.20, 39.81] | 3.70 [0.93, 7.41] |');
    expect(md[3]).toBe('| + SFT | **18.64 [12.10, 25.30]** | **59.26 [50.00, 68.52]** | **59.26 [50.00, 68.52]** |');
    expect(md[5]).toBe('| + MMedPO | 7.53 [3.20, 12.90] | 43.52 [34.26, 52.78] | 43.52 [34.26, 52.78] |');
    expect(md[6]).toBe('| *paired difference [CI], p* | | | |');
    expect(md[7]).toBe('| MMedPO − DPO | 0.00 [0.00, 0.00], p = 1.000 | +0.93 [-1.85, 3.70], p = 0.654 | +0.93 [-1.85, 3.70], p = 0.654 |');
    expect(md[8]).toBe('| MMedPO − SFT | -11.11 [-17.50, -5.02], p = 0.002 | -15.74 [-25.00, -6.48], p = 0.004 | -15.74 [-25.00, -6.48], p = 0.004 |');
    expect(md[10]).toBe(
      'Values: seed 3; [95% CI]: percentile bootstrap over the 189 test items (stratified: 81 + 108), B = 1000, seed 3. Differences: paired on the same resampled items; p: two-sided paired bootstrap, p = min(1, 2(1 + #sign flips)/(B + 1)).',
    );
    expect(md).toHaveLength(11);
  });
  test('several seeds: the footnote says mean over seeds and that the seeds are resampled too', () => {
    const md = renderResultsTable(demoRows, 'vqa', vqaStats([0, 1, 2])).markdown;
    expect(md).toContain('Values: mean over training seeds 0, 1, 2; [95% CI]: percentile bootstrap over the 189 test items (stratified: 81 + 108) and the seeds');
    expect(md).toContain('paired on the same resampled items and seeds;');
  });
  test('csv: value, CI low, CI high, p per metric; comparisons as rows', () => {
    const csv = renderResultsTable(demoRows, 'vqa', vqaStats([0, 1])).csv.trim().split('\n');
    expect(csv[0]).toBe(
      'variant,model,seeds,Open recall,Open recall CI low,Open recall CI high,Open recall p,Closed accuracy,Closed accuracy CI low,Closed accuracy CI high,Closed accuracy p,Closed accuracy (strict),Closed accuracy (strict) CI low,Closed accuracy (strict) CI high,Closed accuracy (strict) p',
    );
    expect(csv[1]).toBe('base,base,0 1,0.36,0.00,1.10,,30.56,22.20,39.81,,3.70,0.93,7.41,');
    expect(csv[5]).toBe('mmedpo-vs-dpo,MMedPO − DPO,,0.00,0.00,0.00,1.0000,0.93,-1.85,3.70,0.6543,0.93,-1.85,3.70,0.6543');
    expect(csv).toHaveLength(7);
  });
  test('a variant or metric the statistics lack falls back to its total', () => {
    const stats = vqaStats([3]);
    const md = renderResultsTable([...demoRows, { variant: 'no-crs', totals: { open_recall: 5, closed_accuracy: 40 } }], 'vqa', stats).markdown;
    expect(md).toContain('| ablation: w/o clinical relevance scores | 5.00 | 40.00 | – |');
  });
  test('HTML: intervals in the table, error bars on every bar, a forest plot per metric, still self-contained', () => {
    const html = renderHtmlReport({ title: 't', rows: demoRows, format: 'vqa', curves: [], statistics: vqaStats([0, 1]) });
    expect(html).toContain('<td>43.52 <small>[34.26, 52.78]</small></td>');
    expect(html).toContain('<h2>Paired differences</h2>');
    expect(html).toContain('<td>+0.93 [-1.85, 3.70], p = 0.654</td>');
    expect((html.match(/<svg /g) ?? []).length).toBe(3 + 3); // bars + forest plot per metric
    expect((html.match(/<path class="ci"/g) ?? []).length).toBe(4 * 3 + 2 * 3); // error bars + difference whiskers
    expect((html.match(/<circle /g) ?? []).length).toBe(2 * 3);
    expect(html).toContain('mean over training seeds 0, 1');
    expect(html).not.toMatch(/<script|<link|<img|https?:\/\/(?!www\.w3\.org)/);
  });
});

describe('grounding columns', () => {
  test('shown after the paper columns only when present, with intervals; hallucination rate: lowest is best', () => {
    expect(renderResultsTable(demoRows, 'vqa').markdown).not.toMatch(/Blind gap|Counter-prior|Lesion sensitivity|Hallucination/);
    const stats = vqaStats([0, 1]);
    const g = { sft: [40, 30, 0.2, 20], dpo: [35, 25, 0.1, 30], mmedpo: [45, 33, 0.3, 10] } as Record<string, number[]>;
    for (const v of stats.variants) {
      const x = g[v.variant];
      if (x) Object.assign(v.metrics, { counter_prior_accuracy: iv(x[0]!, x[0]! - 5, x[0]! + 5), blind_gap: iv(x[1]!, x[1]! - 4, x[1]! + 4), lesion_sensitivity: iv(x[2]!, 0, 2 * x[2]!), hallucination_rate: iv(x[3]!, x[3]! - 3, x[3]! + 3) });
    }
    const lines = renderResultsTable(demoRows, 'vqa', stats).markdown.split('\n');
    expect(lines[0]).toBe('| Model | Open recall | Closed accuracy | Closed accuracy (strict) | Counter-prior accuracy | Blind gap (points) | Lesion sensitivity (nats) | Hallucination rate |');
    expect(lines.find((l) => l.startsWith('| base |'))).toMatch(/\| – \| – \| – \| – \|$/);
    expect(lines.find((l) => l.startsWith('| + MMedPO |'))).toContain('**45.00 [40.00, 50.00]** | **33.00 [29.00, 37.00]** | **0.300 [0.000, 0.600]** | **10.00 [7.00, 13.00]** |');
    // lesion sensitivity (thousandths of a nat on a small model) with 3 decimals, in the CSV too
    expect(lines.find((l) => l.startsWith('| + DPO |'))).toContain('| 0.100 [0.000, 0.200] |');
    expect(lines.find((l) => l.startsWith('| + DPO |'))).toContain('| 30.00 [27.00, 33.00] |');
    const csv = renderResultsTable(demoRows, 'vqa', stats).csv.split('\n');
    expect(csv[0]).toContain('Blind gap (points),Blind gap (points) CI low,Blind gap (points) CI high');
    expect(csv.find((l) => l.startsWith('dpo,'))).toContain(',0.100,0.000,0.200,,');
  });
});
