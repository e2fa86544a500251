// The training worker (GPU pool): only the training activity, one activity slot per GPU (nvidia-smi;
// one slot in CPU mode), each run pinned to its GPUs with CUDA_VISIBLE_DEVICES: one GPU, or
// training.gpusPerRun of them for a multi-GPU run (accelerate launch; an attempt that finds too few
// free fails retryably and is retried). On SIGTERM/SIGINT the running trainers are told to checkpoint at
// once; shutdownGraceTime leaves time for that and the upload.
// Run: `npx tsx workers/training.ts` (env: MMEDPO_TASK_QUEUE, MMEDPO_GPUS, MMEDPO_PYTHON, MMEDPO_TRAINING_DIR).
import type { Duration } from '@temporalio/common';
import type { Worker } from '@temporalio/worker';
import { evaluateVariant, trainVariant } from '../activities/campaign-training';
import { detectGpus, preemptAllTrainers, runTraining } from '../activities/training';
import { TASK_QUEUES } from '../core/queues';
import { createWorker, deploymentLabel, type VersioningOptions } from '../lib/temporal';

export interface TrainingWorkerOptions {
  taskQueue?: string;
  /** Default: GPU count from nvidia-smi (MMEDPO_GPUS overrides), 1 on a CPU-only machine. */
  slots?: number;
  shutdownGraceTime?: string;
  /** Worker Versioning (default on: deployment `${queuePrefix}mmedpo`, this checkout's build; lib/temporal.ts). */
  versioning?: VersioningOptions | false;
}

export async function createTrainingWorker(o: TrainingWorkerOptions = {}): Promise<{ worker: Worker; gpus: string[] }> {
  const gpus = await detectGpus();
  const slots = o.slots ?? Math.max(1, gpus.length);
  const worker = await createWorker({
    taskQueue: o.taskQueue ?? TASK_QUEUES.training,
    // runTraining for direct use; the campaign's train/evaluate steps run here too (they need the trainer).
    activities: { runTraining, trainVariant, evaluateVariant },
    maxConcurrentActivityTaskExecutions: slots,
    // Heartbeats carry checkpoint keys: send them promptly so a crash loses as little as possible.
    maxHeartbeatThrottleInterval: '2s',
    shutdownGraceTime: (o.shutdownGraceTime ?? process.env.MMEDPO_TRAINING_SHUTDOWN_GRACE ?? '5m') as Duration,
    ...(o.versioning !== undefined ? { versioning: o.versioning } : {}),
  });
  return { worker, gpus };
}

if (require.main === module) {
  createTrainingWorker({ taskQueue: process.env.MMEDPO_TASK_QUEUE })
    .then(({ worker, gpus }) => {
      for (const s of ['SIGTERM', 'SIGINT'] as const) process.on(s, preemptAllTrainers);
      console.error(`training worker on task queue ${worker.options.taskQueue}, ${deploymentLabel(worker)}: ${gpus.length ? `GPUs ${gpus.join(',')}` : 'CPU mode, 1 slot'}`);
      return worker.run();
    })
    .catch((e: Error) => {
      console.error(`training worker: ${e.message}`);
      process.exit(1);
    });
}
