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
