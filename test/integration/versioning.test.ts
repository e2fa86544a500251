/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
// Safe upgrades (Worker Versioning): a campaign started on build A finishes on A while build B —
// whose campaignWorkflow would not replay A's histories — is rolled out beside it. The product's
// worker factory (lib/temporal.ts createWorker) does the versioning: deployment `${prefix}mmedpo`,
// workflows PINNED, the new build made current when its workers start.
//   1. A's curation worker starts; campaign 1 starts on A and is paused at the curation stage.
//   2. B's worker starts (B becomes current); campaign 2 starts meanwhile and completes on B.
//   3. Campaign 1 is resumed and completes on A; only then are A's workers stopped.
// Every workflow task of campaign 1 and its children was completed by build A, every one of
// campaign 2's by build B, their model calls by the model workers of that build, and no history
// holds a failed workflow task (no non-determinism).
import * as os from 'node:os';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, type Worker } from '@temporalio/worker';
import * as activities from '../../activities';
import { parseCampaignConfig } from '../../core/config';
import type { CampaignProgress, CampaignResult } from '../../core/contracts';
import { configHash } from '../../lib/config-file';
import { connectClient, createWorker, currentBuildId, dataConverter, deploymentLabel } from '../../lib/temporal';
import { createModelWorkers } from '../../workers/models';
import { waitUntil } from '../helpers/processes';
import { workflowBundle } from '../helpers/temporal';

const prefix = `vt${process.pid}-`;
const deploymentName = `${prefix}mmedpo`;
const buildA = `0.0.0+a${process.pid}`;
const buildB = `0.0.0+b${process.pid}`;
const queue = `${prefix}curation`;

const cfg = parseCampaignConfig({
  name: 'versioning',
  seed: 5,
  dataset: { format: 'phantom', root: path.join(os.tmpdir(), `mmedpo-phantom-versioning-${process.pid}`), phantom: { studies: 6, size: 96, testFraction: 0.3 }, limit: 4 },
  curation: { shardSize: 4, concurrency: 2 },
  training: { enabled: false, variants: ['base'] },
  evaluation: { enabled: false },
  temporal: { queuePrefix: prefix },
});

type Run = { worker: Worker; models: Worker[]; done: Promise<unknown> };
/**
 * One build: its curation worker and its model workers (every role queue of the deployment; a pinned
 * workflow's activities go to pollers of its own build, so each build brings its own).
 */
async function startWorker(buildId: string, bundle: Awaited<ReturnType<typeof bundleWorkflowCode>>): Promise<Run> {
  const worker = await createWorker({ taskQueue: queue, workflowBundle: bundle, activities, versioning: { queuePrefix: prefix, buildId } });
  const models = await createModelWorkers(cfg, { queuePrefix: prefix, versioning: { queuePrefix: prefix, buildId } });
  return { worker, models, done: Promise.all([worker.run(), ...models.map((m) => m.run())]) };
}
function stop(r: Run): void {
  for (const w of [r.worker, ...r.models]) if (w.getState() === 'RUNNING') w.shutdown();
}

/** Every workflow of a campaign (the campaign, its ingest, shards and item workflows), closed. */
async function campaignWorkflows(client: Client, campaignId: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowId = '${campaignId}' OR WorkflowId STARTS_WITH '${campaignId}/'` })) ids.push(w.workflowId);
  return ids;
}

/** Build ids of the workers that completed each workflow task, and the failed workflow tasks, of one workflow. */
async function taskBuilds(client: Client, workflowId: string): Promise<{ builds: Set<string>; failed: string[]; firstCommand: string | undefined }> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const builds = new Set<string>();
  const failed: string[] = [];
  let firstCommand: string | undefined;
  events.forEach((e, i) => {
    if (e.workflowTaskCompletedEventAttributes) {
      builds.add(e.workflowTaskCompletedEventAttributes.deploymentVersion?.buildId ?? '(none)');
      firstCommand ??= Object.keys(events[i + 1] ?? {}).find((k) => k.endsWith('EventAttributes'));
    }
    if (e.workflowTaskFailedEventAttributes) failed.push(`${workflowId}: ${e.workflowTaskFailedEventAttributes.failure?.message ?? 'workflow task failed'}`);
  });
  return { builds, failed, firstCommand };
}

describe('worker versioning', () => {
  let client: Client;
  let a: Run | undefined;
  let b: Run | undefined;
  beforeAll(async () => {
    client = await connectClient();
  });
  afterAll(async () => {
    for (const r of [a, b]) {
      if (!r) continue;
      stop(r);
      await r.done.catch(() => undefined);
    }
    await client.connection.close();
  });

  it('keeps a running campaign on build A while build B takes new campaigns; no non-determinism anywhere', async () => {
    const bundleA = await workflowBundle();
    const bundleB = await bundleWorkflowCode({ workflowsPath: require.resolve('../helpers/workflows-build-b'), failureConverterPath: dataConverter()?.failureConverterPath, logger: new DefaultLogger('WARN') });
    const svc = client.workflowService;
    const ns = client.options.namespace;

    // 1. Build A serves the deployment (and made itself current); campaign 1 starts there and is
    // held at the curation stage.
    a = await startWorker(buildA, bundleA);
    expect(deploymentLabel(a.worker)).toBe(`deployment ${deploymentName} build ${buildA}`);
    expect(await currentBuildId(svc, ns, deploymentName)).toBe(buildA);
    const id1 = `vt-c1-${Date.now()}`;
    const c1 = await client.workflow.start('campaignWorkflow', { taskQueue: queue, workflowId: id1, args: [{ campaignId: id1, config: cfg, configHash: configHash(cfg) }] });
    await c1.signal('setPaused', true);
    await waitUntil('campaign 1 at the curation stage', async () => (await c1.query<CampaignProgress>('progress')).stage === 'curation', 120_000, 500);

    // 2. Build B starts (a workflow change that would not replay campaign 1) and becomes current;
    // campaign 2, started meanwhile, runs on B to the end.
    b = await startWorker(buildB, bundleB);
    expect(await currentBuildId(svc, ns, deploymentName)).toBe(buildB);
    const id2 = `vt-c2-${Date.now()}`;
    const c2 = await client.workflow.start('campaignWorkflow', { taskQueue: queue, workflowId: id2, args: [{ campaignId: id2, config: cfg, configHash: configHash(cfg) }] });
    const r2 = (await c2.result()) as CampaignResult;
    expect(r2.progress!.items.curated).toBe(4);
    expect((await c1.describe()).status.name).toBe('RUNNING');

    // 3. Campaign 1 resumes and finishes on A, which is still running; then A is stopped.
    await c1.signal('setPaused', false);
    const r1 = (await c1.result()) as CampaignResult;
    expect(r1.progress!.items.curated).toBe(4);
    stop(a);
    await a.done;

    // The versioning info the server keeps: pinned, each campaign to its build.
    for (const [h, build] of [[c1, buildA], [c2, buildB]] as const) {
      const info = (await h.describe()).raw.workflowExecutionInfo?.versioningInfo;
      expect(info?.behavior).toBe(1 /* PINNED */);
      expect(info?.deploymentVersion?.buildId).toBe(build);
    }
    // Every workflow task of each campaign's tree by its own build; no failed workflow task.
    const failed: string[] = [];
    for (const [campaignId, build, first] of [[id1, buildA, 'upsertWorkflowSearchAttributesEventAttributes'], [id2, buildB, 'timerStartedEventAttributes']] as const) {
      let ids: string[] = [];
      // Visibility is eventually consistent: wait for the ingest, the shard and the item workflows.
      await waitUntil(`the workflows of ${campaignId} in visibility`, async () => (ids = await campaignWorkflows(client, campaignId)).length >= 3, 30_000, 500);
      for (const wid of ids) {
        const t = await taskBuilds(client, wid);
        expect({ wid, builds: [...t.builds] }).toEqual({ wid, builds: [build] });
        failed.push(...t.failed);
        if (wid === campaignId) expect(t.firstCommand).toBe(first); // B's code ran campaign 2, A's campaign 1
      }
    }
    expect(failed).toEqual([]);
  }, 300_000);
});
