/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
// `campaign compare` on finished campaigns read from the real stack with no worker running: the
// results from Temporal (decoded by the client's codec), the manifests (with the report activity's
// bootstrap statistics, computed from the per-item scores in S3) from MinIO. Three small campaigns
// (no training: curation of 8 items, then the base model evaluated on the test split): A, its
// rerun, and B with debate.rounds 3.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { Worker } from '@temporalio/worker';
import * as activities from '../../activities';
import { startCampaign } from '../../cli/commands/campaign';
import { compareCampaigns, loadSnapshot, renderComparison } from '../../cli/commands/compare';
import { parseCampaignConfig } from '../../core/config';
import { PROJECT_ROOT } from '../../infra/stack';
import { ensurePhantomDataset } from '../../lib/phantom-dataset';
import { connectClient, createWorker, WORKFLOWS_PATH } from '../../lib/temporal';
import { createModelWorkers } from '../../workers/models';
import { createTrainingWorker } from '../../workers/training';

const execFileP = promisify(execFile);
const prefix = `cmp${process.pid}-`;

function config(overrides: Record<string, unknown> = {}) {
  return parseCampaignConfig({
    name: 'cmp',
    seed: 5,
    dataset: { format: 'phantom', root: path.join(os.tmpdir(), `mmedpo-phantom-cmp-${process.pid}`), phantom: { studies: 8, size: 128, testFraction: 0.3 }, limit: 8 },
    curation: { shardSize: 6, concurrency: 4 },
    training: { enabled: false, variants: ['base'], device: 'cpu' },
    evaluation: { maxNewTokensVqa: 4, bootstrap: { resamples: 500 } },
    temporal: { queuePrefix: prefix },
    ...overrides,
  });
}

describe('campaign compare on finished campaigns', () => {
  let workers: Worker[] = [];
  let runs: Promise<void>[] = [];
  afterAll(async () => {
    workers.forEach((w) => w.shutdown());
    await Promise.all(runs);
    fs.rmSync(config().dataset.root, { recursive: true, force: true });
  });

  it('a rerun: equal tables, no config or artifact difference; debate.rounds 5 vs 3: exactly that field', async () => {
    workers = [
      await createWorker({ taskQueue: `${prefix}curation`, workflowsPath: WORKFLOWS_PATH, activities }),
      (await createTrainingWorker({ taskQueue: `${prefix}training`, slots: 3 })).worker, // the three evaluations side by side
      ...(await createModelWorkers(config(), { queuePrefix: prefix })),
    ];
    runs = workers.map((w) => w.run());
    const client = await connectClient();
    // The phantom set once, before the campaigns that share it start side by side.
    const d = config().dataset;
    await ensurePhantomDataset({ out: d.root, studies: d.phantom.studies, size: d.phantom.size, seed: config().seed, testFraction: d.phantom.testFraction });
    const a = await startCampaign(client, config());
    const b = await startCampaign(client, config({ debate: { rounds: 3 } }));
    const rerun = await startCampaign(client, config(), { rerunOf: a.campaignId });
    await Promise.all([a, b, rerun].map((s) => client.workflow.getHandle(s.campaignId).result()));
    // From here on no worker runs: compare reads histories and S3 only.
    workers.forEach((w) => w.shutdown());
    await Promise.all(runs);
    workers = [];

    const snapA = await loadSnapshot(client, a.campaignId);
    const snapRerun = await loadSnapshot(client, rerun.campaignId);
    const snapB = await loadSnapshot(client, b.campaignId);

    // The report activity's statistics: the base model's interval around its total, on the test items.
    const stats = snapA.statistics!;
    expect(stats.resamples).toBe(500);
    expect(stats.seed).toBe(5);
    expect(stats.variants.map((v) => v.variant)).toEqual(['base']);
    const closed = stats.variants[0]!.metrics.closed_accuracy!;
    expect(closed.estimate).toBeCloseTo(snapA.results.base!.closed_accuracy!, 9);
    expect(closed.lo).toBeLessThanOrEqual(closed.estimate);
    expect(closed.hi).toBeGreaterThanOrEqual(closed.estimate);
    // n and the strata come from the predictions and per-item scores read back from S3: every test item, open and closed.
    const totals = snapA.results.base!;
    expect(totals.n_open! + totals.n_closed!).toBeGreaterThan(0);
    expect(stats.items).toBe(totals.n_open! + totals.n_closed!);
    expect(stats.strata).toEqual([totals.n_open, totals.n_closed].filter((n) => n! > 0));

    const same = compareCampaigns([snapA, snapRerun]);
    expect(same.config).toEqual([]);
    expect(same.artifacts.different).toEqual([]);
    expect(same.artifacts.same).toEqual(expect.arrayContaining(['datasetManifest', 'evaluations.base.predictions', 'evaluations.base.scores']));
    expect(same.tablesEqual).toBe(true);
    expect(same.table.rows.map((r) => r.variant)).toEqual(['base']);

    const diff = compareCampaigns([snapA, snapB]);
    expect(diff.config).toEqual([{ path: 'debate.rounds', values: [5, 3] }]);
    expect(diff.artifacts.same).toContain('datasetManifest');

    // The command as a user runs it: its own process, no worker up.
    const cli = await execFileP(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'mmedpo.js'), 'campaign', 'compare', a.campaignId, b.campaignId], { env: process.env, timeout: 60_000 });
    expect(cli.stdout).toBe(renderComparison(diff));
    expect(cli.stdout).toContain('\n## Config\n\ndebate.rounds: 5 → 3\n');
    await client.connection.close();
  }, 300_000);
});
