// The curation worker: every workflow, plus the CPU curation activities (ingest,
// visual branch, debate orchestration helpers). Run: `npx mmedpo worker curation`.
import type { Worker } from '@temporalio/worker';
import * as activities from '../activities';
import { TASK_QUEUES } from '../core/queues';
import { createWorker, deploymentLabel, WORKFLOWS_PATH, type VersioningOptions } from '../lib/temporal';

export interface CurationWorkerOptions {
  taskQueue?: string;
  maxConcurrentActivities?: number;
  /** Worker Versioning (default on: deployment `${queuePrefix}mmedpo`, this checkout's build, PINNED; lib/temporal.ts). */
  versioning?: VersioningOptions | false;
}

export async function createCurationWorker(o: CurationWorkerOptions = {}): Promise<Worker> {
  return createWorker({
    taskQueue: o.taskQueue ?? TASK_QUEUES.curation,
    workflowsPath: WORKFLOWS_PATH,
    activities,
    maxConcurrentActivityTaskExecutions: o.maxConcurrentActivities ?? 8,
    // Lanes run their model calls and the visual tool as local activities (up to N samples + visual each).
    maxConcurrentLocalActivityExecutions: 256,
    shutdownGraceTime: '30s',
    ...(o.versioning !== undefined ? { versioning: o.versioning } : {}),
  });
}

if (require.main === module) {
  createCurationWorker({ taskQueue: process.env.MMEDPO_TASK_QUEUE })
    .then((w) => {
      console.error(`curation worker on task queue ${w.options.taskQueue}, ${deploymentLabel(w)}`);
      return w.run();
    })
    .catch((e: Error) => {
      console.error(`curation worker: ${e.message}`);
      process.exit(1);
    });
}
