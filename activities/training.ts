// The training activity: pulls a preference (or SFT) set and its images from S3 into a local work dir,
// runs the Python trainer (`python -m trainer sft|dpo`), relays each progress line as a heartbeat,
// uploads every checkpoint to S3 (deterministic tar, content-addressed) and returns the final adapter
// and metrics keys. A retry after a worker crash resumes from the last heartbeated checkpoint; a
// cancellation sends SIGTERM to the trainer's process group, which checkpoints and exits.
import { spawn, execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { activityInfo, cancellationDetails, cancellationSignal, heartbeat } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { BadImageError, decodeCanonical } from '../lib/canonical-image';
import { artifactStore } from '../lib/env';
import { sha256Hex } from '../lib/hash';
import { TrainingConfigSchema, type TrainingConfig } from '../core/config';
import type { z } from 'zod';

export type TrainingConfigInput = z.input<typeof TrainingConfigSchema>;

const execFileP = promisify(execFile);
const PROJECT_ROOT = path.resolve(__dirname, '..');
/** Exit code of a trainer that received SIGTERM, wrote a checkpoint and stopped (trainer/__init__.py). */
export const TRAINER_EXIT_PREEMPTED = 75;
/** Exit code of a trainer that rejected its input (bad data, bad flags). */
export const TRAINER_EXIT_BAD_INPUT = 2;

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

export function trainerPython(): string {
  return process.env.MMEDPO_PYTHON ?? path.join(PROJECT_ROOT, '.mmedpo', 'venv', 'bin', 'python');
}

function workRoot(): string {
  return path.resolve(process.env.MMEDPO_TRAINING_DIR ?? path.join(os.tmpdir(), 'mmedpo-training'));
}

// ---- GPU slots: one activity per GPU, each pinned with CUDA_VISIBLE_DEVICES -------------------------

/** GPU indices from nvidia-smi (empty when there is none). MMEDPO_GPUS ("0,1" or "" for CPU) overrides. */
export async function detectGpus(): Promise<string[]> {
  const env = process.env.MMEDPO_GPUS;
  if (env !== undefined) return env.split(',').map((s) => s.trim()).filter(Boolean);
  try {
    const { stdout } = await execFileP('nvidia-smi', ['--query-gpu=index', '--format=csv,noheader'], { timeout: 10_000 });
    return stdout.split('\n').map((s) => s.trim()).filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * The training worker's slots: one per GPU (its index, for CUDA_VISIBLE_DEVICES), or `cpu0…` slots on a machine
 * without one. Every trainer process (a training run, an evaluation) holds slots while it runs: one, or
 * training.gpusPerRun for a multi-GPU run, all of this one worker (a CPU worker with fewer gives it all of them). A run that finds too few free waits here, in
 * arrival order (so a multi-GPU run is not overtaken forever by one-slot runs), heartbeating, until they are.
 */
export class SlotPool {
  private readonly free: string[];
  private readonly waiting: { n: number; grant: (ids: string[]) => void }[] = [];

  /** ids: GPU indices when `gpus`, else CPU slot names. */
  constructor(
    readonly ids: readonly string[],
    readonly gpus: boolean,
  ) {
    if (ids.length === 0) throw new Error('a slot pool needs at least one slot');
    this.free = [...ids];
  }

  /** A pool sized from the GPUs (nvidia-smi, or MMEDPO_GPUS); `slots` CPU slots when there is no GPU (default 1). */
  static async detect(slots?: number): Promise<SlotPool> {
    const gpus = await detectGpus();
    if (gpus.length) return new SlotPool(slots === undefined ? gpus : gpus.slice(0, slots), true);
    return new SlotPool(Array.from({ length: slots ?? 1 }, (_, i) => `cpu${i}`), false);
  }

  get size(): number {
    return this.ids.length;
  }

  get available(): number {
    return this.free.length;
  }

  /**
   * n slots; waits while fewer are free (calling `beat` every second). A GPU pool smaller than n rejects at once;
   * a CPU pool smaller than n gives the run all its slots (its processes share the CPUs: how a multi-process
   * run is tested on a machine without GPUs).
   */
  async acquire(want: number, beat: () => void = () => undefined, signal?: AbortSignal): Promise<string[]> {
    if (want > this.ids.length && this.gpus) {
      throw ApplicationFailure.nonRetryable(`training.gpusPerRun ${want}: this worker has ${this.ids.length} GPU(s)`, 'TrainingInputError');
    }
    const n = Math.min(want, this.ids.length);
    if (this.waiting.length === 0 && this.free.length >= n) return this.free.splice(0, n);
    return new Promise<string[]>((resolve, reject) => {
      const ticker = setInterval(beat, 1000);
      const entry = {
        n,
        grant: (ids: string[]) => {
          clearInterval(ticker);
          signal?.removeEventListener('abort', onAbort);
          resolve(ids);
        },
      };
      const onAbort = () => {
        clearInterval(ticker);
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        this.serve(); // a large run leaving the head of the line may unblock smaller ones
        reject(new CancelledFailure('cancelled while waiting for a training slot'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  release(ids: readonly string[]): void {
    for (const id of ids) if (this.ids.includes(id) && !this.free.includes(id)) this.free.push(id);
    // keep the pool's own order, so a run takes the lowest free GPUs
    this.free.sort((a, b) => this.ids.indexOf(a) - this.ids.indexOf(b));
    this.serve();
  }

  private serve(): void {
    while (this.waiting.length && this.free.length >= this.waiting[0]!.n) {
      const w = this.waiting.shift()!;
      w.grant(this.free.splice(0, w.n));
    }
  }
}

let defaultPool: Promise<SlotPool> | undefined;
/** The pool of activities registered without one (runTraining used directly): sized from the GPUs, one slot on CPU. */
export function defaultSlotPool(): Promise<SlotPool> {
  defaultPool ??= SlotPool.detect();
  return defaultPool;
}

const running = new Set<number>();
/** SIGTERM every running trainer (worker shutdown): each checkpoints, the attempt fails retryably, a retry resumes. */
export function preemptAllTrainers(): void {
  for (const pgid of running) {
    try {
      process.kill(-pgid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
}

// ---- S3 ⇄ local ----------------------------------------------------------------------------------

/** Deterministic tar (sorted names, fixed mtime/owner) of parent/name into outFile, so equal files give equal keys. */
async function tarTo(parent: string, name: string, outFile: string): Promise<void> {
  await execFileP('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', parent, '-cf', outFile, name]);
}

/** Content-addressed upload of a file, streamed, through the store's one put path (SSE on). */
async function putFile(kind: string, file: string, ext: string): Promise<string> {
  return (await artifactStore().putFile(kind, file, { ext, contentType: 'application/x-tar' })).key;
}

/** Tar parent/name and upload it; returns the content-addressed key. */
async function putDir(kind: string, parent: string, name: string, scratch: string): Promise<string> {
  const f = path.join(scratch, `.upload-${name}-${Date.now()}.tar`);
  try {
    await tarTo(parent, name, f);
    return await putFile(kind, f, '.tar');
  } finally {
    await fs.promises.rm(f, { force: true });
  }
}

/** Download a tar object (streamed) and extract it into dest; false when the key does not exist. */
async function getTar(key: string, dest: string): Promise<boolean> {
  const store = artifactStore();
  if (!(await store.exists(key))) return false;
  await fs.promises.mkdir(dest, { recursive: true });
  const f = path.join(dest, '.incoming.tar');
  await pipeline(await store.getStream(key), fs.createWriteStream(f));
  await execFileP('tar', ['-xf', f, '-C', dest]);
  await fs.promises.rm(f, { force: true });
  return true;
}

const building = new Map<string, Promise<void>>();
/**
 * A cache dir built once: runs side by side on one worker (a pool of slots) share one build of it; the build
 * goes to a temp dir renamed into place, so no reader sees half of it. `done`: the file that marks it complete.
 */
async function buildOnce(dir: string, done: string, build: (tmp: string) => Promise<void>): Promise<void> {
  if (fs.existsSync(path.join(dir, done))) return;
  let p = building.get(dir);
  if (!p) {
    p = (async () => {
      const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
      try {
        await build(tmp);
        // another process may have finished the same dir meanwhile: keep its copy
        if (!fs.existsSync(path.join(dir, done))) {
          await fs.promises.rm(dir, { recursive: true, force: true });
          await fs.promises.rename(tmp, dir);
        }
      } finally {
        building.delete(dir);
        await fs.promises.rm(tmp, { recursive: true, force: true });
      }
    })();
    building.set(dir, p);
  }
  await p;
}

/** An adapter (or model) tar from S3, unpacked once per key into the work root; returns its dir. */
export async function fetchAdapterDir(key: string): Promise<string> {
  const dir = path.join(workRoot(), 'adapters', sha256Hex(Buffer.from(key)).slice(0, 20));
  await fs.promises.mkdir(path.dirname(dir), { recursive: true });
  await buildOnce(dir, '.complete', async (tmp) => {
    if (!(await getTar(key, tmp))) throw ApplicationFailure.nonRetryable(`adapter ${key} not found in S3`, 'TrainingInputError');
    await fs.promises.writeFile(path.join(tmp, '.complete'), key);
  });
  return modelRootIn(dir);
}

function modelRootIn(dir: string): string {
  if (fs.existsSync(path.join(dir, 'config.json')) || fs.existsSync(path.join(dir, 'adapter_config.json'))) return dir;
  const subs = fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory());
  for (const s of subs) {
    const p = path.join(dir, s.name);
    if (fs.existsSync(path.join(p, 'config.json')) || fs.existsSync(path.join(p, 'adapter_config.json'))) return p;
  }
  throw ApplicationFailure.nonRetryable(`no config.json / adapter_config.json in ${dir}`, 'TrainingInputError');
}

async function runPython(args: string[], what: string): Promise<void> {
  try {
    // env: the current environment, explicitly (a test sandbox may hold its own copy of process.env)
    await execFileP(trainerPython(), ['-m', 'trainer', ...args], { cwd: PROJECT_ROOT, maxBuffer: 16 << 20, env: process.env });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    const last = (err.stderr ?? err.message).trim().split('\n').pop();
    throw ApplicationFailure.retryable(`${what} failed: ${last}`, 'TrainerFailed');
  }
}

/** The base model dir: a local path, an S3 tar (cached by key), or the tiny model (cached by seed). */
export async function resolveBaseModel(baseModel: string | undefined, seed: number): Promise<string> {
  const models = path.join(workRoot(), 'models');
  await fs.promises.mkdir(models, { recursive: true });
  if (!baseModel) {
    // cached per seed and per version of the tiny builders (a changed builder makes another model)
    const builders = ['tiny.py', 'families.py'].map((f) => fs.readFileSync(path.join(PROJECT_ROOT, 'trainer', f)));
    const dir = path.join(models, `tiny-llava-${sha256Hex(Buffer.concat(builders)).slice(0, 12)}-seed${seed}`);
    await buildOnce(dir, 'model.safetensors', (tmp) => runPython(['init-tiny', '--out', tmp, '--seed', String(seed)], 'init-tiny'));
    return dir;
  }
  if (path.isAbsolute(baseModel) || baseModel.startsWith('.')) {
    if (!fs.existsSync(path.join(baseModel, 'config.json'))) {
      throw ApplicationFailure.nonRetryable(`baseModel ${baseModel}: no config.json there`, 'TrainingInputError');
    }
    return path.resolve(baseModel);
  }
  const dir = path.join(models, sha256Hex(Buffer.from(baseModel)).slice(0, 20));
  await buildOnce(dir, '.complete', async (tmp) => {
    if (!(await getTar(baseModel, tmp))) throw ApplicationFailure.nonRetryable(`baseModel: no local dir and no S3 object ${baseModel}`, 'TrainingInputError');
    await fs.promises.writeFile(path.join(tmp, '.complete'), baseModel);
  });
  return modelRootIn(dir);
}

function extOf(key: string): string {
  const m = /\.[A-Za-z0-9]{1,5}$/.exec(key);
  return m ? m[0].toLowerCase() : '.img';
}

/** A pair (or SFT example) left out of training because of its data, with the reason. */
export interface StagingQuarantine {
  id: string;
  reason: string;
}

/**
 * Download the set and every image it names; rewrite image keys to local paths. Every image is decoded
 * once by the canonical rule (lib/canonical-image.ts, the trainer's rule too): a record whose image x or
 * rejected image x* is missing or does not decode is quarantined with its reason (a data fault of that
 * pair, issue 13) instead of failing the run; a set with no record left fails as TrainingInputError.
 */
async function stageDataset(datasetKey: string, dir: string, beat: () => void): Promise<{ file: string; records: number; quarantined: StagingQuarantine[] }> {
  const store = artifactStore();
  const raw = await store.tryGetBytes(datasetKey);
  if (!raw) throw ApplicationFailure.nonRetryable(`dataset ${datasetKey} not found in S3`, 'TrainingInputError');
  const text = raw.toString('utf8');
  let records: Record<string, unknown>[];
  try {
    records = text.trimStart().startsWith('[')
      ? (JSON.parse(text) as Record<string, unknown>[])
      : text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>);
  } catch (e) {
    throw ApplicationFailure.nonRetryable(`dataset ${datasetKey}: not JSON lines (${(e as Error).message})`, 'TrainingInputError');
  }
  if (records.length === 0) throw ApplicationFailure.nonRetryable(`dataset ${datasetKey} is empty`, 'TrainingInputError');
  const imgDir = path.join(dir, 'images');
  await fs.promises.mkdir(imgDir, { recursive: true });
  const keys = new Map<string, string>();
  for (const [i, r] of records.entries()) {
    for (const field of ['image', 'rejected_image']) {
      const k = r[field];
      if (k === undefined || k === null) continue;
      if (typeof k !== 'string') throw ApplicationFailure.nonRetryable(`dataset record ${String(r.id ?? i)}: ${field} must be an S3 key`, 'TrainingInputError');
      if (!keys.has(k)) keys.set(k, path.join(imgDir, sha256Hex(Buffer.from(k)).slice(0, 24) + extOf(k)));
    }
  }
  const todo = [...keys.entries()];
  const bad = new Map<string, string>(); // image key → why it cannot be trained on
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < todo.length) {
      const [k, local] = todo[next++];
      const bytes = await store.tryGetBytes(k);
      if (!bytes) {
        bad.set(k, `MissingArtifact: image ${k} not found in S3`);
        continue;
      }
      try {
        await decodeCanonical(bytes);
      } catch (e) {
        if (!(e instanceof BadImageError)) throw e;
        bad.set(k, `BadImage: ${k} does not decode (${e.message})`);
        continue;
      }
      await fs.promises.writeFile(local, bytes);
      if (++done % 50 === 0) beat();
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, todo.length) }, worker));
  const quarantined: StagingQuarantine[] = [];
  const kept = records.filter((r, i) => {
    const why = (['image', 'rejected_image'] as const).map((f) => (typeof r[f] === 'string' && bad.has(r[f] as string) ? `${f === 'image' ? 'image x' : 'rejected image x*'}: ${bad.get(r[f] as string)}` : undefined)).filter(Boolean);
    if (why.length) quarantined.push({ id: String(r.id ?? i), reason: why.join('; ') });
    return !why.length;
  });
  if (!kept.length) throw ApplicationFailure.nonRetryable(`dataset ${datasetKey}: no record left to train on (${quarantined[0]?.reason})`, 'TrainingInputError');
  const out = kept.map((r) => {
    const c = { ...r };
    for (const field of ['image', 'rejected_image']) if (typeof c[field] === 'string') c[field] = keys.get(c[field] as string);
    return JSON.stringify(c);
  });
  const file = path.join(dir, 'data.jsonl');
  await fs.promises.writeFile(file, out.join('\n') + '\n');
  return { file, records: kept.length, quarantined };
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

async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function downsample(xs: number[], max = 2000): number[] {
  if (xs.length <= max) return xs;
  const step = xs.length / max;
  return Array.from({ length: max }, (_, i) => xs[Math.floor(i * step)]);
}

interface ProgressEvent {
  event: string;
  step?: number;
  totalSteps?: number;
  loss?: number;
  rewardMargin?: number;
  rewardAccuracy?: number;
  checkpoint?: string;
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

    const child = spawn(trainerPython(), args, {
      cwd: PROJECT_ROOT,
      detached: true, // own process group: cancellation signals the whole group
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        PYTHONUNBUFFERED: '1',
        MMEDPO_PARENT_PID: String(process.pid),
        CUDA_VISIBLE_DEVICES: gpus ? gpus.join(',') : '',
        // accelerate launch: time the processes get to checkpoint after SIGTERM before torchrun kills them
        TORCH_ELASTIC_SHUTDOWN_TIMEOUT: process.env.TORCH_ELASTIC_SHUTDOWN_TIMEOUT ?? '270',
      },
    });
    const pgid = child.pid!;
    running.add(pgid);
    const stderrTail: string[] = [];
    const echo = process.env.MMEDPO_TRAINER_LOGS === '1';
    readline.createInterface({ input: child.stderr! }).on('line', (l) => {
      if (echo) process.stderr.write(`[trainer ${safe}] ${l}\n`);
      stderrTail.push(l);
      if (stderrTail.length > 40) stderrTail.shift();
    });
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
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      let ev: ProgressEvent;
      try {
        ev = JSON.parse(line) as ProgressEvent;
      } catch {
        return; // not a progress line
      }
      if (ev.event === 'preempted') preempted = true; // exit code 75, or the launcher's own after SIGTERM
      if (ev.event === 'step') {
        last = { ...last, step: ev.step ?? last.step, totalSteps: ev.totalSteps, loss: ev.loss, rewardMargin: ev.rewardMargin, rewardAccuracy: ev.rewardAccuracy };
      }
      if (ev.checkpoint && (ev.event === 'step' || ev.event === 'checkpoint')) {
        pendingCkpt = { dir: ev.checkpoint, step: ev.step ?? last.step };
        uploader ??= drain();
      }
      beat();
    });
    const onAbort = () => {
      try {
        process.kill(-pgid, 'SIGTERM');
      } catch {
        /* gone */
      }
    };
    // Liveness while the trainer is alive (its imports and data loading can outlast a heartbeat timeout);
    // a trainer silent on stdout for MMEDPO_TRAINER_STALL_S (default 30 min) is killed as hung.
    const stallMs = Number(process.env.MMEDPO_TRAINER_STALL_S ?? 1800) * 1000;
    let lastLine = Date.now();
    child.stdout!.on('data', () => (lastLine = Date.now()));
    let stalled = false;
    const ticker = setInterval(() => {
      if (Date.now() - lastLine > stallMs && !stalled) {
        stalled = true;
        try {
          process.kill(-pgid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      beat();
    }, 1000);
    const signal = cancellationSignal();
    signal.addEventListener('abort', onAbort);
    const code: number | null = await new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c, sig) => resolve(c ?? (sig ? 128 + (os.constants.signals[sig] ?? 0) : null)));
    });
    clearInterval(ticker);
    signal.removeEventListener('abort', onAbort);
    running.delete(pgid);
    await new Promise((r) => setImmediate(r)); // let the last stdout lines be parsed
    while (uploader) await uploader;
    if (uploadFailures.length) process.stderr.write(`training ${safe}: ${uploadFailures.length} checkpoint upload(s) failed: ${uploadFailures[0]}\n`);
    const why = stderrTail.filter((l) => l.trim()).slice(-1)[0] ?? '';

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
