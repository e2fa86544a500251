import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as activities from '../../activities';
import type { DatasetManifest } from '../../activities/ingest';
import { CampaignIdKey, DatasetKey, StageKey } from '../../core/search-attributes';
import { artifactStore } from '../../lib/env';
import { connectClient, makeWorker, uniqueQueue } from '../helpers/temporal';

const SAMPLE = path.resolve(__dirname, '../../../shared/datasets/vqa-rad-sample');

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

  async function ingest(root: string, id: string, campaign: string) {
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

  it('twice on the VQA-RAD sample: same manifest key, 40 image objects not 80, searchable', async () => {
    const campaign = `it-${process.pid}-${Date.now()}`;
    const a = await ingest(SAMPLE, `${campaign}-a`, campaign);
    const b = await ingest(SAMPLE, `${campaign}-b`, campaign);
    expect(a.result).toMatchObject({ items: 368, images: 40, quarantined: 0 });
    expect(b.result.manifestKey).toBe(a.result.manifestKey);
    const m = await artifactStore().getJson<DatasetManifest>(a.result.manifestKey);
    const keys = new Set(m.items.flatMap((i) => i.imageKeys));
    expect(keys.size).toBe(40);
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
  });

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
});
