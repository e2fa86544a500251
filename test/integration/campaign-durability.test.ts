// Durability of a whole campaign: the workers run as real OS processes against a stack of
// this test's own (so restarting its Temporal server disturbs no other test). During one
// campaign we SIGKILL each worker kind once — curation (workflows + visual activities),
// model (debate turns), training (the trainer child dies with it, mid-run) — and restart
// the Temporal server on the same db file. The campaign must still complete with every
// item curated, training must resume from its last heartbeated checkpoint, and no history
// may hold a re-scheduled or twice-completed activity. Every model call (the served SFT target and
// the offline judge and agents alike) is an activity on its role's queue, so the model worker's
// kill lands on the one curation path there is.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { parseCampaignConfig } from '../../core/config';
import type { CampaignProgress, CampaignResult } from '../../core/contracts';
import { freePort } from '../../lib/ports';
import { PROJECT_ROOT, restartTemporal, stackDown, stackEnv, stackUp, type StackInfo } from '../../infra/stack';
import { decodePayloadsIn, payloadCodecs } from '../../lib/codec';
import { configHash } from '../../lib/config-file';
import { dataConverter } from '../../lib/temporal';
import { spawnWorker, waitUntil, type WorkerProcess } from '../helpers/processes';

const home = path.join(PROJECT_ROOT, '.mmedpo', `durability-${process.pid}`);
let info: StackInfo;
let client: Client;
let connection: Connection;
const workers: Record<string, WorkerProcess> = {};

const cfg = parseCampaignConfig({
  name: 'durability',
  seed: 11,
  dataset: { format: 'phantom', root: path.join(os.tmpdir(), `mmedpo-phantom-durability-${process.pid}`), phantom: { studies: 16, size: 128, testFraction: 0.25 }, limit: 40 },
  // Few items in flight, so the kills land mid-curation. The target is the campaign's SFT model,
  // served by the trainer on the model worker: killing that worker kills the server too.
  curation: { shardSize: 10, concurrency: 1, targetFromSft: true },
  training: {
    // SFT fully fine-tuned and used as the base of the preference variants (the demo's path).
    sft: { fullFineTune: true, learningRate: 2e-3 },
    learningRate: 1e-3,
    batchSize: 2,
    epochs: 3,
    maxLength: 96,
    lora: { enabled: true, r: 4, alpha: 8, dropout: 0 },
    checkpointEverySteps: 3,
    heartbeatTimeoutSeconds: 15,
    device: 'cpu',
    variants: ['base', 'sft', 'dpo', 'mmedpo'],
  },
  // The paper's metrics only: this file is about kills and restarts, and each grounding pass is ~30 s of the
  // longest file's CPU (campaign-grounding.test.ts and campaign.test.ts cover grounding).
  evaluation: { maxNewTokensVqa: 4, maxNewTokensReport: 16, temperature: 0, grounding: false },
});

async function completedTextItems(campaignId: string): Promise<number> {
  const r = await client.workflow.count(`WorkflowType = 'textItemWorkflow' AND ExecutionStatus = 'Completed' AND WorkflowId STARTS_WITH '${campaignId}/'`);
  return r.count;
}

beforeAll(async () => {
  fs.mkdirSync(home, { recursive: true });
  info = await stackUp({ home, temporalPort: await freePort(), minioPort: await freePort(), minioConsolePort: await freePort(), headless: true });
  const cfgFile = path.join(home, 'config.json');
  fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  const env: NodeJS.ProcessEnv = {
    MMEDPO_UI_URL: undefined, // headless; the test runner's own stack has one
    ...stackEnv(info),
    MMEDPO_HOME: home,
    MMEDPO_CONFIG: cfgFile,
    MMEDPO_QUEUE_PREFIX: '',
    MMEDPO_TASK_QUEUE: undefined,
    MMEDPO_TRAINING_DIR: path.join(home, 'training'),
    MMEDPO_TRAINING_SHUTDOWN_GRACE: '5s',
  };
  const logs = path.join(home, 'logs');
  workers.curation = spawnWorker('curation', 'curation', env, logs);
  workers.models = spawnWorker('models', 'models', env, logs);
  workers.training = spawnWorker('training', 'training', env, logs);
  connection = await Connection.connect({ address: info.temporalAddress });
  client = new Client({ connection, namespace: 'default', dataConverter: dataConverter(stackEnv(info)) });
}, 180_000);

afterAll(async () => {
  await Promise.all(Object.values(workers).map((w) => w.kill9()));
  await connection?.close().catch(() => undefined);
  await stackDown({ home });
  if (process.env.MMEDPO_KEEP_TEST_LOGS !== '1') fs.rmSync(home, { recursive: true, force: true });
});

it('completes after kill -9 of each worker kind and a Temporal restart, losing no item', async () => {
  const id = `durability-${Date.now().toString(36)}`;
  const handle = await client.workflow.start('campaignWorkflow', { taskQueue: 'curation', workflowId: id, args: [{ campaignId: id, config: cfg, configHash: configHash(cfg) }] });
  const log: string[] = [];

  // 1. curation worker, once items are completing.
  await waitUntil('3 curated items', async () => (await completedTextItems(id)) >= 3, 240_000, 200);
  await workers.curation!.kill9();
  log.push(`curation killed at ${await completedTextItems(id)} items`);
  workers.curation = workers.curation!.restart();

  // 2. model worker (every debate turn in flight dies with it).
  await waitUntil('6 curated items', async () => (await completedTextItems(id)) >= 6, 240_000, 200);
  await workers.models!.kill9();
  log.push(`models killed at ${await completedTextItems(id)} items`);
  workers.models = workers.models!.restart();

  // 3. the Temporal server itself, same db file.
  await waitUntil('9 curated items', async () => (await completedTextItems(id)) >= 9, 240_000, 200);
  const before = await completedTextItems(id);
  info = await restartTemporal({ home });
  log.push(`temporal restarted at ${before} items`);

  // 4. training worker, once the SFT run has uploaded a checkpoint (the trainer child dies too).
  let killedAtStep = -1;
  // Runs go side by side on the pool: the one killed is the one whose heartbeat names the checkpoint.
  let killedVariant: string | undefined;
  await waitUntil(
    'a heartbeated training checkpoint',
    async () => {
      const d = await handle.describe().catch(() => null);
      for (const a of (await decodePayloadsIn(d?.raw.pendingActivities, payloadCodecs(stackEnv(info)))) ?? []) {
        if (a.activityType?.name !== 'trainVariant') continue;
        const data = a.heartbeatDetails?.payloads?.[0]?.data;
        if (!data) continue;
        const hb = JSON.parse(Buffer.from(data).toString('utf8')) as { checkpointKey?: string; checkpointStep?: number; variant?: string };
        if (hb.checkpointKey) {
          killedAtStep = hb.checkpointStep ?? 0;
          killedVariant = hb.variant;
          return true;
        }
      }
      return false;
    },
    600_000,
    250,
  );
  killedVariant ??= (await handle.query<CampaignProgress>('progress')).training.variant;
  await workers.training!.kill9();
  log.push(`training (${killedVariant}) killed after checkpoint step ${killedAtStep}`);
  workers.training = workers.training!.restart();

  const result = (await handle.result()) as CampaignResult;
  console.log(log.join('\n'));
  const progress = await handle.query<CampaignProgress>('progress');
  expect(progress.stage).toBe('done');
  // No item lost: all curated, none quarantined, a D_t and a D_v pair for each.
  expect(progress.items.total).toBe(40);
  expect(progress.items.curated).toBe(40);
  expect(result.quarantined).toBe(0);
  expect(progress.pairs.text).toBe(40);
  expect(progress.pairs.visual).toBe(40);
  expect(progress.evaluation.done).toEqual(['base', 'sft', 'dpo', 'mmedpo']);
  // Training resumed from the checkpoint it had, not from step 0.
  const desc = await decodePayloadsIn(await handle.fetchHistory(), payloadCodecs(stackEnv(info)));
  const trainResults = desc.events!.filter((e) => e.activityTaskCompletedEventAttributes).map((e) => e.activityTaskCompletedEventAttributes!.result?.payloads?.[0]?.data).filter(Boolean).map((d) => JSON.parse(Buffer.from(d!).toString('utf8')) as { variant?: string; resumedFromStep?: number | null; adapterKey?: string });
  const killed = trainResults.find((r) => r.variant === killedVariant && r.adapterKey);
  expect(killed?.resumedFromStep).toBeGreaterThanOrEqual(killedAtStep);
  expect(killed?.resumedFromStep).toBeGreaterThan(0);

  // Exactly one execution per item, and no history re-scheduled or twice-completed an activity.
  const ids: string[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowId STARTS_WITH '${id}'` })) ids.push(w.workflowId);
  const textIds = ids.filter((x) => x.includes('/text/'));
  expect(textIds.length).toBe(40);
  expect(new Set(textIds).size).toBe(40);
  for (const wid of ids) {
    const h = await client.workflow.getHandle(wid).fetchHistory();
    const scheduled = new Map<string, number>();
    const completed = new Map<string, number>();
    for (const e of h.events ?? []) {
      if (e.activityTaskScheduledEventAttributes) {
        const aid = e.activityTaskScheduledEventAttributes.activityId!;
        scheduled.set(aid, (scheduled.get(aid) ?? 0) + 1);
      }
      if (e.activityTaskCompletedEventAttributes) {
        const sid = String(e.activityTaskCompletedEventAttributes.scheduledEventId);
        completed.set(sid, (completed.get(sid) ?? 0) + 1);
      }
    }
    for (const [aid, n] of scheduled) expect(`${wid} activity ${aid} scheduled ${n}×`).toBe(`${wid} activity ${aid} scheduled 1×`);
    for (const [sid, n] of completed) expect(`${wid} event ${sid} completed ${n}×`).toBe(`${wid} event ${sid} completed 1×`);
  }
}, 1_500_000);
