// Records a small campaign's histories for the replay test: the campaign workflow, its first
// curation shard and one text item (the served-SFT-target path, LoRA SFT, evaluation on); with
// `--parallel`, the campaign alone with training runs side by side on a 2-slot training worker and
// training.seeds [0, 1] (campaign-parallel.json).
// Run after changing campaign workflow code on purpose: `npx tsx test/histories/record-campaign.ts [--parallel]`.
// (Old builds' histories are not kept: Worker Versioning pins a running campaign to the build that
// started it, so new code only ever replays histories it made itself.)
// (stack from TEMPORAL_ADDRESS / S3 env or the dev stack).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as activities from '../../activities';
import { parseCampaignConfig } from '../../core/config';
import { configHash } from '../../lib/config-file';
import { resolveRuntime } from '../../lib/env';
import { connectClient, createWorker, WORKFLOWS_PATH } from '../../lib/temporal';
import { createModelWorkers } from '../../workers/models';
import { createTrainingWorker } from '../../workers/training';

// Saved histories are replayed by CI with no key: record them in plaintext (README: the opt-out).
process.env.MMEDPO_PAYLOAD_ENCRYPTION = 'off';

async function main(): Promise<void> {
  const rt = resolveRuntime();
  const parallel = process.argv.includes('--parallel');
  const prefix = `record-campaign-${Date.now().toString(36)}-`;
  const cfg = parseCampaignConfig({
    name: 'record',
    seed: 5,
    dataset: { format: 'phantom', root: path.join(os.tmpdir(), 'mmedpo-phantom-record'), phantom: { studies: 6, size: 128, testFraction: 0.3 }, limit: 8 },
    curation: { shardSize: 4, concurrency: 2, targetFromSft: true },
    training: { learningRate: 1e-3, batchSize: 4, epochs: 1, maxLength: 96, lora: { enabled: true, r: 4, alpha: 8, dropout: 0 }, device: 'cpu', variants: ['base', 'sft', 'dpo', 'mmedpo'], ...(parallel ? { seeds: [0, 1] } : {}) },
    evaluation: { maxNewTokensVqa: 4, temperature: 0 },
    temporal: { queuePrefix: prefix },
  });
  const workers = [
    await createWorker({ taskQueue: `${prefix}curation`, workflowsPath: WORKFLOWS_PATH, activities }),
    (await createTrainingWorker({ taskQueue: `${prefix}training`, ...(parallel ? { slots: 2 } : {}) })).worker,
    ...(await createModelWorkers(cfg, { queuePrefix: prefix })),
  ];
  const runs = workers.map((w) => w.run());
  const client = await connectClient(rt);
  const id = `record-campaign-${Date.now()}`;
  await client.workflow.execute('campaignWorkflow', { taskQueue: `${prefix}curation`, workflowId: id, args: [{ campaignId: id, config: cfg, configHash: configHash(cfg) }] });
  const temporal = path.resolve(__dirname, '../../.mmedpo/bin/temporal');
  const save = (wid: string, name: string) => {
    fs.writeFileSync(path.join(__dirname, `${name}.json`), execFileSync(temporal, ['workflow', 'show', '--address', rt.temporal.address, '-w', wid, '--output', 'json'], { maxBuffer: 256 << 20 }));
    const idFile = path.join(__dirname, 'workflow-ids.tsv');
    const lines = (fs.existsSync(idFile) ? fs.readFileSync(idFile, 'utf8').split('\n') : []).filter((l) => l && !l.startsWith(`${name}.json\t`));
    fs.writeFileSync(idFile, [...lines, `${name}.json\t${wid}`].sort().join('\n') + '\n');
    console.log(`recorded ${wid} → test/histories/${name}.json`);
  };
  if (parallel) save(id, 'campaign-parallel');
  else {
    save(id, 'campaign-small');
    save(`${id}/shard-0000`, 'curation-shard-small');
    let textId = '';
    for await (const w of client.workflow.list({ query: `WorkflowId STARTS_WITH '${id}/shard-0000/text/'` })) textId = w.workflowId;
    save(textId, 'text-item-served-target');
  }
  for (const w of workers) w.shutdown();
  await Promise.all(runs);
  await client.connection.close();
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(e);
    process.exit(1);
  },
);
