// Integration-test plumbing against the real test stack started by global-setup.
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker, WorkerOptions, DefaultLogger, Runtime } from '@temporalio/worker';
import { resolveTemporalConnection, TemporalConnection } from '../../lib/env';
import { connectionOptions, dataConverter } from '../../lib/temporal';

let runtimeInstalled = false;
function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    /* already installed in this process */
  }
}

/** The test stack's connection, through the same resolver as the CLI and the workers (global-setup sets TEMPORAL_ADDRESS). */
export function testConnection(): TemporalConnection {
  if (!process.env.TEMPORAL_ADDRESS && !process.env.TEMPORAL_CONFIG_FILE) throw new Error('TEMPORAL_ADDRESS unset: integration tests need test/global-setup.ts');
  return resolveTemporalConnection();
}

/** host:port of the test stack's Temporal (for the `temporal` CLI). */
export function temporalAddress(): string {
  return testConnection().address;
}

export async function connectClient(): Promise<{ client: Client; connection: Connection }> {
  const t = testConnection();
  const connection = await Connection.connect(connectionOptions(t));
  return { client: new Client({ connection, namespace: t.namespace, dataConverter: dataConverter() }), connection };
}

let bundlePromise: ReturnType<typeof bundleWorkflowCode> | undefined;
/** The workflow bundle, built once per test file (webpack is slow). */
export function workflowBundle(): ReturnType<typeof bundleWorkflowCode> {
  bundlePromise ??= bundleWorkflowCode({ workflowsPath: path.resolve(__dirname, '../../workflows/index.ts'), failureConverterPath: dataConverter()?.failureConverterPath, logger: new DefaultLogger('WARN') });
  return bundlePromise;
}

/** A worker on a unique task queue (so parallel test files never steal each other's tasks). */
export async function makeWorker(o: Omit<WorkerOptions, 'connection' | 'workflowBundle' | 'workflowsPath'> & { withWorkflows?: boolean }): Promise<{ worker: Worker; connection: NativeConnection }> {
  quietRuntime();
  const t = testConnection();
  const connection = await NativeConnection.connect(connectionOptions(t));
  const { withWorkflows = true, ...rest } = o;
  const worker = await Worker.create({
    connection,
    namespace: t.namespace,
    dataConverter: dataConverter(),
    ...(withWorkflows ? { workflowBundle: await workflowBundle() } : {}),
    ...rest,
  });
  return { worker, connection };
}

export function uniqueQueue(name: string): string {
  return `${name}-${process.pid}-${Date.now().toString(36)}`;
}
