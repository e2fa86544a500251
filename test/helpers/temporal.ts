// Integration-test plumbing against the real test stack started by global-setup.
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker, WorkerOptions, DefaultLogger, Runtime } from '@temporalio/worker';
import { dataConverter } from '../../lib/temporal';

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

export function temporalAddress(): string {
  const a = process.env.MMEDPO_TEMPORAL_ADDRESS;
  if (!a) throw new Error('MMEDPO_TEMPORAL_ADDRESS unset: integration tests need test/global-setup.ts');
  return a;
}

export async function connectClient(): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: temporalAddress() });
  return { client: new Client({ connection, namespace: 'default', dataConverter: dataConverter() }), connection };
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
  const connection = await NativeConnection.connect({ address: temporalAddress() });
  const { withWorkflows = true, ...rest } = o;
  const worker = await Worker.create({
    connection,
    namespace: 'default',
    dataConverter: dataConverter(),
    ...(withWorkflows ? { workflowBundle: await workflowBundle() } : {}),
    ...rest,
  });
  return { worker, connection };
}

export function uniqueQueue(name: string): string {
  return `${name}-${process.pid}-${Date.now().toString(36)}`;
}
