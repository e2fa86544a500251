// The model workers: one Worker per role queue (model-target, model-judge, model-agent-<i>), each
// serving only the model-call activities, with the role's rate limit as the task-queue limit
// (maxTaskQueueActivitiesPerSecond) — no sleeps in code. API keys are read by the activities from
// process.env[apiKeyEnv] of THIS process at call time.
// Run: `npx tsx workers/models.ts` (env: MMEDPO_CONFIG = config file path, else defaults;
// MMEDPO_QUEUE_PREFIX = optional queue prefix, as given to textItemWorkflow's queuePrefix).
import type { Worker } from '@temporalio/worker';
import { modelActivities } from '../activities/models';
import { stopServedModels } from '../activities/served-model';
import type { CampaignConfig, ModelRole } from '../core/config';
import { modelQueue } from '../core/queues';
import { loadCampaignConfig } from '../lib/config-file';
import { createWorker, deploymentLabel, type VersioningOptions } from '../lib/temporal';

export interface ModelWorkerOptions {
  /** Prefix for every role queue (default env MMEDPO_QUEUE_PREFIX or none). */
  queuePrefix?: string;
  /** Concurrent model calls per role worker. */
  maxConcurrentActivities?: number;
  /** Worker Versioning (default on: deployment `${queuePrefix}mmedpo`, this checkout's build; lib/temporal.ts). */
  versioning?: VersioningOptions | false;
}

/** Role queue names with their role settings, in a fixed order. */
export function modelRoleQueues(config: CampaignConfig, queuePrefix = ''): { queue: string; role: ModelRole }[] {
  return [
    { queue: `${queuePrefix}${modelQueue('target')}`, role: config.models.target },
    { queue: `${queuePrefix}${modelQueue('judge')}`, role: config.models.judge },
    ...config.models.agents.map((role, i) => ({ queue: `${queuePrefix}${modelQueue(`agent-${i}`)}`, role })),
  ];
}

export async function createModelWorkers(config: CampaignConfig, o: ModelWorkerOptions = {}): Promise<Worker[]> {
  const prefix = o.queuePrefix ?? process.env.MMEDPO_QUEUE_PREFIX ?? '';
  const workers: Worker[] = [];
  for (const { queue, role } of modelRoleQueues(config, prefix)) {
    workers.push(
      await createWorker({
        taskQueue: queue,
        activities: modelActivities,
        maxConcurrentActivityTaskExecutions: o.maxConcurrentActivities ?? 16,
        ...(role.rateLimitPerSecond ? { maxTaskQueueActivitiesPerSecond: role.rateLimitPerSecond } : {}),
        shutdownGraceTime: '10s',
        versioning: o.versioning === false ? false : { queuePrefix: prefix, ...o.versioning },
      }),
    );
  }
  return workers;
}

if (require.main === module) {
  (async () => {
    const config = loadCampaignConfig(process.env.MMEDPO_CONFIG || undefined);
    const workers = await createModelWorkers(config);
    console.error(`model workers on ${workers.map((w) => w.options.taskQueue).join(', ')}, ${workers[0] ? deploymentLabel(workers[0]) : 'no queue'}`);
    await Promise.all(workers.map((w) => w.run()));
    stopServedModels(); // the trainer servers of a served target are children of this process
  })().catch((e: Error) => {
    console.error(`model workers: ${e.message.split('\n')[0]}`);
    process.exit(1);
  });
}
