// The training activity: pulls a preference (or SFT) set and its images from S3 into a local work dir,
// runs the Python trainer (`python -m trainer sft|dpo`), relays each progress line as a heartbeat,
// uploads every checkpoint to S3 (deterministic tar, content-addressed) and returns the final adapter
// and metrics keys. A retry after a worker crash resumes from the last heartbeated checkpoint; a
// cancellation sends SIGTERM to the trainer's process group, which checkpoints and exits.
// The parts, by job: slots.ts (GPU slots), cache.ts (the machine's model/adapter cache, S3 tars),
// staging.ts (the run's dataset), supervisor.ts (the one trainer-process spawn path); this file composes them.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { activityInfo, cancellationDetails, cancellationSignal, heartbeat } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { artifactStore } from '../../lib/env';
import { sha256Hex } from '../../lib/hash';
import { freePort } from '../../lib/ports';
import { TrainingConfigSchema, type TrainingConfig } from '../../core/config';
import type { z } from 'zod';
import { getTar, modelRootIn, putDir, resolveBaseModel, runPython, workRoot } from './cache';
import { defaultSlotPool, type SlotPool } from './slots';
import { stageDataset } from './staging';
import { PROJECT_ROOT, startTrainer, TRAINER_EXIT_BAD_INPUT, TRAINER_EXIT_PREEMPTED, type TrainerEvent } from './supervisor';

export { detectGpus, defaultSlotPool, SlotPool } from './slots';
export { fetchAdapterDir, resolveBaseModel } from './cache';
export type { StagingQuarantine } from './staging';
export { preemptAllTrainers, TRAINER_EXIT_BAD_INPUT, TRAINER_EXIT_PREEMPTED, trainerPython } from './supervisor';

export type TrainingConfigInput = z.input<typeof TrainingConfigSchema>;

export interface TrainingInput {
  /** Campaign variant this run trains (e.g. 'sft', 'dpo', 'mmedpo'); recorded in the metrics and the tracking run. */
  variant: string;
  mode: 'sft' | 'dpo';
  /** S3 key of the JSONL set: preference pairs {id, image, rejected_image?, prompt, chosen, rejected, weight}
   *  (or the authors' LLaVA layout) for dpo, {id, image, prompt, response} for sft. `image` and
   *  `rejected_image` are S3 keys. */
  datasetKey: string;
  /** Local HF model dir, or S3 key of a tar of one; absent → training.baseModel, else the tiny LLaVA built
   *  deterministically from `seed`. */
  baseModel?: string;
  /** The campaign config's `training` section (or part of it: the rest takes the schema's defaults). Its trainer
   *  options reach the trainer whole (`--config`); gpusPerRun/distributed choose how it is launched. */
  training?: TrainingConfigInput;
  seed: number;
  /** Seed of the tiny LLaVA built when there is no base model (default `seed`): the campaign seed, so runs with
   *  different training seeds start from one base model. */
  baseModelSeed?: number;
  /** S3 key of an adapter tar (e.g. a previous SFT run's adapterKey) merged into the base first: it becomes
   *  the reference policy of a DPO run. */
  initAdapterKey?: string;
  /** Tags the tracking run (with variant, seed and the training section's hash). */
  campaignId?: string;
  /** Minimum seconds per step (demos and tests only: keeps a tiny run observable). */
  paceSeconds?: number;
}

export interface TrainingOutput {
  /** S3 key of a tar of the PEFT adapter dir (or the full model when LoRA is off). */
  adapterKey: string;
  /** S3 key of the metrics JSON (full loss curve, hyperparameters, input). */
  metricsKey: string;
  finalLoss: number;
  steps: number;
  /** Loss per optimizer step (downsampled to ≤ 2000 points; the full curve is under metricsKey). */
  lossCurve: number[];
  /** Step this attempt resumed from (null: started from step 0). */
  resumedFromStep: number | null;
  attempt: number;
  /** Records left out because an image they name is missing or does not decode (StagingQuarantine[] under quarantineKey). */
  quarantined?: number;
  quarantineKey?: string;
}

/** Heartbeat details: the last step and the last uploaded checkpoint (what a retry resumes from). */
export interface TrainingHeartbeat {
  step: number;
  variant?: string;
  /** The training seed. */
  seed?: number;
  totalSteps?: number;
  loss?: number;
  rewardMargin?: number;
  rewardAccuracy?: number;
  checkpointKey?: string;
  checkpointStep?: number;
}

/** Options of the training section that are the activity's or the campaign's, not the trainer's. */
const NOT_TRAINER_OPTIONS = ['enabled', 'baseModel', 'variants', 'sft', 'seeds', 'heartbeatTimeoutSeconds', 'gpusPerRun', 'distributed'] as const;

/** The trainer's `--config` JSON: the training section's trainer options, with the SFT stage's overrides for
 *  an SFT run (training.sft: learning rate, epochs, full fine-tuning). */
export function trainerOptions(t: TrainingConfig, mode: 'sft' | 'dpo', seed: number, paceSeconds = 0): Record<string, unknown> {
  const o: Record<string, unknown> = { ...t };
  for (const k of NOT_TRAINER_OPTIONS) delete o[k];
  if (mode === 'sft') {
    if (t.sft.learningRate !== undefined) o.learningRate = t.sft.learningRate;
    if (t.sft.epochs !== undefined) o.epochs = t.sft.epochs;
    if (t.sft.fullFineTune) o.lora = { ...t.lora, enabled: false };
  }
  return { ...o, seed, paceSeconds };
}

/** Tracking tags of a campaign variant's run: the trainer finds the same MLflow run by them (training retries,
 *  the variant's evaluation). config_hash: sha256 of the training section (canonical JSON). */
export function trackingTags(campaignId: string | undefined, variant: string, seed: number, t: TrainingConfig): Record<string, string> {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canonical) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])])) : v;
  return {
    ...(campaignId ? { campaign_id: campaignId } : {}),
    variant,
    seed: String(seed),
    config_hash: sha256Hex(Buffer.from(JSON.stringify(canonical(t)))).slice(0, 16),
  };
}

export function tagArgs(tags: Record<string, string>): string[] {
  return Object.entries(tags).flatMap(([k, v]) => ['--tag', `${k}=${v}`]);
}

/** Log scores (name → number) as `eval/<name>` to the variant's MLflow run (`python -m trainer log-metrics`):
 *  the run its training wrote its loss curve to, created when the variant was not trained (base). */
export async function logTrackingMetrics(campaignId: string | undefined, variant: string, seed: number, t: TrainingConfig, metrics: Record<string, number>): Promise<void> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'mmedpo-scores-'));
  try {
    const f = path.join(dir, 'scores.json');
    await fs.promises.writeFile(f, JSON.stringify(metrics));
    await runPython(['log-metrics', '--metrics', f, '--run-name', `${campaignId ? `${campaignId}/` : ''}${variant}`, ...tagArgs(trackingTags(campaignId, variant, seed, t))], 'log-metrics');
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

/** The trainer command: `python -m trainer MODE …`, or with gpusPerRun > 1 the same under `accelerate launch`
 *  (trainer/accelerate/<distributed>.yaml; via trainer.launch, which dies with the worker). */
export function trainerCommand(input: TrainingInput, t: TrainingConfig, p: { model: string; data: string; out: string; config: string; resume?: string; initAdapter?: string; port?: number }): string[] {
  const a = [input.mode, '--model', p.model, '--data', p.data, '--out', p.out, '--config', p.config];
  if (p.initAdapter) a.push('--init-adapter', p.initAdapter);
  if (p.resume) a.push('--resume', p.resume);
  if (t.reportTo.length) a.push('--run-name', `${input.campaignId ? `${input.campaignId}/` : ''}${input.variant}`, ...tagArgs(trackingTags(input.campaignId, input.variant, input.seed, t)));
  if (t.gpusPerRun <= 1) return ['-m', 'trainer', ...a];
  return ['-m', 'trainer.launch', '--config_file', path.join(PROJECT_ROOT, 'trainer', 'accelerate', `${t.distributed}.yaml`),
    '--num_processes', String(t.gpusPerRun), '--main_process_port', String(p.port ?? 29500), '-m', 'trainer', ...a];
}

function downsample(xs: number[], max = 2000): number[] {
  if (xs.length <= max) return xs;
  const step = xs.length / max;
  return Array.from({ length: max }, (_, i) => xs[Math.floor(i * step)]);
}

/** Train (SFT or weighted DPO) and return the adapter + metrics keys. Registered on the `training` queue. */
export async function runTraining(input: TrainingInput, slots?: SlotPool): Promise<TrainingOutput> {
  if (input.mode !== 'sft' && input.mode !== 'dpo') throw ApplicationFailure.nonRetryable(`mode must be sft or dpo, got ${String(input.mode)}`, 'TrainingInputError');
  const parsed = TrainingConfigSchema.safeParse(input.training ?? {});
  if (!parsed.success) throw ApplicationFailure.nonRetryable(`training: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, 'TrainingInputError');
  const t = parsed.data;
  const info = activityInfo();
  const store = artifactStore();
  const prev = info.heartbeatDetails as TrainingHeartbeat | undefined;
  // variant and seed name the run in `campaign status` when several train side by side
  let last: TrainingHeartbeat = { ...(prev ?? { step: 0 }), variant: input.variant, seed: input.seed };
  heartbeat(last);
  const beat = () => heartbeat(last);

  const safe = `${info.workflowExecution?.workflowId ?? 'standalone'}-${info.activityId}`.replace(/[^A-Za-z0-9_.-]/g, '_');
  const dir = path.join(workRoot(), 'runs', `${safe}-a${info.attempt}`);
  await fs.promises.rm(dir, { recursive: true, force: true });
  await fs.promises.mkdir(dir, { recursive: true });
  const pool = slots ?? (await defaultSlotPool());
  const held = await pool.acquire(t.gpusPerRun, beat, cancellationSignal());
  const gpus = pool.gpus ? held : null;
  try {
    const model = await resolveBaseModel(input.baseModel ?? t.baseModel, input.baseModelSeed ?? input.seed);
    beat();
    let initAdapter: string | undefined;
    if (input.initAdapterKey) {
      if (!(await getTar(input.initAdapterKey, path.join(dir, 'init-adapter')))) {
        throw ApplicationFailure.nonRetryable(`initAdapterKey ${input.initAdapterKey} not found in S3`, 'TrainingInputError');
      }
      initAdapter = modelRootIn(path.join(dir, 'init-adapter'));
    }
    const data = await stageDataset(input.datasetKey, dir, beat);
    beat();
    let resume: string | undefined;
    const resumedFromStep = prev?.checkpointKey ? (prev.checkpointStep ?? null) : null;
    if (prev?.checkpointKey) {
      if (!(await getTar(prev.checkpointKey, path.join(dir, 'resume')))) {
        throw ApplicationFailure.retryable(`checkpoint ${prev.checkpointKey} vanished from S3`, 'CheckpointMissing');
      }
      const names = fs.readdirSync(path.join(dir, 'resume')).filter((n) => n.startsWith('checkpoint-'));
      if (names.length !== 1) throw ApplicationFailure.retryable(`checkpoint ${prev.checkpointKey}: unexpected layout`, 'CheckpointMissing');
      resume = path.join(dir, 'resume', names[0]);
    }
    const out = path.join(dir, 'out');
    const config = path.join(dir, 'training.json');
    await fs.promises.writeFile(config, JSON.stringify(trainerOptions(t, input.mode, input.seed, input.paceSeconds ?? 0), null, 1));
    const args = trainerCommand(input, t, { model, data: data.file, out, config, resume, initAdapter, port: t.gpusPerRun > 1 ? await freePort() : undefined });

    // Checkpoint uploads run beside training, newest first: when uploads fall behind the checkpoint cadence,
    // a superseded checkpoint is skipped. A failed upload keeps the previous key in the heartbeat.
    let pendingCkpt: { dir: string; step: number } | undefined;
    let uploader: Promise<void> | undefined;
    let preempted = false;
    const uploadFailures: string[] = [];
    const drain = async () => {
      while (pendingCkpt) {
        const c = pendingCkpt;
        pendingCkpt = undefined;
        try {
          const key = await putDir('training/checkpoints', path.dirname(c.dir), path.basename(c.dir), dir);
          last = { ...last, checkpointKey: key, checkpointStep: c.step };
          beat();
        } catch (e) {
          uploadFailures.push(`step ${c.step}: ${(e as Error).message}`);
        }
      }
      uploader = undefined;
    };
    const onEvent = (ev: TrainerEvent) => {
      if (ev.event === 'preempted') preempted = true; // exit code 75, or the launcher's own after SIGTERM
      if (ev.event === 'step') {
        last = { ...last, step: ev.step ?? last.step, totalSteps: ev.totalSteps, loss: ev.loss, rewardMargin: ev.rewardMargin, rewardAccuracy: ev.rewardAccuracy };
      }
      if (ev.checkpoint && (ev.event === 'step' || ev.event === 'checkpoint')) {
        pendingCkpt = { dir: ev.checkpoint, step: ev.step ?? last.step };
        uploader ??= drain();
      }
      beat();
    };
    // Liveness while the trainer is alive (its imports and data loading can outlast a heartbeat timeout);
    // a trainer silent on stdout for MMEDPO_TRAINER_STALL_S (default 30 min) is killed as hung. A cancellation
    // SIGTERMs it: it checkpoints at the step it is on, and that checkpoint is uploaded before this returns.
    const stallMs = Number(process.env.MMEDPO_TRAINER_STALL_S ?? 1800) * 1000;
    const signal = cancellationSignal();
    const { exited } = startTrainer({
      args,
      what: `trainer ${safe}`,
      gpus,
      env: {
        // accelerate launch: time the processes get to checkpoint after SIGTERM before torchrun kills them
        TORCH_ELASTIC_SHUTDOWN_TIMEOUT: process.env.TORCH_ELASTIC_SHUTDOWN_TIMEOUT ?? '270',
      },
      onEvent,
      onTick: beat,
      signal,
      stallMs,
      preemptible: true,
    });
    const { code, stalled, why } = await exited;
    while (uploader) await uploader;
    if (uploadFailures.length) process.stderr.write(`training ${safe}: ${uploadFailures.length} checkpoint upload(s) failed: ${uploadFailures[0]}\n`);

    if (code === TRAINER_EXIT_PREEMPTED || preempted || signal.aborted) {
      const d = cancellationDetails();
      const where = `at step ${last.step}${last.checkpointKey ? `, checkpoint ${last.checkpointKey}` : ''}`;
      if (signal.aborted && !d?.workerShutdown) throw new CancelledFailure(`training cancelled ${where}`, [last]);
      throw ApplicationFailure.retryable(`trainer preempted ${where}; a retry resumes there`, 'TrainerPreempted');
    }
    if (stalled) throw ApplicationFailure.retryable(`trainer silent for ${stallMs / 1000}s at step ${last.step}: killed`, 'TrainerStalled');
    if (code === TRAINER_EXIT_BAD_INPUT) throw ApplicationFailure.nonRetryable(`trainer rejected its input: ${why}`, 'TrainingInputError');
    if (code !== 0) throw ApplicationFailure.retryable(`trainer exited with code ${String(code)}: ${why}`, 'TrainerFailed');

    const metrics = JSON.parse(await fs.promises.readFile(path.join(out, 'metrics.json'), 'utf8')) as { lossCurve: number[]; finalLoss: number; steps: number };
    const adapter = { key: await putDir('training/adapters', out, 'adapter', dir) };
    const metricsObj = await store.putJson('training/metrics', {
      ...metrics,
      variant: input.variant,
      input: { mode: input.mode, datasetKey: input.datasetKey, baseModel: input.baseModel ?? null, seed: input.seed, initAdapterKey: input.initAdapterKey ?? null },
      training: t,
      adapterKey: adapter.key,
      records: data.records,
    });
    const quarantineKey = data.quarantined.length ? (await store.putJson('training/quarantine', data.quarantined)).key : undefined;
    return {
      adapterKey: adapter.key,
      metricsKey: metricsObj.key,
      finalLoss: metrics.finalLoss,
      steps: metrics.steps,
      lossCurve: downsample(metrics.lossCurve),
      resumedFromStep,
      attempt: info.attempt,
      ...(quarantineKey ? { quarantined: data.quarantined.length, quarantineKey } : {}),
    };
  } finally {
    pool.release(held);
    if (process.env.MMEDPO_KEEP_TRAINING_DIR !== '1') await fs.promises.rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
