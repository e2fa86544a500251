// Fetches the histories of the given workflow ids from the running server and replays each against
// the current workflow code (`npx tsx test/histories/replay-live.ts ID...`; exit 1 on the first that
// does not replay). Tests use it to check that a run replays — what a restarted worker or an evicted
// workflow cache does — beyond the saved histories. A plain process: protobufjs misbehaves in jest.
import * as path from 'node:path';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { connectClient, dataConverter } from '../../lib/temporal';

async function main(): Promise<void> {
  const ids = process.argv.slice(2);
  if (!ids.length) throw new Error('usage: replay-live.ts WORKFLOW_ID...');
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const client = await connectClient();
  const histories = await Promise.all(ids.map(async (workflowId) => ({ workflowId, history: await client.workflow.getHandle(workflowId).fetchHistory() })));
  let failed = 0;
  for await (const r of Worker.runReplayHistories({ workflowsPath: path.resolve(__dirname, '../../workflows/index.ts'), dataConverter: dataConverter() }, histories)) {
    if (r.error) {
      failed++;
      console.error(`${r.workflowId}: ${r.error.message}`);
    }
  }
  console.log(`${ids.length - failed}/${ids.length} histories replayed`);
  await client.connection.close();
  process.exit(failed ? 1 : 0);
}
main().catch((e: Error) => {
  console.error(`replay-live: ${e.message}`);
  process.exit(1);
});
