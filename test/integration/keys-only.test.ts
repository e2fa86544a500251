// Keys only in history (issue 17 §1): a campaign on an R2Gen-layout set whose every report carries a
// planted marker, one of them 2.5 MB, with the payload codec OFF (plaintext payloads, as on a cluster
// where someone turned it off). Workers are real processes (their logs are files we can read) on the
// shared test stack. The campaign must complete; the 2.5 MB report is quarantined at ingest with its
// size; the others are curated, trained on and evaluated; and the marker is in no history of any of
// the campaign's workflows (`temporal workflow show --output json`, payloads decoded) and in no worker
// log line at the default log level. No workflow task may fail.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { parseCampaignConfig } from '../../core/config';
import type { CampaignProgress, CampaignResult, QuarantineRecord } from '../../core/contracts';
import { PROJECT_ROOT } from '../../infra/stack';
import { configHash } from '../../lib/config-file';
import { artifactStore } from '../../lib/env';
import { writePhantom } from '../../lib/phantom';
import { dataConverter } from '../../lib/temporal';
import { spawnWorker, waitUntil, type WorkerProcess } from '../helpers/processes';

const MARKER = 'QZXMARKER7731';
const prefix = `ko${process.pid}-`;
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-keys-only-'));
const root = path.join(home, 'r2gen');
const workers: WorkerProcess[] = [];
let client: Client;
let connection: Connection;
const plaintext = { MMEDPO_PAYLOAD_ENCRYPTION: 'off' };

const cfg = parseCampaignConfig({
  name: 'keys-only',
  seed: 17,
  dataset: { format: 'r2gen', root, limit: 8 },
  curation: { shardSize: 4, concurrency: 4, shardsInFlight: 2, samples: 2 },
  training: { learningRate: 1e-3, batchSize: 4, epochs: 1, maxLength: 96, lora: { enabled: true, r: 4, alpha: 8, dropout: 0 }, device: 'cpu', variants: ['base', 'sft', 'dpo'] },
  evaluation: { maxNewTokensReport: 12, temperature: 0 },
  temporal: { queuePrefix: prefix },
});

beforeAll(async () => {
  // The phantom generator's R2Gen annotation, every report with the marker, the first train report 2.5 MB.
  await writePhantom(root, { seed: 17, studies: 14, size: 128, testFraction: 0.3 });
  const annFile = path.join(root, 'annotation.json');
  const ann = JSON.parse(fs.readFileSync(annFile, 'utf8')) as Record<string, { id: string; report: string }[]>;
  for (const rows of Object.values(ann)) for (const r of rows) r.report = `${r.report} Incidental note ${MARKER}.`;
  const big = ann.train![0]!;
  big.report = `${big.report} ${'Prior report: stable appearance of the chest. '.repeat(Math.ceil((2.5 * (1 << 20)) / 46))}`.slice(0, 2.5 * (1 << 20));
  fs.writeFileSync(annFile, JSON.stringify(ann));
  const cfgFile = path.join(home, 'config.json');
  fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  const env = { ...plaintext, MMEDPO_CONFIG: cfgFile, MMEDPO_QUEUE_PREFIX: prefix, MMEDPO_HOME: home, MMEDPO_TRAINING_DIR: path.join(home, 'training') };
  const logs = path.join(home, 'logs');
  workers.push(spawnWorker('curation', 'curation', { ...env, MMEDPO_TASK_QUEUE: `${prefix}curation` }, logs));
  workers.push(spawnWorker('models', 'models', env, logs));
  workers.push(spawnWorker('training', 'training', { ...env, MMEDPO_TASK_QUEUE: `${prefix}training` }, logs));
  connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  client = new Client({ connection, namespace: 'default', dataConverter: dataConverter({ ...process.env, ...plaintext }) });
}, 120_000);

afterAll(async () => {
  for (const w of workers) await w.kill9();
  await connection?.close();
});

/** Every string in a `temporal workflow show --output json` dump, payload data base64-decoded. */
function strings(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') {
    out.push(v);
    if (v.length >= 8 && /^[A-Za-z0-9+/]+={0,2}$/.test(v)) out.push(Buffer.from(v, 'base64').toString('utf8'));
  } else if (v && typeof v === 'object') for (const x of Object.values(v)) strings(x, out);
  return out;
}

it('a 2.5 MB report is quarantined at ingest with its size; the marker of every report is in no history and no worker log', async () => {
  const id = `keys-only-${Date.now().toString(36)}`;
  const handle = await client.workflow.start('campaignWorkflow', { taskQueue: `${prefix}curation`, workflowId: id, args: [{ campaignId: id, config: cfg, configHash: configHash(cfg) }] });
  const result = (await handle.result()) as CampaignResult;
  const progress = await handle.query<CampaignProgress>('progress');
  expect(progress.stage).toBe('done');
  expect(progress.items.total).toBe(8);
  expect(progress.items.curated).toBe(8);
  expect(progress.pairs.text).toBe(8);
  expect(progress.training.done).toEqual(['sft', 'dpo']);
  expect(progress.evaluation.done).toEqual(['base', 'sft', 'dpo']);
  const quarantine = await artifactStore().getJson<QuarantineRecord[]>(progress.artifacts.quarantine!);
  expect(quarantine).toEqual([{ itemId: expect.stringMatching(/^r2gen:train:/), stage: 'ingest', reason: expect.stringMatching(/^text too large: report is 2\.5 MB \(2,621,440 bytes\), over dataset\.maxTextBytes 256\.0 KB/) }]);
  expect(result.quarantined).toBe(1);
  // The marker did travel: it is in the stored pairs (S3), so its absence below means something.
  const pairs = (await artifactStore().getBytes(progress.artifacts['preference:dpo']!)).toString('utf8');
  expect(pairs).toContain(MARKER);

  // Every workflow of the campaign: one filter (children carry CampaignId), checked against the ids.
  const ids: string[] = [];
  await waitUntil(
    'the campaign, ingest, 2 shards and 8 text items listed',
    async () => {
      ids.length = 0;
      for await (const w of client.workflow.list({ query: `CampaignId = '${id}'` })) ids.push(w.workflowId);
      return ids.length >= 12;
    },
    30_000,
  );
  expect(ids.sort()).toEqual([id, `${id}/ingest`, `${id}/shard-0000`, `${id}/shard-0001`, ...(await textItemIds(id))].sort());
  const temporal = path.join(PROJECT_ROOT, '.mmedpo', 'bin', 'temporal');
  let events = 0;
  for (const wid of ids) {
    const json = execFileSync(temporal, ['workflow', 'show', '--address', process.env.TEMPORAL_ADDRESS!, '-w', wid, '--output', 'json'], { maxBuffer: 256 << 20, encoding: 'utf8' });
    const dump = JSON.parse(json) as { events: { eventType: string }[] };
    events += dump.events.length;
    expect(dump.events.filter((e) => /WORKFLOW_TASK_FAILED|WorkflowTaskFailed/.test(e.eventType))).toEqual([]);
    const leaked = strings(dump).filter((s) => s.includes(MARKER));
    expect({ workflow: wid, leaked: leaked.map((s) => s.slice(0, 200)) }).toEqual({ workflow: wid, leaked: [] });
  }
  console.log(`keys only: ${ids.length} workflows, ${events} events, no marker`);
  for (const w of workers) {
    const log = fs.readFileSync(w.log, 'utf8');
    expect(log.length).toBeGreaterThan(0);
    expect({ log: w.name, leaked: log.split('\n').filter((l) => l.includes(MARKER)).slice(0, 3) }).toEqual({ log: w.name, leaked: [] });
  }
}, 900_000);

async function textItemIds(id: string): Promise<string[]> {
  const out: string[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowId STARTS_WITH '${id}/' AND WorkflowType = 'textItemWorkflow'` })) out.push(w.workflowId);
  expect(out).toHaveLength(8);
  return out;
}
