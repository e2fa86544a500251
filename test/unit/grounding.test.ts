// Grounding metrics on the Node side (core/grounding.ts): the trainer's document read as written (NaN), the
// metrics recomputed from any multiset of records as trainer/grounding.py computes them, their intervals and
// paired differences from the same bootstrap as the other metrics (core/stats.ts), and the phantom ground
// truth stored at ingest and staged again for an evaluation (activities/ingest.ts, activities/training/grounding.ts).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { GROUNDING_KEYS, groundingStatistic, groundingTotals, groundingTotalsForResults, type GroundingRecord } from '../../core/grounding';
import { GROUNDING_COLUMNS, renderHtmlReport, renderResultsTable, svgBarChart } from '../../core/report';
import { resultsStatistics, type ScoredRun } from '../../core/stats';
import { seededRng } from '../../core/rng';
import { trainerPython } from '../../activities/training/supervisor';
import { MemoryStore } from '../helpers/memory-store';

const mockStore = new MemoryStore();
jest.mock('../../lib/env', () => ({ ...jest.requireActual('../../lib/env'), artifactStore: () => mockStore }));

// After the mock: these read and write S3 through artifactStore().
import { ingestChunk, scanDataset, writeManifest, type ChunkResult, type DatasetManifest, type PhantomTruth } from '../../activities/ingest';
import { stagePhantomTestbed } from '../../activities/training/grounding';
import { writePhantom } from '../../lib/phantom';

const ROOT = path.resolve(__dirname, '..', '..');

/** Random per-question records of the trainer's shape (closed PRES/ABN with priors, open ABN, lesion deltas). */
function randomRecords(seed: number, n: number, o: { counter?: boolean } = {}): GroundingRecord[] {
  const r = seededRng(seed, 'grounding-test', 'records');
  return Array.from({ length: n }, (_, i) => {
    const closed = r.next() < 0.8;
    const rec: GroundingRecord = { id: `phantom:test:${i}`, qid: i, questionType: closed ? (r.next() < 0.6 ? 'PRES' : 'ABN') : r.next() < 0.5 ? 'ABN' : 'POS', answerType: closed ? 'CLOSED' : 'OPEN', prior: closed && o.counter !== false ? 'counter' : null };
    if (closed) Object.assign(rec, { correct: r.next() < 0.6, correctBlank: r.next() < 0.5 });
    if (r.next() < 0.4) rec.hallucinated = r.next() < 0.3;
    if (closed && r.next() < 0.5) rec.lesionDelta = (r.next() - 0.4) * 2;
    return rec;
  });
}

describe('the trainer ground document', () => {
  it('the trainer writes standard JSON (json_ready: NaN and ±inf → null, strings as written); the finite grounding totals join the results', () => {
    const r = spawnSync(trainerPython(), ['-c', 'import json\nfrom trainer.grounding import json_ready\nprint(json.dumps(json_ready({"totals": {"a": float("nan"), "b": float("-inf"), "c": float("inf"), "d": -1.5e-3}, "items": [{"prediction": "NaN \\" Infinity", "x": float("nan")}]}), allow_nan=False))'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ totals: { a: null, b: null, c: null, d: -1.5e-3 }, items: [{ prediction: 'NaN " Infinity', x: null }] });
    expect(groundingTotalsForResults({ counter_prior_accuracy: null, blind_gap: 2.5, lesion_sensitivity: 0.01, hallucination_rate: 10, closed_accuracy_image: 50 })).toEqual({ blind_gap: 2.5, lesion_sensitivity: 0.01, hallucination_rate: 10 });
  });

  it('the keys are the results table\'s grounding columns', () => {
    expect(GROUNDING_KEYS).toEqual(GROUNDING_COLUMNS.map((c) => c.key));
    expect(GROUNDING_KEYS).toEqual(['counter_prior_accuracy', 'blind_gap', 'lesion_sensitivity', 'hallucination_rate']);
  });

  it('groundingTotals equals trainer/grounding.py grounding_totals on the same multisets of records', () => {
    const recs = randomRecords(1, 60);
    const sets: GroundingRecord[][] = [recs, randomRecords(2, 25, { counter: false }), [], [...recs.slice(0, 5), recs[0]!, recs[0]!, recs[3]!]];
    const r = spawnSync(trainerPython(), ['-c', 'import json,sys\nfrom trainer.grounding import grounding_totals, json_ready\nprint(json.dumps([json_ready(grounding_totals(s)) for s in json.load(sys.stdin)], allow_nan=False))'], { cwd: ROOT, input: JSON.stringify(sets), encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const py = JSON.parse(r.stdout) as Record<string, number | null>[];
    sets.forEach((s, i) => {
      const ts = groundingTotals(s);
      expect(Object.keys(ts).sort()).toEqual(Object.keys(py[i]!).sort());
      for (const [k, v] of Object.entries(py[i]!)) {
        if (v === null) expect(ts[k]).toBeNaN();
        else expect(ts[k]).toBeCloseTo(v, 10);
      }
    });
    expect(groundingTotals(sets[1]!).counter_prior_accuracy).toBeNaN();
  });
});

describe('grounding intervals (core/stats.ts)', () => {
  const n = 40;
  /** A VQA evaluation's predictions and per-item scores (10 open, 30 closed) with grounding records on the closed ones. */
  function run(variant: string, seed: number, groundingSeed: number | undefined): ScoredRun {
    const rng = seededRng(seed, variant, 'preds');
    const predictions = Array.from({ length: n }, (_, i) => ({ id: `phantom:test:${i}`, prediction: 'yes', reference: i < 10 ? 'left lung' : 'yes', answer_type: i < 10 ? 'OPEN' : 'CLOSED' }));
    const perItem = predictions.map((p, i) => ({ id: p.id, scores: (i < 10 ? { open_recall: 100 * rng.next() } : { closed_accuracy: rng.next() < 0.5 ? 100 : 0, closed_accuracy_strict: 0 }) as Record<string, number> }));
    const grounding = groundingSeed === undefined ? undefined : randomRecords(groundingSeed, n).filter((r) => r.answerType === 'CLOSED' || r.qid % 2 === 0);
    return { variant, seed, convention: 'pycoco', predictions, perItem, ...(grounding ? { grounding } : {}) };
  }

  it('mean over seeds of the full-set totals, a percentile interval around it, and paired differences', () => {
    const runs = [run('sft', 0, 11), run('sft', 1, 12), run('dpo', 0, 21), run('dpo', 1, 22), run('mmedpo', 0, 31), run('mmedpo', 1, 32)];
    const stats = resultsStatistics('vqa', runs, { seed: 7, resamples: 400 });
    for (const v of ['sft', 'dpo', 'mmedpo']) {
      const m = stats.variants.find((x) => x.variant === v)!.metrics;
      const full = runs.filter((r) => r.variant === v).map((r) => groundingTotals(r.grounding!));
      for (const k of GROUNDING_KEYS) {
        expect(m[k]!.estimate).toBeCloseTo((full[0]![k]! + full[1]![k]!) / 2, 10);
        expect(m[k]!.lo).toBeLessThanOrEqual(m[k]!.estimate);
        expect(m[k]!.hi).toBeGreaterThanOrEqual(m[k]!.estimate);
        expect(m[k]!.hi).toBeGreaterThan(m[k]!.lo);
      }
    }
    const c = stats.comparisons.find((x) => x.variant === 'mmedpo' && x.baseline === 'dpo')!;
    for (const k of GROUNDING_KEYS) {
      expect(c.metrics[k]!.estimate).toBeCloseTo(stats.variants.find((x) => x.variant === 'mmedpo')!.metrics[k]!.estimate - stats.variants.find((x) => x.variant === 'dpo')!.metrics[k]!.estimate, 10);
      expect(c.metrics[k]!.p).toBeGreaterThan(0);
      expect(c.metrics[k]!.p).toBeLessThanOrEqual(1);
    }
    // Same seed → same intervals.
    expect(resultsStatistics('vqa', runs, { seed: 7, resamples: 400 })).toEqual(stats);
    // The table and the report show them as the other metrics, with the paired differences.
    const rows = ['sft', 'dpo', 'mmedpo'].map((variant) => ({ variant, totals: {} }));
    const md = renderResultsTable(rows, 'vqa', stats).markdown;
    expect(md.split('\n')[0]).toContain('| Counter-prior accuracy | Blind gap (points) | Lesion sensitivity (nats) | Hallucination rate |');
    expect(md.split('\n').find((l) => l.startsWith('| MMedPO − DPO |'))!.split('|').length).toBe(1 + 1 + 3 + 4 + 1);
    const html = renderHtmlReport({ title: 't', rows, format: 'vqa', curves: [], statistics: stats });
    for (const h of ['Counter-prior accuracy', 'Blind gap (points)', 'Lesion sensitivity (nats)', 'Hallucination rate']) {
      expect(html).toContain(`<th>${h}</th>`);
      expect(html).toContain(`aria-label="${h}"`);
      expect(html).toContain(`aria-label="${h}: difference"`);
    }
    expect(html).not.toContain('<th>counter_prior_accuracy</th>');
  });

  it('a replicate is grounding_totals of the resampled items\' records (hand-checked draw); items without a record add nothing', () => {
    const a = run('mmedpo', 0, 5);
    const draw = Array.from({ length: n }, (_, i) => (i < 10 ? i : 10 + ((i * 7) % 30)));
    const stats = resultsStatistics('vqa', [a], { seed: 0, draws: [{ items: draw }] });
    const byId = new Map(a.grounding!.map((r) => [r.id!, r]));
    const picked = draw.flatMap((j) => (byId.get(`phantom:test:${j}`) ? [byId.get(`phantom:test:${j}`)!] : []));
    const expected = groundingTotals(picked);
    for (const k of GROUNDING_KEYS) {
      const m = stats.variants[0]!.metrics[k]!;
      expect(m.lo).toBeCloseTo(expected[k]!, 10);
      expect(m.hi).toBeCloseTo(expected[k]!, 10);
    }
    // The statistic on every position is the full totals.
    const all = Array.from({ length: n }, (_, i) => i);
    const st = groundingStatistic(all.map((i) => byId.get(`phantom:test:${i}`)))(all);
    for (const k of GROUNDING_KEYS) expect(st[k]).toBeCloseTo(groundingTotals(a.grounding!)[k]!, 12);
  });

  it('evaluations without grounding records get no grounding metric, and the table no grounding column', () => {
    const stats = resultsStatistics('vqa', [run('sft', 0, undefined), run('dpo', 0, undefined)], { seed: 1, resamples: 100 });
    for (const v of stats.variants) for (const k of GROUNDING_KEYS) expect(v.metrics[k]).toBeUndefined();
    expect(renderResultsTable([{ variant: 'sft', totals: {} }], 'vqa', stats).markdown).not.toMatch(/Blind gap/);
  });
});

it('bar charts draw a negative value (blind gap, lesion sensitivity) left of zero, a positive one right of it', () => {
  const svg = svgBarChart('t', [{ name: 'a', value: -2, lo: -3, hi: -1 }, { name: 'b', value: 4 }]);
  const rects = [...svg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
  expect(rects).toHaveLength(2);
  const zero = rects[1]![0];
  expect(rects[0]![0] + rects[0]![1]).toBeCloseTo(zero, 1);
  expect(rects[0]![1] / rects[1]![1]).toBeCloseTo(0.5, 1);
});

describe('phantom ground truth: stored at ingest, staged for an evaluation', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'grounding-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const env = new MockActivityEnvironment();

  async function ingest(root: string, format = 'phantom'): Promise<DatasetManifest> {
    const scan = await scanDataset({ format, root });
    const chunks: string[] = [];
    for (let s = 0; s < scan.items; s += 40) chunks.push(((await env.run(ingestChunk, { scanKey: scan.scanKey, root, start: s, end: Math.min(scan.items, s + 40) })) as ChunkResult).chunkKey);
    return mockStore.getJson<DatasetManifest>((await writeManifest({ scanKey: scan.scanKey, chunkKeys: chunks })).manifestKey);
  }

  it('the manifest keeps phantom.json, the question files and every mask; the staged root holds the test split as written', async () => {
    const root = path.join(tmp, 'set');
    await writePhantom(root, { seed: 4, studies: 8, size: 64, testFraction: 0.25, textPrior: { strength: 0.9 } });
    const m = await ingest(root);
    expect(Object.keys(m.phantom!.files).sort()).toEqual(['phantom.json', 'testset.json', 'trainset.json']);
    for (const [name, key] of Object.entries(m.phantom!.files)) expect(await mockStore.getBytes(key)).toEqual(fs.readFileSync(path.join(root, name)));
    expect(Object.keys(m.phantom!.masks).sort()).toEqual(fs.readdirSync(path.join(root, 'masks')).map((f) => `masks/${f}`).sort());
    for (const [p, key] of Object.entries(m.phantom!.masks)) expect(await mockStore.getBytes(key)).toEqual(fs.readFileSync(path.join(root, p)));

    const staged = (await stagePhantomTestbed(m, 'test', fs.mkdtempSync(path.join(tmp, 'stage-'))))!;
    const testset = JSON.parse(fs.readFileSync(path.join(root, 'testset.json'), 'utf8')) as { qid: number; image_name: string }[];
    expect(staged.split).toBe('test');
    expect(staged.questions).toBe(testset.length);
    expect(JSON.parse(fs.readFileSync(path.join(staged.root, 'testset.json'), 'utf8'))).toEqual(testset);
    expect(fs.readFileSync(path.join(staged.root, 'phantom.json'))).toEqual(fs.readFileSync(path.join(root, 'phantom.json')));
    const names = [...new Set(testset.map((r) => r.image_name))].sort();
    expect(fs.readdirSync(path.join(staged.root, 'images')).sort()).toEqual(names);
    for (const f of names) expect(fs.readFileSync(path.join(staged.root, 'masks', f))).toEqual(fs.readFileSync(path.join(root, 'masks', f)));
    expect([...staged.idOf.entries()].sort((a, b) => a[0] - b[0])).toEqual(testset.map((r) => [r.qid, `phantom:test:${r.qid}`]).sort((a, b) => (a[0] as number) - (b[0] as number)));

    // A question the manifest does not keep (quarantined at ingest) is not graded; nothing to grade: no testbed.
    const dropped = testset[0]!.qid;
    const fewer = { ...m, items: m.items.filter((i) => i.id !== `phantom:test:${dropped}`) };
    const s2 = (await stagePhantomTestbed(fewer, 'test', fs.mkdtempSync(path.join(tmp, 'stage-'))))!;
    expect(s2.questions).toBe(testset.length - 1);
    expect(s2.idOf.has(dropped)).toBe(false);
    expect(await stagePhantomTestbed({ ...m, items: m.items.filter((i) => i.split !== 'test') }, 'test', fs.mkdtempSync(path.join(tmp, 'stage-')))).toBeUndefined();
    expect(await stagePhantomTestbed({ ...m, phantom: undefined }, 'test', fs.mkdtempSync(path.join(tmp, 'stage-')))).toBeUndefined();
    // A study path that would leave the staged root is not graded.
    const evil: PhantomTruth = { ...m.phantom!, masks: { ...m.phantom!.masks } };
    const pj = JSON.parse(fs.readFileSync(path.join(root, 'phantom.json'), 'utf8')) as { items: { image: string; mask: string }[] };
    const victim = pj.items.find((s) => s.image === `images/${testset[0]!.image_name}`)!;
    victim.mask = '../../outside.png';
    evil.masks['../../outside.png'] = m.phantom!.masks[`masks/${testset[0]!.image_name}`]!;
    evil.files = { ...evil.files, 'phantom.json': (await mockStore.putBytes('phantom-truth', Buffer.from(JSON.stringify(pj)), { ext: '.json' })).key };
    const dir = fs.mkdtempSync(path.join(tmp, 'stage-'));
    const s3 = (await stagePhantomTestbed({ ...m, phantom: evil }, 'test', path.join(dir, 'root')))!;
    expect(s3.questions).toBe(testset.length - testset.filter((r) => r.image_name === testset[0]!.image_name).length);
    expect(fs.existsSync(path.join(dir, '..', 'outside.png'))).toBe(false);
  });

  it('a dataset of another format keeps its manifest as before (no phantom field)', async () => {
    const root = path.join(tmp, 'plain');
    await writePhantom(root, { seed: 4, studies: 4, size: 64, testFraction: 0.25 });
    const m = await ingest(root, 'vqa-rad');
    expect(m).not.toHaveProperty('phantom');
    expect(m.items.length).toBeGreaterThan(0);
  });
});
