// Faults (issue 18): infrastructure faults are retried, data faults are quarantined. On a stack of this
// test's own (stopping its MinIO disturbs no other test), with the curation worker as a real process:
// MinIO is stopped for 90 s in the middle of curation and started again. The campaign must complete
// with nothing quarantined, `campaign status` must say
// it is waiting on storage while MinIO is down, and the preference sets must have exactly the keys of
// an undisturbed run of the same config (content-addressed: same seed, same items, same weights).
// Then the target model is an OpenAI-compatible endpoint that answers 429 (Retry-After), 500, an empty
// body or invalid JSON on the first attempt of most requests and refuses one item (400, a planted data
// fault): only that item is quarantined, with the endpoint's reason, and the keys again equal an
// undisturbed run's. Last, training: the trainer's work dir (a 256 MB tmpfs) is full when the SFT run
// starts, and MinIO is stopped for 90 s while the DPO run uploads its checkpoints; both runs finish with
// the adapter keys of an undisturbed run (CPU training is bit-exact, resumes included).
// (SIGKILL of each worker kind and a Temporal restart: campaign-durability.test.ts.)
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { parseCampaignConfig } from '../../core/config';
import type { CampaignProgress, CampaignResult } from '../../core/contracts';
import { freePort } from '../../lib/ports';
import { PROJECT_ROOT, stackDown, stackEnv, stackUp, stackUpAgain, stopMinio, type StackInfo } from '../../infra/stack';
import { configHash } from '../../lib/config-file';
import { dataConverter } from '../../lib/temporal';
import { waitingOf } from '../../lib/waiting';
import { createHash } from 'node:crypto';
import { resolveRuntime, s3ClientFromRuntime } from '../../lib/env';
import { ArtifactStore } from '../../lib/storage';
import { startFakeOpenAI, type FakeAction, type FakeOpenAI } from '../helpers/fake-openai';
import { spawnWorker, waitUntil, type WorkerProcess } from '../helpers/processes';

const execFileP = promisify(execFile);
const home = path.join(PROJECT_ROOT, '.mmedpo', `faults-${process.pid}`);
let info: StackInfo;
let client: Client;
let connection: Connection;
let env: NodeJS.ProcessEnv;
const workers: Record<string, WorkerProcess> = {};

const OUTAGE_MS = 90_000;
const root = path.join(os.tmpdir(), `mmedpo-phantom-faults-${process.pid}`);
const cfg = parseCampaignConfig({
  name: 'faults',
  seed: 21,
  dataset: { format: 'phantom', root, phantom: { studies: 16, size: 128, testFraction: 0.25 }, limit: 48 },
  // One child workflow per item (the path served and remote models take): the visual tool is a
  // regular activity, its S3 reads and writes fail while MinIO is down.
  curation: { shardSize: 24, concurrency: 2, shardsInFlight: 2 },
  training: { enabled: false },
  evaluation: { enabled: false },
});

beforeAll(async () => {
  fs.mkdirSync(home, { recursive: true });
  info = await stackUp({ home, temporalPort: await freePort(), minioPort: await freePort(), minioConsolePort: await freePort(), headless: true });
  env = { MMEDPO_UI_URL: undefined, ...stackEnv(info), MMEDPO_HOME: home, MMEDPO_QUEUE_PREFIX: '', MMEDPO_TASK_QUEUE: undefined };
  workers.curation = spawnWorker('curation', 'curation', env, path.join(home, 'logs'));
  // Model calls (offline engines included) run on the role queues, served by the model workers.
  workers.models = spawnWorker('models', 'models', env, path.join(home, 'logs'));
  connection = await Connection.connect({ address: info.temporalAddress });
  client = new Client({ connection, namespace: 'default', dataConverter: dataConverter(stackEnv(info)) });
}, 180_000);

afterAll(async () => {
  await Promise.all(Object.values(workers).map((w) => w.kill9()));
  await connection?.close().catch(() => undefined);
  await stackDown({ home });
  if (process.env.MMEDPO_KEEP_TEST_LOGS !== '1') fs.rmSync(home, { recursive: true, force: true });
});

async function completedTextItems(campaignId: string): Promise<number> {
  return (await client.workflow.count(`WorkflowType = 'textItemWorkflow' AND ExecutionStatus = 'Completed' AND WorkflowId STARTS_WITH '${campaignId}/'`)).count;
}

function preferenceKeys(p: CampaignProgress): Record<string, string> {
  return Object.fromEntries(Object.entries(p.artifacts).filter(([k]) => k.startsWith('preference:') || k === 'sft'));
}

async function run(id: string, during?: (id: string) => Promise<void>): Promise<{ result: CampaignResult; progress: CampaignProgress }> {
  const handle = await client.workflow.start('campaignWorkflow', { taskQueue: 'curation', workflowId: id, args: [{ campaignId: id, config: cfg, configHash: configHash(cfg) }] });
  if (during) await during(id);
  const result = (await handle.result()) as CampaignResult;
  return { result, progress: await handle.query<CampaignProgress>('progress') };
}

it(`MinIO stopped for ${OUTAGE_MS / 1000} s mid-curation: no item lost, status says it waits on storage, the same keys as an undisturbed run`, async () => {
  const statusDuringOutage: string[] = [];
  const disturbed = await run(`faults-outage-${Date.now().toString(36)}`, async (id) => {
    await waitUntil('4 curated items', async () => (await completedTextItems(id)) >= 4, 240_000, 200);
    await stopMinio({ home });
    const t0 = Date.now();
    // While storage is down, `campaign status` (which needs no S3) names what the campaign waits on.
    await new Promise((r) => setTimeout(r, 25_000));
    const { stdout } = await execFileP(process.execPath, [require.resolve('tsx/cli'), path.join(PROJECT_ROOT, 'cli/main.ts'), 'campaign', 'status', id], { cwd: PROJECT_ROOT, env: { ...process.env, ...env } });
    statusDuringOutage.push(stdout);
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - t0))));
    info = await stackUpAgain({ home });
  });
  expect(statusDuringOutage[0]).toMatch(/waiting\s+on storage since \d\d:\d\d:\d\d UTC/);
  expect(statusDuringOutage[0]).toMatch(/ECONNREFUSED|connect|socket|network/i);
  expect(disturbed.progress.stage).toBe('done');
  expect(disturbed.progress.items.total).toBe(48);
  expect(disturbed.progress.items.curated).toBe(48);
  expect(disturbed.result.quarantined).toBe(0);
  expect(disturbed.progress.pairs.text).toBe(48);
  expect(disturbed.progress.pairs.visual).toBe(48);

  const undisturbed = await run(`faults-calm-${Date.now().toString(36)}`);
  expect(undisturbed.result.quarantined).toBe(0);
  const keys = preferenceKeys(undisturbed.progress);
  expect(Object.keys(keys).length).toBeGreaterThanOrEqual(3); // sft + dpo + mmedpo sets
  expect(preferenceKeys(disturbed.progress)).toEqual(keys);
}, 900_000);

describe('an endpoint that throttles, fails and garbles its replies', () => {
  let fake: FakeOpenAI;
  const answers = ['yes', 'no', 'left lower lobe opacity', 'normal chest radiograph'];
  let planted: string | undefined;
  let inject = true;
  const attempts = new Map<string, number>();
  const faults: Record<string, number> = { 429: 0, 500: 0, empty: 0, garbage: 0, 400: 0 };
  const epCfg = () =>
    parseCampaignConfig({
      name: 'faults-endpoint',
      seed: 22,
      dataset: { format: 'phantom', root, phantom: { studies: 16, size: 128, testFraction: 0.25 }, limit: 24 },
      models: { target: { baseURL: fake.url, model: 'fake-target', temperature: 1, maxTokens: 32, timeoutMs: 5_000, rateLimitPerSecond: 100 } },
      curation: { shardSize: 12, concurrency: 3, shardsInFlight: 2, samples: 2 },
      training: { enabled: false },
      evaluation: { enabled: false },
    });

  beforeAll(async () => {
    fake = await startFakeOpenAI((r): FakeAction => {
      // One request = one item's prompt (its image as a data URL, its question): keyed by all of it.
      const key = createHash('sha256').update(JSON.stringify(r.messages)).digest('hex');
      planted ??= key; // the first item the endpoint sees is refused, in every run: a data fault
      if (key === planted) {
        faults[400]!++;
        return { status: 400, message: 'This request was rejected by the content filter' };
      }
      const n = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, n);
      const h = parseInt(key.slice(0, 8), 16);
      if (inject && n === 1 && h % 5 !== 4) {
        const kind = (['429', '500', 'empty', 'garbage'] as const)[h % 5]!;
        faults[kind]!++;
        if (kind === '429') return { status: 429, message: 'Rate limit reached', headers: { 'retry-after': '1' } };
        if (kind === '500') return { status: 500, message: 'upstream overloaded' };
        return kind === 'empty' ? { empty: true } : { garbage: true };
      }
      return { text: answers[h % answers.length]! };
    });
    const cfgFile = path.join(home, 'endpoint-config.json');
    fs.writeFileSync(cfgFile, JSON.stringify(epCfg()));
    await workers.models?.kill9(); // the role queues are served by this config's model workers only
    workers.models = spawnWorker('models', 'models', { ...env, MMEDPO_CONFIG: cfgFile }, path.join(home, 'logs'));
  }, 60_000);
  afterAll(async () => {
    await workers.models?.kill9();
    await fake?.close();
    workers.models = spawnWorker('models', 'models', env, path.join(home, 'logs')); // back to the default roles
  });

  it('retries 429, 500, empty bodies and invalid JSON; quarantines only the refused item; the same keys as an undisturbed run', async () => {
    const cfgEp = epCfg();
    const start = async (id: string) => {
      const handle = await client.workflow.start('campaignWorkflow', { taskQueue: 'curation', workflowId: id, args: [{ campaignId: id, config: cfgEp, configHash: configHash(cfgEp) }] });
      const result = (await handle.result()) as CampaignResult;
      return { result, progress: await handle.query<CampaignProgress>('progress') };
    };
    const disturbed = await start(`faults-endpoint-${Date.now().toString(36)}`);
    console.log(`endpoint faults injected: ${JSON.stringify(faults)}`);
    for (const k of ['429', '500', 'empty', 'garbage']) expect(faults[k]).toBeGreaterThan(0);
    expect(disturbed.progress.items.curated).toBe(24);
    expect(disturbed.result.quarantined).toBe(1);
    expect(disturbed.progress.pairs.visual).toBe(24); // the refused item keeps its visual pair
    expect(disturbed.progress.pairs.text).toBe(23);
    const rt = resolveRuntime({ ...process.env, ...stackEnv(info) });
    const store = new ArtifactStore({ client: s3ClientFromRuntime(rt), bucket: rt.bucket, prefix: rt.s3Prefix, sse: rt.sse });
    const list = await store.getJson<{ itemId: string; stage: string; reason: string }[]>(disturbed.progress.artifacts.quarantine!);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ stage: 'text', reason: expect.stringMatching(/EndpointRejected.*400.*content filter/) });

    // The same config again, nothing injected but the refusal (warm reply cache: only the refused request is sent again).
    inject = false;
    for (const k of Object.keys(faults)) faults[k] = 0;
    const calm = await start(`faults-endpoint-calm-${Date.now().toString(36)}`);
    expect(calm.result.quarantined).toBe(1);
    expect(preferenceKeys(calm.progress)).toEqual(preferenceKeys(disturbed.progress));
  }, 600_000);
});

describe('training through a full work dir and a storage outage during checkpoint uploads', () => {
  const tdir = path.join(home, 'training-tmpfs');
  const ballast = path.join(tdir, 'ballast');
  const trainCfg = parseCampaignConfig({
    name: 'faults-training',
    seed: 23,
    dataset: { format: 'phantom', root, phantom: { studies: 16, size: 128, testFraction: 0.25 }, limit: 24 },
    curation: { shardSize: 24, concurrency: 4 },
    training: {
      variants: ['sft', 'dpo'],
      sft: { fullFineTune: true, learningRate: 2e-3 },
      learningRate: 1e-3,
      batchSize: 2,
      epochs: 4,
      maxLength: 96,
      lora: { enabled: true, r: 4, alpha: 8, dropout: 0 },
      checkpointEverySteps: 2,
      heartbeatTimeoutSeconds: 30,
      device: 'cpu',
    },
    evaluation: { enabled: false },
  });

  beforeAll(async () => {
    fs.mkdirSync(tdir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256m', 'tmpfs', tdir]);
    workers.training = spawnWorker('training', 'training', { ...env, MMEDPO_TRAINING_DIR: tdir, MMEDPO_TRAINING_SHUTDOWN_GRACE: '5s', MMEDPO_GPUS: '' }, path.join(home, 'logs'));
  }, 60_000);
  afterAll(async () => {
    await workers.training?.kill9();
    try {
      execFileSync('umount', ['-l', tdir]);
    } catch {
      /* already gone */
    }
  });

  /** The pending training activity's heartbeat (its variant, its last uploaded checkpoint) and retry state, if any. */
  async function trainingHeartbeat(id: string): Promise<{ variant?: string; checkpointKey?: string; attempt: number; lastError?: string } | undefined> {
    const h = client.workflow.getHandle(id);
    const d = await h.describe().catch(() => undefined);
    const a = d?.raw.pendingActivities?.find((x) => x.activityType?.name === 'trainVariant');
    if (!a) return undefined;
    const waiting = (await waitingOf(client, id)).find((w) => w.activity === 'trainVariant');
    const p = a.heartbeatDetails?.payloads?.[0];
    let hb: { variant?: string; checkpointKey?: string } = {};
    if (p) {
      const converter = client.options.loadedDataConverter;
      const [decoded] = await converter.payloadCodecs.reduceRight(async (acc, c) => c.decode(await acc), Promise.resolve([p]));
      hb = converter.payloadConverter.fromPayload(decoded!) as typeof hb;
    }
    return { variant: hb.variant, checkpointKey: hb.checkpointKey, attempt: a.attempt ?? 1, lastError: waiting?.lastError };
  }

  it('a full disk and a 90 s outage mid-upload cost no run: the adapters of an undisturbed run', async () => {
    // Fill the work dir to the last block: the first training attempt cannot stage its model or data.
    const { bavail, bsize } = fs.statfsSync(tdir);
    fs.writeFileSync(ballast, Buffer.alloc(Number(bavail) * Number(bsize)));
    const id = `faults-training-${Date.now().toString(36)}`;
    const handle = await client.workflow.start('campaignWorkflow', { taskQueue: 'curation', workflowId: id, args: [{ campaignId: id, config: trainCfg, configHash: configHash(trainCfg) }] });
    let diskError = '';
    await waitUntil(
      'a training attempt failed on the full disk',
      async () => {
        const hb = await trainingHeartbeat(id);
        if (hb && hb.attempt >= 2 && hb.lastError) diskError = hb.lastError;
        return diskError !== '';
      },
      300_000,
      500,
    );
    expect(diskError).toMatch(/ENOSPC|No space left/i);
    fs.rmSync(ballast);
    await waitUntil('a DPO checkpoint uploaded', async () => {
      const hb = await trainingHeartbeat(id);
      return hb?.variant === 'dpo' && !!hb.checkpointKey;
    }, 600_000, 250);
    await stopMinio({ home });
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    info = await stackUpAgain({ home });
    await handle.result();
    const disturbed = await handle.query<CampaignProgress>('progress');
    expect(disturbed.stage).toBe('done');
    expect(disturbed.training.done).toEqual(['sft', 'dpo']);

    const calmId = `faults-training-calm-${Date.now().toString(36)}`;
    const calm = await client.workflow.start('campaignWorkflow', { taskQueue: 'curation', workflowId: calmId, args: [{ campaignId: calmId, config: trainCfg, configHash: configHash(trainCfg) }] });
    await calm.result();
    const undisturbed = await calm.query<CampaignProgress>('progress');
    expect(disturbed.artifacts['adapter:sft']).toBeDefined();
    expect(disturbed.artifacts['adapter:sft']).toBe(undisturbed.artifacts['adapter:sft']);
    expect(disturbed.artifacts['adapter:dpo']).toBe(undisturbed.artifacts['adapter:dpo']);
  }, 1_200_000);
});
