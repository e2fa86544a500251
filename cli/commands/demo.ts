import * as path from 'node:path';
import { Command } from 'commander';
import type { Worker } from '@temporalio/worker';
import type { CampaignResult } from '../../core/contracts';
import { stackUp, PROJECT_ROOT } from '../../infra/stack';
import { loadCampaignConfig } from '../../lib/config-file';
import { resolveRuntime, workflowUrl } from '../../lib/env';
import { connectClient } from '../../lib/temporal';
import { createCurationWorker } from '../../workers/curation';
import { createModelWorkers } from '../../workers/models';
import { createTrainingWorker } from '../../workers/training';
import { stopServedModels } from '../../activities/served-model';
import { action, printJson } from '../util';
import { progressOf, renderProgress, saveReport, startCampaign } from './campaign';

export const DEMO_CONFIG = path.join(PROJECT_ROOT, 'configs', 'demo.yaml');

export function register(program: Command): void {
  program
    .command('demo')
    .description('the embedded default: local stack, in-process workers, a whole offline campaign on a fresh phantom set, then the results table')
    .option('--config <file>', 'campaign config', DEMO_CONFIG)
    .option('--json', 'print the final result as JSON')
    .action(
      action(async (o: { config: string; json?: boolean }) => {
        // The demo's output is the progress display: worker warnings (e.g. "no workflows registered"
        // on the model queues) would drown it. MMEDPO_LOG_LEVEL=WARN brings them back.
        process.env.MMEDPO_LOG_LEVEL ??= 'ERROR';
        const cfg = loadCampaignConfig(o.config);
        const stack = await stackUp();
        if (!o.json) console.error(`stack up: Temporal ${stack.temporalAddress}, Web UI ${stack.uiUrl}, MinIO ${stack.s3Endpoint}`);
        const workers: Worker[] = [
          await createCurationWorker(),
          (await createTrainingWorker({})).worker,
          ...(await createModelWorkers(cfg, { queuePrefix: cfg.temporal.queuePrefix })),
        ];
        const runs = workers.map((w) => w.run());
        const client = await connectClient();
        try {
          const started = await startCampaign(client, cfg);
          if (!o.json) console.error(`campaign ${started.campaignId} started: ${started.url}`);
          const handle = client.workflow.getHandle(started.campaignId);
          const tty = process.stderr.isTTY;
          let last = '';
          const timer = setInterval(() => {
            progressOf(client, started.campaignId)
              .then(({ progress: p, status }) => {
                const text = renderProgress(p, status);
                if (o.json || text === last) return;
                last = text;
                process.stderr.write(tty ? `\x1b[2J\x1b[H${text}\n` : `${text}\n\n`);
              })
              .catch(() => undefined);
          }, tty ? 1000 : 15000);
          const result = (await handle.result()) as CampaignResult;
          clearInterval(timer);
          const files = await saveReport(result);
          const url = workflowUrl(resolveRuntime(), started.campaignId);
          if (o.json) return printJson({ ...result, files, url });
          console.log(result.table);
          console.log(`\nreport    ${files.html}`);
          console.log(`table     ${files.markdown}`);
          console.log(`web ui    ${url}`);
        } finally {
          await client.connection.close();
          for (const w of workers) w.shutdown();
          await Promise.allSettled(runs);
          // The served SFT target is a child process of this one: stop it, or it keeps node alive.
          stopServedModels();
        }
      }),
    );
}
