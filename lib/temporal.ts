// Temporal client/worker construction shared by the CLI, the worker entry points and tests.
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, WorkerOptions } from '@temporalio/worker';
import { payloadCodecs } from './codec';
import { failureConverter } from './failure-converter';
import { resolveRuntime, Runtime as MmedpoRuntime, TemporalConnection } from './env';

/**
 * The data converter of every client and worker: payloads and failure messages (message and stack
 * trace, via encodeCommonAttributes — in workflows too) are AES-GCM encrypted with the process's
 * payload key ring (lib/codec.ts: MMEDPO_PAYLOAD_KEYS, MMEDPO_PAYLOAD_KEY_FILE or the stack's key file). Undefined
 * only with the explicit opt-out MMEDPO_PAYLOAD_ENCRYPTION=off. Throws when no key is found.
 * `env`: whose keys (a test driving a second stack passes that stack's env).
 */
export function dataConverter(env: NodeJS.ProcessEnv = process.env) {
  const codecs = payloadCodecs(env);
  // failureConverterPath: the workflow sandbox's copy (bundled by Worker.create from workflowsPath;
  // a prebuilt bundle must be built with it, see test/helpers/temporal.ts).
  return codecs.length ? { payloadCodecs: codecs, failureConverter, failureConverterPath: FAILURE_CONVERTER_PATH } : undefined;
}

export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

export const WORKFLOWS_PATH = path.resolve(__dirname, '../workflows/index.ts');

/** The options both `Connection.connect` and `NativeConnection.connect` take from a resolved connection (lib/env.ts). */
export function connectionOptions(t: TemporalConnection): { address: string; tls?: TemporalConnection['tls']; apiKey?: string; metadata?: Record<string, string> } {
  return { address: t.address, ...(t.tls !== undefined ? { tls: t.tls } : {}), ...(t.apiKey !== undefined ? { apiKey: t.apiKey } : {}), ...(t.metadata ? { metadata: t.metadata } : {}) };
}

/** "cannot reach Temporal at ADDRESS (from SOURCE): first line of the cause — what to do". */
function unreachable(t: TemporalConnection, e: Error): Error {
  const hint = t.source === 'the local stack' || t.source === 'the default address' ? 'run `npx mmedpo stack up`, or set TEMPORAL_ADDRESS / an envconfig profile' : 'check the address, TLS and API key';
  return new Error(`cannot reach Temporal at ${t.address} (from ${t.source}; ${e.message.split('\n')[0]}) — ${hint}`);
}

export async function connectClient(rt: MmedpoRuntime = resolveRuntime()): Promise<Client> {
  const t = rt.temporal;
  const connection = await Connection.connect({ ...connectionOptions(t), connectTimeout: '5s' }).catch((e: Error) => {
    throw unreachable(t, e);
  });
  return new Client({ connection, namespace: t.namespace, dataConverter: dataConverter() });
}

let runtimeInstalled = false;
/** Quiet core logs unless asked (they go to stderr and drown CLI output). */
export function installRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    const level = (process.env.MMEDPO_LOG_LEVEL as 'WARN' | undefined) ?? 'WARN';
    // Core's own lines (e.g. TMPRL1104 "workflow task exceeded 5 s" while local activities run on a
    // busy machine) follow the same level; connection errors are ERROR and always show.
    Runtime.install({ logger: new DefaultLogger(level), telemetryOptions: { logging: { filter: { core: level, other: level }, console: {} } } });
  } catch {
    /* already installed */
  }
}

export async function createWorker(o: Omit<WorkerOptions, 'connection'>, rt: MmedpoRuntime = resolveRuntime()): Promise<Worker> {
  installRuntime();
  const t = rt.temporal;
  const connection = await NativeConnection.connect(connectionOptions(t)).catch((e: Error) => {
    throw unreachable(t, e);
  });
  return Worker.create({ connection, namespace: t.namespace, dataConverter: dataConverter(), ...o });
}
