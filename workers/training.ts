// The training worker (GPU pool): the training queue's activities (training runs and evaluations: every trainer
// process), one activity slot per GPU (nvidia-smi, or MMEDPO_GPUS; one slot in CPU mode, or `slots`), each run
// pinned to its GPUs with CUDA_VISIBLE_DEVICES. A multi-GPU run (training.gpusPerRun) holds that many slots of this
// one worker; a run that finds too few free waits for them on this worker (activities/training.ts SlotPool), so
// a campaign's variants train side by side as far as the pool's slots go and in turn beyond that. On
// SIGTERM/SIGINT the running trainers are told to checkpoint at once; shutdownGraceTime leaves time for that and
// the upload.
// Run: `npx tsx workers/training.ts` (env: MMEDPO_TASK_QUEUE, MMEDPO_GPUS, MMEDPO_TRAINING_SLOTS, MMEDPO_PYTHON, MMEDPO_TRAINING_DIR).
import type { Duration } from '@temporalio/common';
import type { Worker } from '@temporalio/worker';
import { evaluateVariant, trainVariant, type TrainVariantInput } from '../activities/campaign-training';
import { preemptAllTrainers, runTraining, SlotPool, type TrainingInput } from '../activities/training';
import type { EvaluateVariantInput } from '../core/contracts';
import { TASK_QUEUES } from '../core/queues';
import { createWorker, deploymentLabel, type VersioningOptions } from '../lib/temporal';

export interface TrainingWorkerOptions {
  taskQueue?: string;
  /** Default: GPU count from nvidia-smi (MMEDPO_GPUS overrides), 1 on a CPU-only machine. With GPUs, at most their count. */
  slots?: number;
  shutdownGraceTime?: string;
  /**
   * Minimum seconds per training step of every run on this worker (tests and demos only: on a CPU machine it
   * stands in for a device's step time, which runs side by side do not share as they share the CPUs).
   */
  paceSeconds?: number;
  /** Worker Versioning (default on: deployment `${queuePrefix}mmedpo`, this checkout's build; lib/temporal.ts). */
  versioning?: VersioningOptions | false;
}

/** The training queue's activities, each holding slots of `pool` while its trainer runs. */
export function trainingActivities(pool: SlotPool, paceSeconds?: number) {
  return {
    runTraining: (input: TrainingInput) => runTraining(paceSeconds === undefined || input.paceSeconds !== undefined ? input : { ...input, paceSeconds }, pool),
    trainVariant: (input: TrainVariantInput) => trainVariant(input, pool, paceSeconds),
    evaluateVariant: (input: EvaluateVariantInput) => evaluateVariant(input, pool),
  };
}

export async function createTrainingWorker(o: TrainingWorkerOptions = {}): Promise<{ worker: Worker; gpus: string[]; slots: SlotPool }> {
  if (o.slots !== undefined && !(Number.isInteger(o.slots) && o.slots > 0)) throw new Error(`training worker slots must be a positive integer, got ${o.slots}`);
  const pool = await SlotPool.detect(o.slots);
  const worker = await createWorker({
    taskQueue: o.taskQueue ?? TASK_QUEUES.training,
    // runTraining for direct use; the campaign's train/evaluate steps run here too (they need the trainer).
    activities: trainingActivities(pool, o.paceSeconds),
    // One task per slot: a run waiting on this worker for a multi-GPU run's slots holds a task, so the pool never takes more than it has.
    maxConcurrentActivityTaskExecutions: pool.size,
    // Heartbeats carry checkpoint keys: send them promptly so a crash loses as little as possible.
    maxHeartbeatThrottleInterval: '2s',
    shutdownGraceTime: (o.shutdownGraceTime ?? process.env.MMEDPO_TRAINING_SHUTDOWN_GRACE ?? '5m') as Duration,
    ...(o.versioning !== undefined ? { versioning: o.versioning } : {}),
  });
  return { worker, gpus: pool.gpus ? [...pool.ids] : [], slots: pool };
}

/** `--slots` / MMEDPO_TRAINING_SLOTS: a positive integer, or undefined (size from the GPUs). */
export function parseSlots(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`training slots must be a positive integer, got "${v}"`);
  return n;
}

export function describeSlots(pool: SlotPool): string {
  return pool.gpus ? `${pool.size} slot(s), GPUs ${pool.ids.join(',')}` : `${pool.size} CPU slot(s)`;
}

if (require.main === module) {
  Promise.resolve()
    .then(() => createTrainingWorker({ taskQueue: process.env.MMEDPO_TASK_QUEUE, slots: parseSlots(process.env.MMEDPO_TRAINING_SLOTS) }))
    .then(({ worker, slots }) => {
      for (const s of ['SIGTERM', 'SIGINT'] as const) process.on(s, preemptAllTrainers);
      console.error(`training worker on task queue ${worker.options.taskQueue}, ${deploymentLabel(worker)}: ${describeSlots(slots)}`);
      return worker.run();
    })
    .catch((e: Error) => {
      console.error(`training worker: ${e.message}`);
      process.exit(1);
    });
}
