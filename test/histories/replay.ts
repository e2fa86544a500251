// Replays every saved history against the current workflow code. Exit 1 on the
// first non-determinism. (A plain process: protobufjs misbehaves inside jest's VM.)
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const files = fs.readdirSync(__dirname).filter((f) => f.endsWith('.json'));
  // Workflows that derive child ids from their own id replay under the id they were recorded with
  // (workflow-ids.tsv: file<TAB>workflow id, written by the record scripts).
  const ids = new Map<string, string>();
  const idFile = path.join(__dirname, 'workflow-ids.tsv');
  if (fs.existsSync(idFile)) for (const line of fs.readFileSync(idFile, 'utf8').split('\n').filter(Boolean)) ids.set(line.split('\t')[0]!, line.split('\t')[1]!);
  const fileOf = new Map(files.map((f) => [ids.get(f) ?? f, f]));
  const histories = files.map((f) => ({ workflowId: ids.get(f) ?? f, history: JSON.parse(fs.readFileSync(path.join(__dirname, f), 'utf8')) as unknown }));
  let failed = 0;
  for await (const r of Worker.runReplayHistories({ workflowsPath: path.resolve(__dirname, '../../workflows/index.ts') }, histories)) {
    if (r.error) failed++;
    console.log(JSON.stringify({ history: fileOf.get(r.workflowId) ?? r.workflowId, ok: !r.error, error: r.error ? String(r.error.message ?? r.error) : undefined }));
  }
  process.exit(failed ? 1 : 0);
}
void main();
