/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
// The campaign DAG end to end on the real stack: phantom set → ingest → curation
// shards → merge/normalize → SFT + DPO + MMedPO training on CPU → evaluation →
// report + manifest. Small sizes; the demo runs the same code at full size.
import type { Worker } from '@temporalio/worker';
import type { CampaignProgress, CampaignResult, ItemCuration, ShardInput, ShardResult } from '../../core/contracts';
import { configHash } from '../../lib/config-file';
import { artifactStore } from '../../lib/env';
import { connectClient, createWorker, WORKFLOWS_PATH } from '../../lib/temporal';
import { createModelWorkers } from '../../workers/models';
import type { ShardProgress } from '../../workflows/curation-shard';
import { curationActivities } from '../../workers/curation';
import { createTrainingWorker } from '../../workers/training';
import { smallCampaignConfig as smallConfig } from '../helpers/small-campaign';

const prefix = `it${process.pid}-`;

const smallCampaignConfig = (overrides: Record<string, unknown> = {}) => smallConfig(prefix, overrides);

describe('campaign workflow', () => {
  let first: { id: string; manifestKey: string; datasetManifest: string } | undefined;
  let workers: Worker[];
  let runs: Promise<void>[];
  beforeAll(async () => {
    workers = [
      // the curation worker's own activities only (no training or evaluation): the campaign needs nothing else there
      await createWorker({ taskQueue: `${prefix}curation`, workflowsPath: WORKFLOWS_PATH, activities: curationActivities }),
      (await createTrainingWorker({ taskQueue: `${prefix}training` })).worker,
      ...(await createModelWorkers(smallCampaignConfig(), { queuePrefix: prefix })),
    ];
    runs = workers.map((w) => w.run());
  });
  afterAll(async () => {
    workers.forEach((w) => w.shutdown());
    await Promise.all(runs);
  });

  it('runs the DAG to a report and a manifest, with progress and search attributes', async () => {
    const cfg = smallCampaignConfig();
    const client = await connectClient();
    const id = `it-campaign-${Date.now()}`;
    const h = await client.workflow.start('campaignWorkflow', { taskQueue: `${prefix}curation`, workflowId: id, args: [{ campaignId: id, config: cfg, configHash: configHash(cfg) }] });
    const result = (await h.result()) as CampaignResult;
    const progress = await h.query<CampaignProgress>('progress');
    expect(progress.stage).toBe('done');
    expect(progress.items.total).toBe(16);
    expect(progress.items.curated).toBe(16);
    expect(progress.pairs.visual).toBe(16 - progress.items.quarantined);
    expect(progress.training.done).toEqual(['sft', 'dpo', 'mmedpo']);
    const manifest = await artifactStore().getJson<{ configHash: string; artifacts: { shards: string[]; preferenceSets: Record<string, { pairs: number }>; adapters: Record<string, unknown>; evaluations: Record<string, { grounding?: string }> } }>(result.manifestKey);
    expect(manifest.configHash).toBe(configHash(cfg));
    expect(Object.keys(manifest.artifacts.adapters).sort()).toEqual(['dpo', 'mmedpo', 'sft']);
    // MMedPO trains on D_o = D_t ∪ D_v; DPO on D_t alone with s' = 1.
    expect(progress.pairs.text).toBeGreaterThan(0);
    expect(manifest.artifacts.preferenceSets.mmedpo!.pairs).toBe(progress.pairs.text + progress.pairs.visual);
    expect(manifest.artifacts.preferenceSets.dpo!.pairs).toBe(progress.pairs.text);
    expect(progress.debates.done).toBe(progress.pairs.text);
    // Every variant evaluated on the test split, and the table has a row for each.
    expect(progress.evaluation.done).toEqual(['base', 'sft', 'dpo', 'mmedpo']);
    for (const label of ['| base ', '| + SFT ', '| + DPO ', '| + MMedPO ']) expect(result.table).toContain(label);
    // A phantom set: every evaluation (base's too, with no adapter) also has its grounding metrics (trainer ground).
    expect(Object.values(manifest.artifacts.evaluations).map((e) => typeof e.grounding)).toEqual(['string', 'string', 'string', 'string']);
    // (no text prior here: no counter-prior question, so no counter-prior column)
    expect(result.table.split('\n')[0]).toMatch(/\| Closed accuracy \(strict\) \| Blind gap \(points\) \| Lesion sensitivity \(nats\) \| Hallucination rate \|$/);
    const html = (await artifactStore().getBytes(result.reportKeys.html)).toString('utf8');
    expect(html).toContain('<table');
    // The report's gallery from this campaign's own records in S3 (activities/report-curation.ts): every
    // item with both pairs up to 16, each card with its three images embedded and its debate found; one
    // self-contained file (test/unit/report-browser.test.ts opens such a report in Chromium).
    const shardItems = (await Promise.all(manifest.artifacts.shards.map((k) => artifactStore().getJson<{ items: ItemCuration[] }>(k)))).flatMap((s) => s.items);
    const withBoth = shardItems.filter((i) => i.text && i.visual).length;
    const cards = html.split('<article class="pair"').slice(1);
    expect(cards.length).toBe(Math.min(16, withBoth));
    expect(cards.length).toBeGreaterThanOrEqual(12);
    for (const c of cards) {
      expect(c.match(/<img src="data:image\/jpeg;base64,/g)).toHaveLength(3);
      expect(c).toContain('<table class="debate">');
    }
    expect(html).toContain('aria-label="DPO reward margin per step"');
    expect(html.match(/class="chart histogram"/g)).toHaveLength(4);
    expect(html.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, '')).not.toMatch(/https?:\/\/|<script|<link/);
    expect(html.length).toBeLessThan(10 * 1024 * 1024);
    const desc = await h.describe();
    expect(desc.searchAttributes.CampaignId).toEqual([id]);
    expect(desc.searchAttributes.Stage).toEqual(['done']);
    // One filter finds the campaign's every workflow: the campaign, its ingest, 3 shards, 16 text items
    // (children carry CampaignId and Stage from their start). Visibility is eventually consistent.
    const listed = async () => {
      const found: { type: string; stage: unknown }[] = [];
      for await (const w of client.workflow.list({ query: `CampaignId = '${id}'` })) found.push({ type: w.type, stage: w.searchAttributes.Stage?.[0] });
      return found;
    };
    let all = await listed();
    for (let t = 0; t < 40 && all.length < 21; t++) all = await new Promise((r) => setTimeout(r, 250)).then(listed);
    const count = (type: string, stage: string) => all.filter((w) => w.type === type && w.stage === stage).length;
    expect([count('campaignWorkflow', 'done'), count('ingestWorkflow', 'ingest'), count('curationShardWorkflow', 'curation'), count('textItemWorkflow', 'curation')]).toEqual([1, 1, 3, 16]);
    first = { id, manifestKey: result.manifestKey, datasetManifest: progress.artifacts.datasetManifest! };
    await client.connection.close();
  }, 900_000);

  it('reruns with the reply cache warm onto the same artifact keys', async () => {
    expect(first).toBeDefined();
    const cfg = smallCampaignConfig();
    const client = await connectClient();
    const id = `it-rerun-${Date.now()}`;
    const h = await client.workflow.start('campaignWorkflow', { taskQueue: `${prefix}curation`, workflowId: id, args: [{ campaignId: id, config: cfg, configHash: configHash(cfg), rerunOf: first!.id }] });
    const result = (await h.result()) as CampaignResult;
    type Manifest = { rerunOf: string | null; artifacts: Record<string, unknown> & { reports: unknown } };
    const a = await artifactStore().getJson<Manifest>(first!.manifestKey);
    const b = await artifactStore().getJson<Manifest>(result.manifestKey);
    expect(b.rerunOf).toBe(first!.id);
    // Everything but the report (which names its campaign) lands on the same keys: dataset manifest,
    // shard results, SFT and preference sets, adapters and their metrics, predictions and scores.
    const { reports: _ra, ...keysA } = a.artifacts;
    const { reports: _rb, ...keysB } = b.artifacts;
    expect(keysB).toEqual(keysA);
    await client.connection.close();
  }, 900_000);

  it('pauses a shard (it stops after the items in flight) and resumes it to completion', async () => {
    expect(first).toBeDefined();
    const client = await connectClient();
    const config = smallCampaignConfig();
    const workflowId = `it-shard-pause-${Date.now()}`;
    const input: ShardInput = { campaignId: workflowId, seed: config.seed, manifestKey: first!.datasetManifest, split: config.dataset.trainSplit, start: 0, end: 8, config, needSingleAgent: false, needGlobalNoise: false };
    const h = await client.workflow.start('curationShardWorkflow', { taskQueue: `${prefix}curation`, workflowId, args: [input] });
    await h.signal('setPaused', true);
    // Unpaused, 8 items (4 at a time) finish in a few seconds; paused, each of the 4 loops ends the item
    // it has in flight and waits.
    await new Promise((r) => setTimeout(r, 8000));
    const sp = await h.query<ShardProgress>('shardProgress');
    expect(sp.done).toBeLessThanOrEqual(4);
    expect((await h.describe()).status.name).toBe('RUNNING');
    await h.signal('setPaused', false);
    const result = (await h.result()) as ShardResult;
    expect(result.items).toBe(8);
    await client.connection.close();
  }, 300_000);

  it('quarantines the visual branch of an item with a corrupt image, with the reason; the rest goes on', async () => {
    expect(first).toBeDefined();
    const client = await connectClient();
    const config = smallCampaignConfig();
    // The dataset manifest with the second train item's image swapped for bytes that are no image.
    type Manifest = { items: { id: string; split: string; imageKeys: string[] }[] };
    const m = await artifactStore().getJson<Manifest>(first!.datasetManifest);
    const bad = m.items.filter((i) => i.split === config.dataset.trainSplit)[1]!;
    const badImage = await artifactStore().putBytes('images', Buffer.from('this is not a PNG'), { ext: '.png', contentType: 'image/png' });
    const manifestKey = (await artifactStore().putJson('manifests', { ...m, items: m.items.map((i) => (i.id === bad.id ? { ...i, imageKeys: [badImage.key] } : i)) })).key;
    const workflowId = `it-shard-corrupt-${Date.now()}`;
    const input: ShardInput = { campaignId: workflowId, seed: config.seed, manifestKey, split: config.dataset.trainSplit, start: 0, end: 4, config, needSingleAgent: false, needGlobalNoise: false };
    const result = (await client.workflow.execute('curationShardWorkflow', { taskQueue: `${prefix}curation`, workflowId, args: [input] })) as ShardResult;
    expect(result.items).toBe(4);
    expect(result.visualPairs).toBe(3);
    const shard = await artifactStore().getJson<{ items: ItemCuration[] }>(result.shardKey);
    const item = shard.items.find((i) => i.itemId === bad.id)!;
    expect(item.visual).toBeUndefined();
    expect(item.quarantined).toEqual([{ itemId: bad.id, stage: 'visual', reason: expect.stringMatching(/^BadImage: /) }]);
    // Its text branch does not read the image (offline target) and still produced a scored pair.
    expect(item.text?.pairKey).toBeDefined();
    await client.connection.close();
  }, 300_000);
});
