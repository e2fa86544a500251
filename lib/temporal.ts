// Temporal client/worker construction shared by the CLI, the worker entry points and tests.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
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
    // Core's own lines (e.g. TMPRL1104 "workflow task exceeded 5 s" on a
    // busy machine) follow the same level; connection errors are ERROR and always show.
    Runtime.install({ logger: new DefaultLogger(level), telemetryOptions: { logging: { filter: { core: level, other: level }, console: {} } } });
  } catch {
    /* already installed */
  }
}

/** How a worker takes part in Worker Versioning (lib/temporal.ts resolveWorkerDeployment). */
export interface VersioningOptions {
  /** The queue prefix of the campaigns it serves: the deployment is `${queuePrefix}mmedpo` (default env MMEDPO_QUEUE_PREFIX or none). */
  queuePrefix?: string;
  /** Default env MMEDPO_DEPLOYMENT_NAME, else `${queuePrefix}mmedpo`. */
  deploymentName?: string;
  /** Default env MMEDPO_BUILD_ID, else the package version + the short git commit (defaultBuildId). */
  buildId?: string;
  /** Make this version the deployment's current one at start-up (new workflows start on it). Default: on, unless env MMEDPO_MAKE_CURRENT=off. */
  makeCurrent?: boolean;
}

export interface WorkerDeployment {
  deploymentName: string;
  buildId: string;
  makeCurrent: boolean;
}

const OFF = /^(off|0|false|no)$/i;

let cachedBuildId: string | undefined;
/**
 * `<package version>+<short git commit>` (`-dirty` when tracked files differ from the commit), or the
 * package version alone outside a git checkout. Deterministic for a given checkout.
 */
export function defaultBuildId(root = path.resolve(__dirname, '..')): string {
  if (cachedBuildId !== undefined) return cachedBuildId;
  const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
  const git = (...args: string[]) => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  let id = version;
  try {
    const commit = git('rev-parse', '--short=7', 'HEAD');
    const dirty = git('status', '--porcelain', '--untracked-files=no') !== '';
    id = `${version}+${commit}${dirty ? '-dirty' : ''}`;
  } catch {
    /* not a git checkout (an installed package): the version alone */
  }
  cachedBuildId = id;
  return id;
}

/**
 * The Worker Deployment Version a worker serves, or null for an unversioned worker (explicit
 * `false`, or env MMEDPO_WORKER_VERSIONING=off for clusters without Worker Versioning).
 */
export function resolveWorkerDeployment(v: VersioningOptions | false = {}, env: NodeJS.ProcessEnv = process.env): WorkerDeployment | null {
  if (v === false || OFF.test(env.MMEDPO_WORKER_VERSIONING ?? '')) return null;
  const deploymentName = v.deploymentName ?? (env.MMEDPO_DEPLOYMENT_NAME || `${v.queuePrefix ?? env.MMEDPO_QUEUE_PREFIX ?? ''}mmedpo`);
  const buildId = v.buildId ?? (env.MMEDPO_BUILD_ID || defaultBuildId());
  if (!deploymentName || deploymentName.includes('.')) throw new Error(`deployment name "${deploymentName}" is empty or has a "." (set MMEDPO_DEPLOYMENT_NAME)`);
  if (!buildId) throw new Error('empty build id (MMEDPO_BUILD_ID)');
  return { deploymentName, buildId, makeCurrent: v.makeCurrent ?? !OFF.test(env.MMEDPO_MAKE_CURRENT ?? '') };
}

/** "deployment mmedpo build 0.1.0+abc1234" or "unversioned (MMEDPO_WORKER_VERSIONING=off)": the worker start-up lines. */
export function deploymentLabel(w: Pick<Worker, 'options'>): string {
  const d = w.options.workerDeploymentOptions;
  if (!d?.useWorkerVersioning) return 'unversioned (MMEDPO_WORKER_VERSIONING=off)';
  return `deployment ${d.version.deploymentName} build ${d.version.buildId}`;
}

/**
 * Makes `buildId` the current version of `deploymentName` (idempotent; a no-op when it already is).
 * New workflows then start on it; running pinned ones stay on the version they started on.
 * Allowed before this version's workers poll and before every task queue of the previous current
 * version is polled by the new one (the other worker kinds of the new build call this too when they start).
 */
export async function setCurrentVersion(
  service: Connection['workflowService'],
  namespace: string,
  deploymentName: string,
  buildId: string,
  identity = `mmedpo@${os.hostname()}:${process.pid}`,
): Promise<{ previous: string | null }> {
  for (let attempt = 0; ; attempt++) {
    try {
      const current = await currentBuildId(service, namespace, deploymentName);
      if (current === buildId) return { previous: current };
      await service.setWorkerDeploymentCurrentVersion({ namespace, deploymentName, buildId, allowNoPollers: true, ignoreMissingTaskQueues: true, identity });
      return { previous: current };
    } catch (e) {
      if ((e as { code?: number }).code === 12 /* UNIMPLEMENTED */) attempt = 4;
      // Another worker of the deployment changing the routing at the same moment: look again.
      if (attempt >= 4) throw new Error(`could not make ${deploymentName} build ${buildId} current: ${(e as Error).message.split('\n')[0]} — or set MMEDPO_WORKER_VERSIONING=off where the cluster has no Worker Versioning`);
      await new Promise((r) => setTimeout(r, 250 * (attempt + 1)));
    }
  }
}

/** The current version's build id of a deployment; null for none (unversioned) or a deployment not yet known. */
export async function currentBuildId(service: Connection['workflowService'], namespace: string, deploymentName: string): Promise<string | null> {
  try {
    const r = await service.describeWorkerDeployment({ namespace, deploymentName });
    return r.workerDeploymentInfo?.routingConfig?.currentDeploymentVersion?.buildId || null;
  } catch (e) {
    if ((e as { code?: number }).code === 5 /* NOT_FOUND */) return null;
    throw e;
  }
}

export type MmedpoWorkerOptions = Omit<WorkerOptions, 'connection'> & {
  /** Worker Versioning (default: on, PINNED, this checkout's build; see resolveWorkerDeployment). Ignored when workerDeploymentOptions is given. */
  versioning?: VersioningOptions | false;
};

/**
 * A worker of the project. Versioned by default: it polls as deployment `${queuePrefix}mmedpo`, build
 * `defaultBuildId()` (or MMEDPO_BUILD_ID), every workflow PINNED to the version it started on, and
 * (unless makeCurrent is off) makes that version current, so new workflows start on this build.
 */
export async function createWorker(o: MmedpoWorkerOptions, rt: MmedpoRuntime = resolveRuntime()): Promise<Worker> {
  installRuntime();
  const t = rt.temporal;
  const connection = await NativeConnection.connect(connectionOptions(t)).catch((e: Error) => {
    throw unreachable(t, e);
  });
  const { versioning, ...options } = o;
  const deployment = options.workerDeploymentOptions ? null : resolveWorkerDeployment(versioning);
  const worker = await Worker.create({
    connection,
    namespace: t.namespace,
    dataConverter: dataConverter(),
    ...(deployment
      ? { workerDeploymentOptions: { version: { deploymentName: deployment.deploymentName, buildId: deployment.buildId }, useWorkerVersioning: true, defaultVersioningBehavior: 'PINNED' as const } }
      : {}),
    ...options,
  });
  if (deployment?.makeCurrent) await setCurrentVersion(connection.workflowService, t.namespace, deployment.deploymentName, deployment.buildId);
  return worker;
}
