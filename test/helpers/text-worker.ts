// A text-branch worker process for integration tests (run with `npx tsx`, so a test can SIGKILL it):
// the workflow worker (textItemWorkflow + the D_t storage activities) on MMEDPO_TEXT_WF_QUEUE and the
// per-role model workers on MMEDPO_QUEUE_PREFIX + model-<role>. The workflow code comes prebundled
// (MMEDPO_WORKFLOW_BUNDLE = path of the bundle file) so a restart does not pay webpack again.
import * as fs from 'node:fs';
import { storeDebateTranscript, storeTextPair } from '../../activities/text';
import { parseCampaignConfig } from '../../core/config';
import { createWorker } from '../../lib/temporal';
import { modelActivities } from '../../activities/models';
import { createModelWorkers } from '../../workers/models';

async function main(): Promise<void> {
  const need = (k: string) => {
    const v = process.env[k];
    if (!v) throw new Error(`${k} is not set`);
    return v;
  };
  const config = parseCampaignConfig(JSON.parse(fs.readFileSync(need('MMEDPO_CONFIG'), 'utf8')));
  const wf = await createWorker({
    taskQueue: need('MMEDPO_TEXT_WF_QUEUE'),
    workflowBundle: { codePath: need('MMEDPO_WORKFLOW_BUNDLE') },
    activities: { storeTextPair, storeDebateTranscript, ...modelActivities },
  });
  const models = await createModelWorkers(config, { queuePrefix: need('MMEDPO_QUEUE_PREFIX') });
  console.log('text worker ready');
  await Promise.all([wf.run(), ...models.map((w) => w.run())]);
}

main().catch((e: Error) => {
  console.error(`text worker: ${e.message.split('\n')[0]}`);
  process.exit(1);
});
