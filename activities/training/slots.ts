// GPU slots of a training worker: one per GPU (pinned with CUDA_VISIBLE_DEVICES) or CPU slots; every trainer
// process a training-queue activity starts (a training run, an evaluation) holds slots while it runs.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';

const execFileP = promisify(execFile);

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
