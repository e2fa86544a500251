// Records fresh workflow histories for the replay tests: runs each workflow on
// the stack (TEMPORAL_ADDRESS or the local dev stack) with an in-process
// worker and saves `temporal workflow show --output json` into test/histories/.
// Run after changing workflow code on purpose: `npx tsx test/histories/record.ts`.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as activities from '../../activities';
import { resolveRuntime } from '../../lib/env';
import { connectClient, createWorker, WORKFLOWS_PATH } from '../../lib/temporal';

// Saved histories are replayed by CI with no key: record them in plaintext (README: the opt-out).
process.env.MMEDPO_PAYLOAD_ENCRYPTION = 'off';

const HERE = __dirname;
const ROOT = path.resolve(HERE, '../..');

async function record(name: string, workflowType: string, args: unknown[]): Promise<void> {
  const rt = resolveRuntime();
  const taskQueue = `record-${Date.now()}`;
  const worker = await createWorker({ taskQueue, workflowsPath: WORKFLOWS_PATH, activities });
  const client = await connectClient(rt);
  const workflowId = `record-${name}-${Date.now()}`;
  await worker.runUntil(client.workflow.execute(workflowType, { taskQueue, workflowId, args }));
  const temporal = path.join(ROOT, '.mmedpo', 'bin', 'temporal');
  const json = execFileSync(temporal, ['workflow', 'show', '--address', rt.temporal.address, '-w', workflowId, '--output', 'json'], { maxBuffer: 256 << 20 });
  fs.writeFileSync(path.join(HERE, `${name}.json`), json);
  console.log(`recorded ${name} (${workflowType}) → test/histories/${name}.json`);
  await client.connection.close();
}

async function main(): Promise<void> {
  const sample = path.resolve(ROOT, 'test/fixtures/vqa-rad-sample');
  await record('ingest-vqa-rad-sample', 'ingestWorkflow', [{ format: 'vqa-rad', root: sample, chunkSize: 100 }]);
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exit(1);
});
