import { renderHtmlReport, renderResultsTable, svgLineChart, type ResultRow } from '../../core/results';

const rows: ResultRow[] = [
  { variant: 'mmedpo', results: { 'vqa-rad': { open_recall: 36.36, closed_acc: 66.54 }, 'iu-xray': { BLEU: 23.49, ROUGE_L: 29.52, METEOR: 34.16 } } },
  { variant: 'no-crs', results: { 'vqa-rad': { open_recall: 30, closed_acc: 70 } } },
  { variant: 'base', results: { 'vqa-rad': { open_recall: 29.24, closed_acc: 63.97 }, 'iu-xray': { BLEU_4: 14.56, ROUGE_L: 10.31, METEOR: 10.95 } } },
  { variant: 'dpo', results: { 'vqa-rad': { open_recall: 29.76, closed_acc: 64.7 } } },
];

describe('results table (Table 1 layout)', () => {
  test('markdown: paper row order, ablations after, empty columns dropped, best bold, missing –', () => {
    const t = renderResultsTable(rows);
    const lines = t.markdown.trim().split('\n');
    expect(lines[0]).toBe('| Model | VQA-RAD open | VQA-RAD closed | IU BLEU | IU ROUGE-L | IU METEOR |');
    expect(lines[2]).toBe('| base | 29.24 | 63.97 | 14.56 | 10.31 | 10.95 |');
    expect(lines[3]).toBe('| + DPO | 29.76 | 64.70 | – | – | – |');
    expect(lines[4]).toBe('| + MMedPO | **36.36** | **66.54** | **23.49** | **29.52** | **34.16** |');
    expect(lines[5]).toContain('*ablations*');
    expect(lines[6]).toBe('| ablation: w/o clinical relevance scores | 30.00 | 70.00 | – | – | – |'); // ablations never bold
  });
  test('csv', () => {
    const t = renderResultsTable(rows);
    const lines = t.csv.trim().split('\n');
    expect(lines[0]).toBe('variant,model,VQA-RAD open,VQA-RAD closed,IU BLEU,IU ROUGE-L,IU METEOR');
    expect(lines[1]).toBe('base,base,29.24,63.97,14.56,10.31,10.95');
    expect(lines[2]).toBe('dpo,+ DPO,29.76,64.70,,,');
    expect(lines).toHaveLength(5);
  });
});

describe('HTML report', () => {
  test('self-contained, escaped, with inline SVG curves and bars', () => {
    const html = renderHtmlReport({
      title: 'Run <1> & co',
      rows,
      curves: [{ variant: 'mmedpo', loss: [0.69, 0.6, 0.5, Number.NaN, 0.4], rewardMargin: [0, 0.1, 0.3, 0.5, 0.6] }],
      notes: ['METEOR is an <approximation>'],
    });
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('Run &lt;1&gt; &amp; co');
    expect(html).toContain('METEOR is an &lt;approximation&gt;');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    expect((html.match(/<svg /g) ?? []).length).toBe(5 + 2); // 5 metric columns + loss + margin
    expect((html.match(/<polyline /g) ?? []).length).toBe(2);
    expect(html).toContain('<td>66.54</td>');
  });
  test('line chart with no data says so', () => {
    expect(svgLineChart('loss', [])).toContain('no data');
  });
});
