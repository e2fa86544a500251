// Records a textItemWorkflow history (offline roles: placeholder target, perturbation judge, heuristic
// agents) for the replay test. Run after changing workflows/text.ts or workflows/debate.ts on purpose:
// `npx tsx test/histories/record-text.ts` (stack from TEMPORAL_ADDRESS / S3 env or the dev stack).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { storeDebateTranscript, storeTextPair } from '../../activities/text';
import { parseCampaignConfig } from '../../core/config';
import { artifactStore, resolveRuntime } from '../../lib/env';
import { connectClient, createWorker, WORKFLOWS_PATH } from '../../lib/temporal';
import { modelActivities } from '../../activities/models';
import { createModelWorkers } from '../../workers/models';

// Saved histories are replayed by CI with no key: record them in plaintext (README: the opt-out).
process.env.MMEDPO_PAYLOAD_ENCRYPTION = 'off';

async function main(): Promise<void> {
  const rt = resolveRuntime();
  const stamp = Date.now().toString(36);
  const taskQueue = `record-text-${stamp}`;
  const prefix = `record-text-${stamp}-`;
  const config = parseCampaignConfig({});
  const wf = await createWorker({ taskQueue, workflowsPath: WORKFLOWS_PATH, activities: { storeTextPair, storeDebateTranscript, ...modelActivities } });
  const models = await createModelWorkers(config, { queuePrefix: prefix });
  const client = await connectClient(rt);
  const workflowId = `record-text-item-${stamp}`;
  const run = Promise.all([wf.run(), ...models.map((w) => w.run())]);
  const r = await client.workflow.execute('textItemWorkflow', {
    taskQueue,
    workflowId,
    args: [
      {
        campaignSeed: 1,
        itemId: 'record-1',
        textKey: (await artifactStore().putJson('item-texts', { id: 'record-1', kind: 'report', answer: 'Large right pneumothorax with mediastinal shift.' })).key,
        kind: 'report',
        config: { models: config.models, curation: config.curation, debate: config.debate },
        alsoSingleAgent: true,
        queuePrefix: prefix,
      },
    ],
  });
  wf.shutdown();
  for (const w of models) w.shutdown();
  await run;
  const temporal = path.resolve(__dirname, '../../.mmedpo/bin/temporal');
  const json = execFileSync(temporal, ['workflow', 'show', '--address', rt.temporal.address, '-w', workflowId, '--output', 'json'], { maxBuffer: 256 << 20 });
  fs.writeFileSync(path.join(__dirname, 'text-item-offline.json'), json);
  console.log(`recorded text-item-offline.json: ${JSON.stringify(r)}`);
  await client.connection.close();
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exit(1);
});
