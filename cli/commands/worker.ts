import { Command } from 'commander';
import type { Worker } from '@temporalio/worker';
import { loadCampaignConfig } from '../../lib/config-file';
import { createCurationWorker } from '../../workers/curation';
import { createModelWorkers } from '../../workers/models';
import { createTrainingWorker, describeSlots, parseSlots } from '../../workers/training';
import { stopServedModels } from '../../activities/served-model';
import { deploymentLabel, type VersioningOptions } from '../../lib/temporal';
import { action, UserError } from '../util';

const KINDS = ['curation', 'training', 'models'] as const;

export function register(program: Command): void {
  program
    .command('worker')
    .description(
      'run a worker in the foreground: curation (workflows + CPU activities), training (the GPU pool: one slot per GPU, trainer child processes), models (one worker per model-role queue, rate-limited per role)',
    )
    .argument('<kind>', KINDS.join(' | '))
    .option('--task-queue <q>', 'override the task queue (curation, training)')
    .option('--slots <n>', 'training: runs side by side (default: one per GPU, MMEDPO_GPUS overrides; 1 without a GPU), e.g. for a CPU test')
    .option('--config <file>', 'campaign config: model roles and queue prefix (models); queue prefix (curation, training)')
    .option('--build-id <id>', 'Worker Versioning build id (default env MMEDPO_BUILD_ID, else package version + git commit)')
    .option('--no-make-current', 'start without making this build the current version of the deployment (new campaigns keep going to the current one; `temporal worker deployment set-current-version` later)')
    .addHelpText(
      'after',
      '\nWorker Versioning: every worker polls as deployment <queuePrefix>mmedpo, build <version>+<commit>; a campaign stays on the build it started on.\nMMEDPO_WORKER_VERSIONING=off runs unversioned (clusters without Worker Versioning). See README "Rolling out a fix mid-campaign".',
    )
    .action(
      action(async (kind: string, o: { taskQueue?: string; config?: string; slots?: string; buildId?: string; makeCurrent: boolean }) => {
        if (!(KINDS as readonly string[]).includes(kind)) throw new UserError(`unknown worker kind "${kind}": use ${KINDS.join(', ')}`);
        const cfg = loadCampaignConfig(o.config);
        const prefix = cfg.temporal.queuePrefix;
        const versioning: VersioningOptions = { queuePrefix: prefix, makeCurrent: o.makeCurrent, ...(o.buildId ? { buildId: o.buildId } : {}) };
        let workers: Worker[];
        if (kind === 'curation') workers = [await createCurationWorker({ taskQueue: o.taskQueue ?? `${prefix}curation`, versioning })];
        else if (kind === 'training') {
          let slots: number | undefined;
          try {
            slots = parseSlots(o.slots ?? process.env.MMEDPO_TRAINING_SLOTS);
          } catch (e) {
            throw new UserError((e as Error).message);
          }
          const t = await createTrainingWorker({ taskQueue: o.taskQueue ?? `${prefix}training`, slots, versioning });
          console.error(`training worker: ${describeSlots(t.slots)}`);
          workers = [t.worker];
        } else workers = await createModelWorkers(cfg, { queuePrefix: prefix, versioning });
        console.error(`${kind} worker on task queue ${workers.map((w) => w.options.taskQueue).join(', ')}, ${deploymentLabel(workers[0]!)}${o.makeCurrent || !workers[0]!.options.workerDeploymentOptions?.useWorkerVersioning ? '' : ' (not made current)'}`);
        // SIGINT/SIGTERM: the SDK's default shutdown hooks drain in-flight tasks.
        await Promise.all(workers.map((w) => w.run()));
        stopServedModels();
      }),
    );
}
