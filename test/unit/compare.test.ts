// `campaign compare`: the pure comparison of finished campaigns (config diff, artifact keys, aligned tables).
import { compareCampaigns, differingPaths, flattenPaths, renderComparison, type CampaignSnapshot } from '../../cli/commands/compare';
import { parseCampaignConfig } from '../../core/config';
import type { ResultsStatistics } from '../../core/contracts';
import { score, type PredictionItem } from '../../core/metrics';
import { resultsStatistics } from '../../core/stats';

function vqaItems(n: number, correct: (i: number) => boolean): PredictionItem[] {
  return Array.from({ length: n }, (_, i) => {
    const closed = i % 3 !== 0;
    const reference = closed ? (i % 2 ? 'yes' : 'no') : 'left lung';
    return { id: `q${i}`, reference, answer_type: closed ? 'CLOSED' : 'OPEN', prediction: correct(i) ? reference : closed ? (reference === 'yes' ? 'no' : 'yes') : 'heart' };
  });
}

const PREDICTIONS: Record<string, PredictionItem[]> = {
  base: vqaItems(48, (i) => i % 3 === 0),
  sft: vqaItems(48, (i) => i % 4 !== 0),
  dpo: vqaItems(48, (i) => i % 5 !== 0),
  mmedpo: vqaItems(48, (i) => i % 6 !== 0),
};

/** A campaign's snapshot as the report activity writes it: totals per variant and the statistics from the same predictions. */
function snapshot(id: string, overrides: Record<string, unknown>, variants: string[], keyTag: { curation: string; training: string }): CampaignSnapshot {
  const config = parseCampaignConfig({ name: 'cmp', seed: 3, ...overrides });
  const runs = variants.map((v) => {
    const r = score('vqa', PREDICTIONS[v]!, { convention: 'pycoco' });
    return { variant: v, seed: 3, convention: 'pycoco' as const, predictions: PREDICTIONS[v]!, perItem: r.perItem, totals: r.totals };
  });
  const statistics: ResultsStatistics = resultsStatistics('vqa', runs, { seed: config.seed, resamples: 200 });
  return {
    campaignId: id,
    configHash: `hash-${JSON.stringify(overrides)}`,
    config,
    format: 'vqa',
    artifacts: {
      datasetManifest: 'manifests/aaa.json',
      scan: 'scans/bbb.json',
      shards: [`shards/${keyTag.curation}-0.json`, `shards/${keyTag.curation}-1.json`],
      sft: 'sft/ccc.jsonl',
      quarantine: `quarantine/${keyTag.curation}.json`,
      preferenceSets: Object.fromEntries(variants.filter((v) => v === 'dpo' || v === 'mmedpo').map((v) => [v, { jsonl: `preferences/${keyTag.curation}-${v}.jsonl`, llava: `preferences/${keyTag.curation}-${v}.json`, pairs: 10, stats: { text: { mean: 1 } } }])),
      adapters: Object.fromEntries(variants.filter((v) => v !== 'base').map((v) => [v, { adapter: `adapters/${keyTag.training}-${v}.tar`, metrics: `metrics/${keyTag.training}-${v}.json` }])),
      evaluations: Object.fromEntries(variants.map((v) => [v, { predictions: `predictions/${v}.jsonl`, scores: `eval-scores/${v}.json` }])),
      reports: { markdown: `reports/${id}.md`, csv: `reports/${id}.csv`, html: `reports/${id}.html` },
    },
    results: Object.fromEntries(runs.map((r) => [r.variant, r.totals])),
    statistics,
  };
}

const ALL = ['base', 'sft', 'dpo', 'mmedpo'];

describe('campaign compare (pure)', () => {
  test('configs that differ only in debate.rounds: exactly that field; the curation and training keys that follow from it', () => {
    const a = snapshot('camp-a', {}, ALL, { curation: 'c1', training: 't1' });
    const b = snapshot('camp-b', { debate: { rounds: 3 } }, ALL, { curation: 'c2', training: 't2' });
    const c = compareCampaigns([a, b]);
    expect(c.config).toEqual([{ path: 'debate.rounds', values: [5, 3] }]);
    expect(c.artifacts.same).toEqual(['datasetManifest', 'scan', 'sft', 'evaluations.base.predictions', 'evaluations.base.scores', 'evaluations.sft.predictions', 'evaluations.sft.scores', 'evaluations.dpo.predictions', 'evaluations.dpo.scores', 'evaluations.mmedpo.predictions', 'evaluations.mmedpo.scores']);
    expect(c.artifacts.different.map((d) => d.path)).toEqual([
      'shards[0]',
      'shards[1]',
      'quarantine',
      'preferenceSets.dpo.jsonl',
      'preferenceSets.dpo.llava',
      'preferenceSets.mmedpo.jsonl',
      'preferenceSets.mmedpo.llava',
      'adapters.sft.adapter',
      'adapters.sft.metrics',
      'adapters.dpo.adapter',
      'adapters.dpo.metrics',
      'adapters.mmedpo.adapter',
      'adapters.mmedpo.metrics',
    ]); // reports (they name their campaign) and non-key leaves (pairs, stats) are not artifact keys
    const text = renderComparison(c);
    expect(text).toMatch(/^A {2}camp-a {2}\(config hash-\{\}/);
    expect(text).toContain('\n## Config\n\ndebate.rounds: 5 → 3\n');
    expect(text).toContain('same in all: datasetManifest, scan, sft, evaluations.base.predictions');
    expect(text).toContain('adapters.mmedpo.adapter:\n  A  adapters/t1-mmedpo.tar\n  B  adapters/t2-mmedpo.tar\n');
  });

  test('a campaign and its rerun: equal tables (intervals and p-values too), no config difference, no artifact difference', () => {
    const a = snapshot('camp-a', {}, ALL, { curation: 'c1', training: 't1' });
    const rerun = snapshot('camp-a-rerun', {}, ALL, { curation: 'c1', training: 't1' });
    const c = compareCampaigns([a, rerun]);
    expect(c.config).toEqual([]);
    expect(c.artifacts.different).toEqual([]);
    expect(c.tablesEqual).toBe(true);
    expect(c.table.rows.map((r) => r.variant)).toEqual(ALL);
    for (const r of c.table.rows) expect(r.cells[1]).toEqual(r.cells[0]);
    expect(c.table.comparisons.map((r) => r.label)).toEqual(['MMedPO − DPO', 'MMedPO − SFT']);
    const text = renderComparison(c);
    expect(text).toContain('\n## Config\n\nno difference\n');
    expect(text).toContain('Tables: equal.');
    expect(text).toContain('different: none');
    // One row per variant per campaign; the same metrics as the results table.
    const lines = text.split('\n');
    const head = lines.findIndex((l) => l.startsWith('| Model | Campaign |'));
    expect(lines[head]).toBe('| Model | Campaign | Open recall | Closed accuracy | Closed accuracy (strict) |');
    expect(lines[head + 2]).toMatch(/^\| base \| A \| \d+\.\d\d \[\d+\.\d\d, \d+\.\d\d\] \|/);
    expect(lines[head + 3]!.replace('| B |', '| A |')).toBe(lines[head + 2]!.replace('| base |', '|  |'));
    expect(text).toMatch(/\| MMedPO − DPO \| A \| [+-]?\d+\.\d\d \[-?\d+\.\d\d, -?\d+\.\d\d\], p = \d\.\d{3} \|/);
  });

  test('variants aligned across campaigns with different variant lists; a different table is reported', () => {
    const a = snapshot('camp-a', {}, ALL, { curation: 'c1', training: 't1' });
    const b = snapshot('camp-b', { training: { variants: ['base', 'sft'] } }, ['base', 'sft'], { curation: 'c1', training: 't1' });
    const c = compareCampaigns([b, a]);
    expect(c.config).toEqual([
      { path: 'training.variants[2]', values: [undefined, 'dpo'], absentIn: ['camp-b'] },
      { path: 'training.variants[3]', values: [undefined, 'mmedpo'], absentIn: ['camp-b'] },
    ]);
    expect(c.table.rows.map((r) => r.variant)).toEqual(ALL); // paper order, union of both
    expect(c.table.rows[2]!.cells[0]).toEqual([null, null, null]); // dpo: absent in camp-b
    expect(c.table.rows[0]!.cells[0]).toEqual(c.table.rows[0]!.cells[1]); // base: same predictions, same seed → same interval
    expect(c.tablesEqual).toBe(false);
    expect(c.artifacts.different.map((d) => d.path)).toContain('preferenceSets.mmedpo.jsonl');
    const text = renderComparison(c);
    expect(text).toContain('training.variants[2]: (absent) → dpo');
    expect(text).toContain('| + DPO | A | – | – | – |');
    expect(text).toContain('Tables: differ.');
  });

  test('a campaign reported before statistics existed compares on its totals', () => {
    const a = snapshot('camp-a', {}, ALL, { curation: 'c1', training: 't1' });
    const old = { ...snapshot('camp-old', {}, ALL, { curation: 'c1', training: 't1' }), statistics: null };
    const c = compareCampaigns([old, a]);
    expect(c.table.rows[3]!.cells[0]![1]).toEqual({ estimate: a.results.mmedpo!.closed_accuracy });
    expect(c.table.rows[3]!.cells[1]![1]!.estimate).toBeCloseTo(a.results.mmedpo!.closed_accuracy!, 9);
    expect(c.tablesEqual).toBe(false); // the intervals are missing on one side
    expect(() => compareCampaigns([a])).toThrow('at least two');
  });

  test('leaf paths: nested objects and arrays; empty containers are leaves; order of first appearance', () => {
    expect([...flattenPaths({ a: { b: 1, c: [{ d: 'x' }, 2] }, e: [], f: {} })]).toEqual([
      ['a.b', 1],
      ['a.c[0].d', 'x'],
      ['a.c[1]', 2],
      ['e', []],
      ['f', {}],
    ]);
    expect(differingPaths([{ a: 1, b: { c: [1, 2] } }, { a: 1, b: { c: [1, 3] } }, { a: 1, b: { c: [1, 2] } }], ['x', 'y', 'z'])).toEqual([{ path: 'b.c[1]', values: [2, 3, 2] }]);
  });
});
