// The curation worker: every workflow, plus the CPU curation activities (ingest,
// visual branch, the text branch's S3 puts). Run: `npx mmedpo worker curation`.
import type { Worker } from '@temporalio/worker';
import * as campaign from '../activities/campaign';
import { scorePredictions } from '../activities/evaluation';
import * as ingest from '../activities/ingest';
import * as text from '../activities/text';
import * as visual from '../activities/visual';
import { TASK_QUEUES } from '../core/queues';
import { createWorker, deploymentLabel, WORKFLOWS_PATH, type VersioningOptions } from '../lib/temporal';

// The training queue's steps of the campaign (activities/campaign.ts re-exports them for the workflows' types)
// run on the training worker only, where the trainer and the GPU slots are.
const { trainVariant: _train, evaluateVariant: _evaluate, ...campaignActivities } = campaign;

/**
 * What the curation worker registers: ingest, the visual branch, the campaign's CPU steps (prepare, plan,
 * shards, preference sets, report), the text branch's S3 puts and scoring. No model call (the model
 * workers serve every role's queue, offline engines included) and no training or evaluation activity
 * (those start trainer processes, on the training worker).
 */
export const curationActivities = { ...ingest, ...visual, ...campaignActivities, ...text, scorePredictions };

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
    activities: curationActivities,
    maxConcurrentActivityTaskExecutions: o.maxConcurrentActivities ?? 8,
    // The text branch's S3 puts are local activities (a pair and one or two transcripts per item).
    maxConcurrentLocalActivityExecutions: 64,
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
