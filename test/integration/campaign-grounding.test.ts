/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
// Grounding metrics in a campaign on the real stack (issue 16 §3/§4): a small phantom campaign with a planted
// text prior (dataset.phantom.textPrior) and two training seeds. Every evaluation also runs `trainer ground`
// on the testbed the training worker stages from S3 (ingest stored phantom.json, the question files and the
// masks); each evaluated variant ends with the grounding metrics in its totals, the results table and the HTML
// report show them with their intervals over seeds and questions, and MMedPO − SFT with a paired p-value.
// (Base is left out to keep the run short: campaign.test.ts checks its grounding, with no adapter.)
import * as os from 'node:os';
import * as path from 'node:path';
import type { Worker } from '@temporalio/worker';
import type { DatasetManifest } from '../../activities/ingest';
import type { CampaignProgress, CampaignResult, ResultsStatistics } from '../../core/contracts';
import { GROUNDING_KEYS, groundingTotals, type GroundingDocument } from '../../core/grounding';
import { GROUNDING_COLUMNS } from '../../core/report';
import { configHash } from '../../lib/config-file';
import { artifactStore } from '../../lib/env';
import { connectClient, createWorker, WORKFLOWS_PATH } from '../../lib/temporal';
import { curationActivities } from '../../workers/curation';
import { createModelWorkers } from '../../workers/models';
import { createTrainingWorker } from '../../workers/training';
import { smallCampaignConfig } from '../helpers/small-campaign';

const prefix = `itgr${process.pid}-`;

/** Seed 3's 3 test studies: one with a mass, one with cardiomegaly, one normal (lesion items and hallucination questions both). */
const config = () =>
  smallCampaignConfig(prefix, {
    name: 'it-grounding',
    dataset: { format: 'phantom', root: path.join(os.tmpdir(), `mmedpo-phantom-itgr-${process.pid}`), phantom: { studies: 10, size: 64, testFraction: 0.3, textPrior: 0.9 }, limit: 8 },
    curation: { shardSize: 8, concurrency: 4 },
    training: { learningRate: 1e-3, batchSize: 4, epochs: 1, maxSteps: 2, maxLength: 96, lora: { enabled: true, r: 4, alpha: 8, dropout: 0 }, device: 'cpu', variants: ['sft', 'mmedpo'], seeds: [0, 1] },
    evaluation: { maxNewTokensVqa: 4, temperature: 0, bootstrap: { resamples: 200 } },
  });

describe('grounding metrics in a phantom campaign', () => {
  let workers: Worker[];
  let runs: Promise<void>[];
  beforeAll(async () => {
    workers = [
      await createWorker({ taskQueue: `${prefix}curation`, workflowsPath: WORKFLOWS_PATH, activities: curationActivities }),
      // two slots: the two seeds side by side (each run is mostly Python start-up)
      (await createTrainingWorker({ taskQueue: `${prefix}training`, slots: 2 })).worker,
      ...(await createModelWorkers(config(), { queuePrefix: prefix })),
    ];
    runs = workers.map((w) => w.run());
  });
  afterAll(async () => {
    workers.forEach((w) => w.shutdown());
    await Promise.all(runs);
  });

  it('every evaluation carries the grounding totals; the table and the report show them with intervals and paired differences', async () => {
    const cfg = config();
    const client = await connectClient();
    const id = `it-grounding-${Date.now()}`;
    const h = await client.workflow.start('campaignWorkflow', { taskQueue: `${prefix}curation`, workflowId: id, args: [{ campaignId: id, config: cfg, configHash: configHash(cfg) }] });
    const result = (await h.result()) as CampaignResult;
    const progress = await h.query<CampaignProgress>('progress');
    expect(progress.evaluation.done).toEqual(['sft@0', 'sft@1', 'mmedpo@0', 'mmedpo@1']);
    const store = artifactStore();
    type Manifest = { artifacts: { datasetManifest: string; evaluations: Record<string, { predictions: string; scores: string; grounding?: string }> }; results: Record<string, Record<string, number>>; statistics: ResultsStatistics };
    const manifest = await store.getJson<Manifest>(result.manifestKey);

    // Ingest kept the ground truth in S3 (keys only): the planted prior is in its phantom.json.
    const dm = await store.getJson<DatasetManifest>(manifest.artifacts.datasetManifest);
    expect(Object.keys(dm.phantom!.files).sort()).toEqual(['phantom.json', 'testset.json', 'trainset.json']);
    expect((await store.getJson<{ textPrior?: { strength: number } }>(dm.phantom!.files['phantom.json']!)).textPrior?.strength).toBe(0.9);
    const testIds = new Set(dm.items.filter((i) => i.split === 'test').map((i) => i.id));

    // One grounding document per evaluation: a record per graded test question, keyed by its item id.
    expect(Object.keys(manifest.artifacts.evaluations).sort()).toEqual(['mmedpo@0', 'mmedpo@1', 'sft@0', 'sft@1']);
    const docs: Record<string, GroundingDocument> = {};
    for (const [run, e] of Object.entries(manifest.artifacts.evaluations)) {
      expect(e.grounding).toMatch(/grounding\//);
      const doc = await store.getJson<GroundingDocument>(e.grounding!);
      docs[run] = doc;
      expect(doc.split).toBe('test');
      expect(doc.noiseSeed).toBe(cfg.seed);
      expect(doc.items.length).toBeGreaterThan(0);
      for (const r of doc.items) expect(testIds.has(r.id!)).toBe(true);
      // counter-prior split: every closed test question is worded against its answer
      const closed = doc.items.filter((r) => r.answerType === 'CLOSED');
      expect(closed.length).toBeGreaterThan(0);
      for (const r of closed) expect(r.prior).toBe('counter');
      expect(doc.items.some((r) => typeof r.lesionDelta === 'number')).toBe(true);
      expect(doc.items.some((r) => typeof r.hallucinated === 'boolean')).toBe(true);
      // the Node-side recomputation gives the trainer's totals
      const t = groundingTotals(doc.items);
      for (const k of GROUNDING_KEYS) expect(t[k]).toBeCloseTo(doc.totals[k]!, 9);
    }

    // Every evaluated variant's totals (the mean over its seeds) carry the four grounding metrics.
    for (const [v, runsOf] of [['sft', ['sft@0', 'sft@1']], ['mmedpo', ['mmedpo@0', 'mmedpo@1']]] as const) {
      for (const k of GROUNDING_KEYS) {
        const mean = runsOf.reduce((a, r) => a + docs[r]!.totals[k]!, 0) / runsOf.length;
        expect(manifest.results[v]![k]).toBeCloseTo(mean, 9);
        // with their interval over seeds and questions; on the whole test set the estimate is the totals' mean
        const iv = manifest.statistics.variants.find((x) => x.variant === v)!.metrics[k]!;
        expect(iv.estimate).toBeCloseTo(mean, 9);
        expect(iv.lo).toBeLessThanOrEqual(iv.estimate + 1e-9);
        expect(iv.hi).toBeGreaterThanOrEqual(iv.estimate - 1e-9);
      }
    }
    expect(manifest.statistics.variants.find((x) => x.variant === 'sft')!.seeds).toEqual([0, 1]);
    const diff = manifest.statistics.comparisons.find((c) => c.variant === 'mmedpo' && c.baseline === 'sft')!;
    for (const k of GROUNDING_KEYS) expect(diff.metrics[k]!.p).toBeGreaterThan(0);

    // The results table: the grounding columns after the paper's, each cell "value [lo, hi]", and the paired row.
    const lines = result.table.split('\n');
    expect(lines[0]).toBe(`| Model | Open recall | Closed accuracy | Closed accuracy (strict) | ${GROUNDING_COLUMNS.map((c) => c.header).join(' | ')} |`);
    for (const label of ['| + SFT |', '| + MMedPO |', '| MMedPO − SFT |']) {
      const cells = lines.find((l) => l.startsWith(label))!.split('|').slice(2, -1);
      expect(cells).toHaveLength(3 + GROUNDING_COLUMNS.length);
      // (lesion sensitivity with 3 decimals)
      for (const c of cells.slice(3)) expect(c).toMatch(/^ (\*\*)?[-+]?\d+\.\d{2,3} \[-?\d+\.\d{2,3}, -?\d+\.\d{2,3}\]/);
    }
    // The HTML report: the same columns by name, with error bars and the forest plot of the differences.
    const html = (await store.getBytes(result.reportKeys.html)).toString('utf8');
    for (const c of GROUNDING_COLUMNS) {
      expect(html).toContain(`<th>${c.header}</th>`);
      expect(html).toContain(`aria-label="${c.header}"`);
      expect(html).toContain(`aria-label="${c.header}: difference"`);
    }
    await client.connection.close();
  }, 600_000);
});
