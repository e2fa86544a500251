/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as activities from '../../activities';
import { buildPreferenceSets, writeCampaignReport, writeShardResult } from '../../activities/campaign';
import type { DatasetManifest } from '../../activities/ingest';
import { trainerPython } from '../../activities/training';
import { scorePredictions } from '../../activities/evaluation';
import { curateVisualItem, type VisualPairRecord } from '../../activities/visual';
import { parseCampaignConfig } from '../../core/config';
import { CampaignIdKey, DatasetKey, StageKey } from '../../core/search-attributes';
import { artifactStore } from '../../lib/env';
import { decodeImage } from '../../lib/visual-tool';
import { connectClient, makeWorker, uniqueQueue } from '../helpers/temporal';

const FIXTURES = path.resolve(__dirname, '../fixtures');

const SAMPLE = path.resolve(__dirname, '../fixtures/vqa-rad-sample'); // VQA-RAD (CC0), copied from the shared sample

describe('ingest workflow on the real stack', () => {
  const taskQueue = uniqueQueue('ingest');
  let worker: Awaited<ReturnType<typeof makeWorker>>;
  let client: Awaited<ReturnType<typeof connectClient>>;
  let running: Promise<void>;

  beforeAll(async () => {
    worker = await makeWorker({ taskQueue, activities });
    running = worker.worker.run();
    client = await connectClient();
  });
  afterAll(async () => {
    worker.worker.shutdown();
    await running;
    await worker.connection.close();
    await client.connection.close();
  });

  async function ingest(root: string, id: string, campaign: string): Promise<{ handle: unknown; result: { manifestKey: string; items: number; images: number; quarantined: number } }> {
    const h = await client.client.workflow.start('ingestWorkflow', {
      taskQueue,
      workflowId: id,
      args: [{ format: 'vqa-rad', root, campaignId: campaign, chunkSize: 100 }],
      typedSearchAttributes: [
        { key: CampaignIdKey, value: campaign },
        { key: StageKey, value: 'ingest' },
        { key: DatasetKey, value: 'vqa-rad' },
      ],
    });
    return { handle: h, result: (await h.result()) as { manifestKey: string; items: number; images: number; quarantined: number } };
  }

  it('twice on the VQA-RAD sample: same manifest key, 40 canonical + 40 original objects (not 80 + 80), searchable', async () => {
    const campaign = `it-${process.pid}-${Date.now()}`;
    const a = await ingest(SAMPLE, `${campaign}-a`, campaign);
    const b = await ingest(SAMPLE, `${campaign}-b`, campaign);
    expect(a.result).toMatchObject({ items: 368, images: 40, quarantined: 0 });
    expect(b.result.manifestKey).toBe(a.result.manifestKey);
    const m = await artifactStore().getJson<DatasetManifest>(a.result.manifestKey);
    const keys = new Set(m.items.flatMap((i) => i.imageKeys));
    expect(keys.size).toBe(40);
    expect([...keys].every((k) => /^images\/.*\.png$/.test(k))).toBe(true); // canonical: PNG
    const originals = new Set(m.items.flatMap((i) => i.originalImageKeys));
    expect(originals.size).toBe(40);
    expect([...originals].every((k) => /^originals\/.*\.jpg$/.test(k))).toBe(true);
    expect(m.canonical.rule).toBe('mmedpo-canonical-v1');
    expect(m.images).toHaveLength(40);
    expect(m.stats).toMatchObject({ transformedImages: 0, sharedImages: 0, repeatedQuestions: 0 });
    // Every image object exists once under its content hash.
    const listed = (await artifactStore().list('images/')).filter((k) => keys.has(k));
    expect(listed.length).toBe(40);
    // Visible by its search attributes (visibility is eventually consistent on the dev server).
    let found = 0;
    for (let i = 0; i < 40 && found < 2; i++) {
      found = 0;
      for await (const _w of client.client.workflow.list({ query: `CampaignId = '${campaign}' AND Stage = 'ingest' AND Dataset = 'vqa-rad'` })) found++;
      if (found < 2) await new Promise((r) => setTimeout(r, 250));
    }
    expect(found).toBe(2);
  });

  it('20,000 items stay far under the history limits (chunked, keys only in history)', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-ingest-20k-'));
    fs.cpSync(path.join(SAMPLE, 'images'), path.join(root, 'images'), { recursive: true });
    const base = JSON.parse(fs.readFileSync(path.join(SAMPLE, 'trainset.json'), 'utf8')) as Record<string, unknown>[];
    const rows = Array.from({ length: 20_000 }, (_, i) => ({ ...base[i % base.length], qid: i + 1 }));
    fs.writeFileSync(path.join(root, 'trainset.json'), JSON.stringify(rows));
    const id = `ingest20k-${process.pid}-${Date.now()}`;
    const h = await client.client.workflow.start('ingestWorkflow', { taskQueue, workflowId: id, args: [{ format: 'vqa-rad', root, chunkSize: 1000 }] });
    const r = (await h.result()) as { items: number; images: number };
    expect(r).toMatchObject({ items: 20_000, images: 40 });
    const d = await h.describe();
    expect(d.historyLength).toBeLessThan(200);
    expect(d.historySize).toBeLessThan(200_000);
    // A scale test of history size, not of speed: 20 chunks of 1,000 rows take ~60 s on a quiet 2-core machine
    // and more beside other work, so it gets room beyond the default 120 s.
  }, 360_000);

  it('quarantines a truncated image and a missing one with the reason, and completes', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-ingest-'));
    fs.cpSync(SAMPLE, root, { recursive: true });
    for (const f of ['images', 'images/synpic42202.jpg', 'trainset.json']) fs.chmodSync(path.join(root, f), f === 'images' ? 0o755 : 0o644);
    const img = path.join(root, 'images', 'synpic42202.jpg');
    fs.writeFileSync(img, fs.readFileSync(img).subarray(0, 2000));
    const rows = JSON.parse(fs.readFileSync(path.join(root, 'trainset.json'), 'utf8'));
    rows[20].image_name = 'gone.jpg';
    delete rows[30].answer_type;
    fs.writeFileSync(path.join(root, 'trainset.json'), JSON.stringify(rows));
    const campaign = `itq-${process.pid}-${Date.now()}`;
    const { result } = await ingest(root, campaign, campaign);
    const m = await artifactStore().getJson<DatasetManifest>(result.manifestKey);
    // 4 rows on the truncated image + 1 missing image + 1 malformed row.
    expect(result.quarantined).toBe(6);
    expect(result.items).toBe(368 - 6);
    expect(m.quarantined.find((q) => q.row === 21)?.reason).toContain('image file not found: images/gone.jpg');
    expect(m.quarantined.find((q) => q.row === 31)?.reason).toMatch(/malformed-row.*answer_type/);
    expect(m.quarantined.filter((q) => /cannot decode images\/synpic42202\.jpg/.test(q.reason))).toHaveLength(4);
  });

  it('a path leaving the dataset root (.., absolute, symlink out) is quarantined with its row and never uploaded', async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-ingest-unsafe-'));
    const root = path.join(base, 'data');
    fs.mkdirSync(path.join(root, 'images'), { recursive: true });
    fs.mkdirSync(path.join(base, 'secret'));
    // A secret image nobody else has: its content key must never appear in the store.
    const secret = fs.readFileSync(path.join(FIXTURES, 'images/corpus/rgb-baseline.jpg'));
    const secretBytes = Buffer.concat([secret, Buffer.from(`secret-${process.pid}-${Date.now()}`)]);
    fs.writeFileSync(path.join(base, 'secret', 'private.jpg'), secretBytes);
    fs.copyFileSync(path.join(FIXTURES, 'images/corpus/gray8.png'), path.join(root, 'images', 'ok.png'));
    fs.symlinkSync(path.join(base, 'secret', 'private.jpg'), path.join(root, 'images', 'link.jpg'));
    const row = (qid: number, image_name: string) => ({ qid, image_name, answer: 'yes', answer_type: 'CLOSED', question: 'Is it?' });
    fs.writeFileSync(path.join(root, 'trainset.json'), JSON.stringify([row(1, 'ok.png'), row(2, '../../secret/private.jpg'), row(3, path.join(base, 'secret', 'private.jpg')), row(4, 'link.jpg')]));
    const campaign = `itu-${process.pid}-${Date.now()}`;
    const { result } = await ingest(root, campaign, campaign);
    expect(result).toMatchObject({ items: 1, quarantined: 3 });
    const m = await artifactStore().getJson<DatasetManifest>(result.manifestKey);
    expect(m.quarantined.map((q) => [q.row, q.itemId])).toEqual([
      [2, 'vqa-rad:train:2'],
      [3, 'vqa-rad:train:3'],
      [4, 'vqa-rad:train:4'],
    ]);
    expect(m.quarantined.every((q) => /unsafe-path .*escapes the dataset root/.test(q.reason))).toBe(true);
    const h = createHash('sha256').update(secretBytes).digest('hex');
    const stored = [...(await artifactStore().list('originals/')), ...(await artifactStore().list('images/'))];
    expect(stored.some((k) => k.includes(h))).toBe(false);
  });

  it('MEVF-shaped set: the manifest records the split overlap (images by canonical content, repeated questions)', async () => {
    const campaign = `itm-${process.pid}-${Date.now()}`;
    const { result } = await ingest(path.join(FIXTURES, 'vqa-rad-mevf'), campaign, campaign);
    const m = await artifactStore().getJson<DatasetManifest>(result.manifestKey);
    expect(m.stats).toMatchObject({ items: 41, sharedImages: 3, repeatedQuestions: 2 });
    expect(m.overlap.sharedImages.bySplit).toEqual({ train: 3, test: 3 });
    // The campaign manifest carries the counts and the report shows them beside the scores.
    const cfg = parseCampaignConfig({ dataset: { format: 'vqa-rad', root: path.join(FIXTURES, 'vqa-rad-mevf') } });
    const merge = await buildPreferenceSets({ campaignId: campaign, manifestKey: result.manifestKey, trainSplit: 'train', limit: 0, shardKeys: [], variants: ['sft'], normalization: cfg.normalization, debateScale: cfg.debate.scale });
    // A real (tiny) evaluation: the report reads its per-item scores and predictions from S3.
    const preds = [
      { id: 'q1', prediction: 'yes', reference: 'yes', answer_type: 'closed' },
      { id: 'q2', prediction: 'left lung', reference: 'right lung', answer_type: 'open' },
    ];
    const predictionsKey = (await artifactStore().putBytes('test-predictions', Buffer.from(preds.map((r) => JSON.stringify(r)).join('\n') + '\n'), { ext: '.jsonl' })).key;
    const scored = await scorePredictions({ predictionsKey, format: 'vqa', convention: 'pycoco' });
    const rep = await writeCampaignReport({ campaignId: campaign, config: cfg, configHash: 'h', workflowId: campaign, ingest: { ...result, scanKey: 'scan' }, shards: [], merge, trains: [], evals: [{ variant: 'base', predictionsKey, scoresKey: scored.scoresKey, totals: scored.totals }] });
    const cm = await artifactStore().getJson<{ splitHygiene: { sharedImages: number; repeatedQuestions: number } }>(rep.manifestKey);
    expect(cm.splitHygiene).toMatchObject({ sharedImages: 3, repeatedQuestions: 2 });
    const html = (await artifactStore().getBytes(rep.reportKeys.html)).toString('utf8');
    expect(html).toMatch(/Split hygiene: 3 image\(s\) shared between splits, 2 question\(s\) repeated/);
  });

  it('one decode: a 16-bit PNG trains on the pixels the visual tool saw (manifest → visual pair → preference and SFT sets → staged bytes)', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-ingest-g16-'));
    fs.mkdirSync(path.join(root, 'images'));
    const g16 = fs.readFileSync(path.join(FIXTURES, 'cases/png-16bit-grayscale/g16.png'));
    fs.writeFileSync(path.join(root, 'images', 'g16.png'), g16);
    fs.writeFileSync(path.join(root, 'trainset.json'), JSON.stringify([{ qid: 1, image_name: 'g16.png', answer: 'no', answer_type: 'CLOSED', question: 'Is there a fracture?' }]));
    const campaign = `itg-${process.pid}-${Date.now()}`;
    const { result } = await ingest(root, campaign, campaign);
    const store = artifactStore();
    const m = await store.getJson<DatasetManifest>(result.manifestKey);
    const item = m.items[0]!;
    const canonicalKey = item.imageKeys[0]!;
    expect((await store.getBytes(item.originalImageKeys[0]!)).equals(g16)).toBe(true); // provenance: the original, unchanged
    expect(m.images[0]).toMatchObject({ path: 'images/g16.png', canonical: canonicalKey, transforms: ['16-bit → 8-bit (v >> 8)'], source: { bitsPerSample: 16 } });
    expect(m.stats.transformedImages).toBe(1);
    // The visual branch reads the canonical key...
    const vis = await curateVisualItem({ seed: 5, itemId: item.id, imageKey: canonicalKey });
    const pair = await store.getJson<VisualPairRecord>(vis.pairKey);
    expect(pair.imageKey).toBe(canonicalKey);
    // ...and the sets the trainer stages name the same key (staging copies those bytes unchanged).
    const cfg = parseCampaignConfig({});
    const shard = await writeShardResult({ campaignId: campaign, shardStart: 0, items: [{ itemId: item.id, visual: { pairKey: vis.pairKey, confidence: vis.summary.s_v }, quarantined: [] }] });
    const merged = await buildPreferenceSets({ campaignId: campaign, manifestKey: result.manifestKey, trainSplit: 'train', limit: 0, shardKeys: [shard.shardKey], variants: ['mmedpo'], normalization: cfg.normalization, debateScale: cfg.debate.scale });
    const rows = (key: string) => store.getBytes(key).then((b) => b.toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as { image: string; rejected_image?: string }));
    const pref = await rows(merged.sets[0]!.datasetKey);
    const sft = await rows(merged.sftKey);
    expect(pref.map((r) => r.image)).toEqual([canonicalKey]);
    expect(sft.map((r) => r.image)).toEqual([canonicalKey]);
    // What the visual tool decoded == what the trainer's loader (trainer/image_io.py) decodes from the staged bytes == g8.png.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-staged-'));
    const staged = path.join(dir, 'staged.png');
    fs.writeFileSync(staged, await store.getBytes(canonicalKey));
    const noisedFile = path.join(dir, 'rejected.png');
    fs.writeFileSync(noisedFile, await store.getBytes(pref[0]!.rejected_image ?? pair.noisedImageKey));
    const seen = await decodeImage(await store.getBytes(canonicalKey));
    const g8 = await decodeImage(fs.readFileSync(path.join(FIXTURES, 'cases/png-16bit-grayscale/g8.png')));
    expect(Buffer.from(seen.data).equals(Buffer.from(g8.data))).toBe(true);
    const noised = await decodeImage(fs.readFileSync(noisedFile));
    const sha = (d: Uint8Array) => createHash('sha256').update(d).digest('hex');
    const py = spawnSync(trainerPython(), ['-m', 'trainer.image_io', staged, noisedFile], { cwd: path.resolve(__dirname, '../..'), encoding: 'utf8' });
    expect(py.status).toBe(0);
    const [a, b] = py.stdout.trim().split('\n').map((l) => JSON.parse(l) as { sha256: string; channels: number; transforms: string[] });
    expect(a).toMatchObject({ sha256: sha(seen.data), channels: 1, transforms: [] });
    expect(b).toMatchObject({ sha256: sha(noised.data), transforms: [] });
  });
});
