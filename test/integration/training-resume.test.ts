// The training activity on a real Temporal worker in a child process: an uninterrupted tiny DPO run,
// then the same run with the worker killed (SIGKILL of its process group) about half-way. After a
// restart the retry resumes from the last heartbeated checkpoint and ends with the same loss curve
// (bit-exact on CPU) and the same adapter bytes (same content-addressed key).
import { spawn, execFileSync, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { logTrackingMetrics, type TrainingHeartbeat, type TrainingOutput } from '../../activities/training';
import { TrainingConfigSchema } from '../../core/config';
import type { TrainingRunInput } from '../../workflows/training';
import { artifactStore } from '../../lib/env';
import { decodePayloadsIn, payloadCodecs } from '../../lib/codec';
import { connectClient, makeWorker, uniqueQueue } from '../helpers/temporal';

const ROOT = path.resolve(__dirname, '../..');
const PY = process.env.MMEDPO_PYTHON ?? path.join(ROOT, '.mmedpo/venv/bin/python');

jest.setTimeout(240_000);

describe('training activity: kill -9 of the worker mid-run, resume from checkpoint', () => {
  const wfQueue = uniqueQueue('train-wf');
  const trainQueue = uniqueQueue('train');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-train-it-'));
  let wf: Awaited<ReturnType<typeof makeWorker>>;
  let wfRunning: Promise<void>;
  let client: Awaited<ReturnType<typeof connectClient>>;
  let trainWorker: ChildProcess | undefined;
  let datasetKey: string;
  let unitDatasetKey: string;
  let sftDatasetKey: string;

  function startTrainingWorker(): ChildProcess {
    const p = spawn('npx', ['tsx', 'workers/training.ts'], {
      cwd: ROOT,
      detached: true, // own process group, so SIGKILL takes npx, tsx and the worker together
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, MMEDPO_TASK_QUEUE: trainQueue, MMEDPO_GPUS: '', MMEDPO_TRAINING_DIR: path.join(work, 'training') },
    });
    p.stderr!.on('data', (b: Buffer) => {
      const s = b.toString();
      if (/error/i.test(s)) process.stderr.write(`[training worker] ${s}`);
    });
    return p;
  }
  function killGroup(p: ChildProcess | undefined, sig: NodeJS.Signals): void {
    if (!p?.pid) return;
    try {
      process.kill(-p.pid, sig);
    } catch {
      /* gone */
    }
  }

  beforeAll(async () => {
    // Tracking of this file's runs goes to a temporary MLflow file store (the workers and log-metrics inherit it).
    process.env.MLFLOW_TRACKING_URI = `file:${path.join(work, 'mlruns')}`;
    process.env.MLFLOW_ALLOW_FILE_STORE = 'true';
    process.env.TENSORBOARD_LOGGING_DIR = path.join(work, 'tensorboard');
    // A small synthetic preference set (half D_t pairs, half D_v pairs with noised rejected images), uploaded to S3.
    const data = path.join(work, 'data');
    execFileSync(PY, ['-m', 'trainer', 'demo-data', '--out', data, '--pairs', '12', '--seed', '1'], { cwd: ROOT });
    const store = artifactStore();
    const lines: string[] = [];
    for (const line of fs.readFileSync(path.join(data, 'prefs.jsonl'), 'utf8').trim().split('\n')) {
      const r = JSON.parse(line) as Record<string, string>;
      for (const f of ['image', 'rejected_image']) {
        if (r[f]) r[f] = (await store.putBytes('test-images', fs.readFileSync(path.join(data, r[f])), { ext: '.png' })).key;
      }
      lines.push(JSON.stringify(r));
    }
    datasetKey = (await store.putBytes('test-datasets', Buffer.from(lines.join('\n') + '\n'), { ext: '.jsonl' })).key;
    const unit = lines.map((l) => JSON.stringify({ ...(JSON.parse(l) as object), weight: 1 }));
    unitDatasetKey = (await store.putBytes('test-datasets', Buffer.from(unit.join('\n') + '\n'), { ext: '.jsonl' })).key;
    const sft = lines.map((l) => {
      const r = JSON.parse(l) as Record<string, string>;
      return JSON.stringify({ id: r.id, image: r.image, prompt: r.prompt, response: r.chosen });
    });
    sftDatasetKey = (await store.putBytes('test-datasets', Buffer.from(sft.join('\n') + '\n'), { ext: '.jsonl' })).key;
    wf = await makeWorker({ taskQueue: wfQueue });
    wfRunning = wf.worker.run();
    client = await connectClient();
    trainWorker = startTrainingWorker();
  });
  afterAll(async () => {
    killGroup(trainWorker, 'SIGKILL');
    wf?.worker.shutdown();
    await wfRunning;
    await wf?.connection.close();
    await client?.connection.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  const input = (): TrainingRunInput => ({
    variant: 'mmedpo',
    mode: 'dpo',
    datasetKey,
    seed: 0,
    // 12 pairs / batch 2 = 6 steps an epoch × 4 epochs = 24 steps; paced so the run can be observed mid-way.
    training: { learningRate: 1e-3, batchSize: 2, gradientAccumulation: 2, epochs: 4, checkpointEverySteps: 3, lora: { enabled: true, r: 8, alpha: 16, dropout: 0.05 }, device: 'cpu' },
    paceSeconds: 0.35,
    taskQueue: trainQueue,
    heartbeatTimeoutMs: 5000,
  });

  it('resumes after SIGKILL and matches the uninterrupted run bit for bit', async () => {
    const id = `train-it-${process.pid}-${Date.now()}`;
    const full = (await client.client.workflow.execute('trainingRun', { taskQueue: wfQueue, workflowId: `${id}-full`, args: [input()] })) as TrainingOutput;
    expect(full.steps).toBe(24);
    expect(full.lossCurve).toHaveLength(24);
    expect(full.resumedFromStep).toBeNull();
    expect(new Set(full.lossCurve).size).toBeGreaterThan(1);

    const h = await client.client.workflow.start('trainingRun', { taskQueue: wfQueue, workflowId: `${id}-cut`, args: [input()] });
    // Wait until the server holds a heartbeat with a checkpoint at or past half-way, then kill -9 the worker.
    let seen: TrainingHeartbeat | undefined;
    for (let i = 0; i < 600; i++) {
      const d = await h.describe();
      const p = d.raw.pendingActivities?.[0]?.heartbeatDetails?.payloads?.[0];
      seen = p ? (defaultPayloadConverter.fromPayload(await decodePayloadsIn(p, payloadCodecs())) as TrainingHeartbeat) : undefined;
      if (seen?.checkpointKey && (seen.checkpointStep ?? 0) >= 12) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(seen?.checkpointStep).toBeGreaterThanOrEqual(12);
    expect(seen!.checkpointStep).toBeLessThan(24);
    killGroup(trainWorker, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 1000));
    trainWorker = startTrainingWorker();

    const cut = (await h.result()) as TrainingOutput;
    expect(cut.attempt).toBeGreaterThanOrEqual(2);
    expect(cut.resumedFromStep).toBeGreaterThanOrEqual(seen!.checkpointStep!);
    expect(cut.steps).toBe(24);
    expect(cut.lossCurve).toEqual(full.lossCurve); // bit-exact on CPU
    expect(cut.adapterKey).toBe(full.adapterKey); // same adapter bytes
    const metrics = await artifactStore().getJson<{ lossCurve: number[]; variant: string }>(cut.metricsKey);
    expect(metrics.lossCurve).toEqual(full.lossCurve);
    expect(metrics.variant).toBe('mmedpo');
  });

  it('cancellation: SIGTERM to the trainer, a final checkpoint is uploaded, the run reports cancelled', async () => {
    const h = await client.client.workflow.start('trainingRun', { taskQueue: wfQueue, workflowId: `train-cancel-${process.pid}-${Date.now()}`, args: [input()] });
    let step = 0;
    for (let i = 0; i < 600 && step < 2; i++) {
      const p = (await h.describe()).raw.pendingActivities?.[0]?.heartbeatDetails?.payloads?.[0];
      step = p ? (defaultPayloadConverter.fromPayload(await decodePayloadsIn(p, payloadCodecs())) as TrainingHeartbeat).step : 0;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(step).toBeGreaterThanOrEqual(2);
    await h.cancel();
    await expect(h.result()).rejects.toThrow();
    expect((await h.describe()).status.name).toBe('CANCELLED');
    const history = await h.fetchHistory();
    const canceled = history.events!.find((e) => e.activityTaskCanceledEventAttributes)?.activityTaskCanceledEventAttributes;
    expect(canceled).toBeDefined();
    const details = defaultPayloadConverter.fromPayload(await decodePayloadsIn(canceled!.details!.payloads![0]!, payloadCodecs())) as TrainingHeartbeat;
    // The trainer checkpointed at the step where SIGTERM reached it (not merely at the last periodic checkpoint).
    expect(details.checkpointStep).toBe(details.step);
    expect(details.step).toBeGreaterThanOrEqual(step);
    expect(details.step).toBeLessThan(24);
    const tar = await artifactStore().getBytes(details.checkpointKey!);
    expect(tar.includes(Buffer.from('trainer_state.json'))).toBe(true);
    expect(tar.includes(Buffer.from('adapter_model.safetensors'))).toBe(true);
  });

  it('a D_v pair whose rejected image x* does not decode is quarantined with its reason; the run trains on the rest', async () => {
    const store = artifactStore();
    const lines = (await store.getBytes(datasetKey)).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    const dv = lines.findIndex((r) => r.rejected_image && r.rejected_image !== r.image);
    expect(dv).toBeGreaterThanOrEqual(0);
    const broken = await store.putBytes('test-images', Buffer.from('\x89PNG\r\n\x1a\n truncated'), { ext: '.png' });
    lines[dv] = { ...lines[dv]!, rejected_image: broken.key };
    const key = (await store.putBytes('test-datasets', Buffer.from(lines.map((r) => JSON.stringify(r)).join('\n') + '\n'), { ext: '.jsonl' })).key;
    const out = (await client.client.workflow.execute('trainingRun', {
      taskQueue: wfQueue,
      workflowId: `train-badx-${process.pid}-${Date.now()}`,
      args: [{ ...input(), datasetKey: key, paceSeconds: 0, training: { learningRate: 1e-3, batchSize: 2, maxSteps: 2, device: 'cpu', lora: { enabled: true, r: 4, alpha: 8, dropout: 0 } } }],
    })) as TrainingOutput;
    expect(out.steps).toBe(2);
    expect(out.quarantined).toBe(1);
    const q = await store.getJson<{ id: string; reason: string }[]>(out.quarantineKey!);
    expect(q).toEqual([{ id: lines[dv]!.id, reason: expect.stringMatching(new RegExp(`^rejected image x\\*: BadImage: ${broken.key} does not decode`)) }]);
    const m = await store.getJson<{ records: number }>(out.metricsKey);
    expect(m.records).toBe(lines.length - 1);
  });

  it('gpusPerRun 2: the activity launches the trainer through accelerate (2 processes, gloo on CPU)', async () => {
    const out = (await client.client.workflow.execute('trainingRun', {
      taskQueue: wfQueue,
      workflowId: `train-2proc-${process.pid}-${Date.now()}`,
      args: [{ ...input(), paceSeconds: 0, training: { learningRate: 1e-3, batchSize: 2, maxSteps: 2, gpusPerRun: 2, device: 'cpu', lora: { enabled: true, r: 4, alpha: 8, dropout: 0 } } }],
    })) as TrainingOutput;
    expect(out.steps).toBe(2);
    const m = await artifactStore().getJson<{ processes: number; lossCurve: number[] }>(out.metricsKey);
    expect(m.processes).toBe(2);
    expect(m.lossCurve).toHaveLength(2);
  });

  it('sft then dpo: base model from an S3 tar, the SFT adapter merged in as the DPO reference; one MLflow run per variant with its loss curve and scores', async () => {
    const store = artifactStore();
    execFileSync(PY, ['-m', 'trainer', 'init-tiny', '--out', path.join(work, 'tiny'), '--seed', '3'], { cwd: ROOT, stdio: 'ignore' });
    execFileSync('tar', ['-C', work, '-cf', path.join(work, 'tiny.tar'), 'tiny']);
    const baseModel = (await store.putBytes('test-models', fs.readFileSync(path.join(work, 'tiny.tar')), { ext: '.tar' })).key;
    const lora = { enabled: true, r: 8, alpha: 16, dropout: 0 };
    const run = async (id: string, i: Partial<TrainingRunInput>) =>
      (await client.client.workflow.execute('trainingRun', { taskQueue: wfQueue, workflowId: `train-flow-${process.pid}-${Date.now()}-${id}`, args: [{ ...input(), baseModel, ...i }] })) as TrainingOutput;
    const campaignId = `tracking-${process.pid}-${Date.now()}`;
    const training = { lora, device: 'cpu' as const, reportTo: ['mlflow' as const] };
    const sft = await run('sft', { variant: 'sft', mode: 'sft', datasetKey: sftDatasetKey, campaignId, training: { ...training, learningRate: 3e-3, batchSize: 4, epochs: 3 } });
    expect(sft.steps).toBe(9);
    expect(sft.lossCurve[8]).toBeLessThan(sft.lossCurve[0]);
    const dpoTraining = { ...training, learningRate: 1e-3, batchSize: 4, maxSteps: 3 };
    const dpo = await run('dpo', { variant: 'mmedpo', datasetKey: unitDatasetKey, initAdapterKey: sft.adapterKey, campaignId, training: dpoTraining });
    // Step 1: the fresh adapter is zero, so policy = reference = the SFT model: every pair's loss is log 2.
    expect(Math.abs(dpo.lossCurve[0] - Math.log(2))).toBeLessThan(1e-6);
    expect(dpo.lossCurve[2]).not.toBe(dpo.lossCurve[0]); // step 1 is the warm-up (lr 0); step 2 moved the policy
    const m = await store.getJson<{ input: { initAdapterKey: string; baseModel: string } }>(dpo.metricsKey);
    expect(m.input).toMatchObject({ initAdapterKey: sft.adapterKey, baseModel });

    // The evaluation's scores join each variant's run (evaluateVariant logs them this way); base has scores only.
    await logTrackingMetrics(campaignId, 'mmedpo', 0, TrainingConfigSchema.parse(dpoTraining), { closed_accuracy: 50, open_recall: 10 });
    await logTrackingMetrics(campaignId, 'base', 0, TrainingConfigSchema.parse(dpoTraining), { closed_accuracy: 30, open_recall: 1 });
    const runs = JSON.parse(execFileSync(PY, ['-c', `
import json, mlflow
from mlflow.tracking import MlflowClient
out = {}
for r in mlflow.search_runs(experiment_names=[${JSON.stringify(campaignId)}], output_format="list"):
    loss = sorted((m.step, m.value) for m in MlflowClient().get_metric_history(r.info.run_id, "loss"))
    out[r.data.tags["variant"]] = {"loss": [v for _, v in loss], "metrics": sorted(r.data.metrics), "tags": r.data.tags}
print(json.dumps(out))`], { cwd: ROOT, env: process.env }).toString()) as Record<string, { loss: number[]; metrics: string[]; tags: Record<string, string> }>;
    expect(Object.keys(runs).sort()).toEqual(['base', 'mmedpo', 'sft']);
    expect(runs.sft.loss).toEqual(sft.lossCurve);
    expect(runs.mmedpo.loss).toEqual(dpo.lossCurve);
    expect(runs.mmedpo.metrics).toEqual(expect.arrayContaining(['eval/closed_accuracy', 'eval/open_recall', 'rewards/margins', 'loss']));
    expect(runs.base.metrics).toEqual(['eval/closed_accuracy', 'eval/open_recall']);
    expect(runs.mmedpo.tags).toMatchObject({ campaign_id: campaignId, variant: 'mmedpo', seed: '0' });
    expect(runs.mmedpo.tags.config_hash).toMatch(/^[0-9a-f]{16}$/);
  });
});
