// Where the running services are, resolved once per process. Temporal: the envconfig profile
// (TEMPORAL_CONFIG_FILE / TEMPORAL_PROFILE) under the TEMPORAL_* env vars, as every Temporal SDK and
// the `temporal` CLI read them (resolveTemporalConnection). S3: MMEDPO_S3_* / MMEDPO_BUCKET. Either
// falls back to the dev stack's stack.json under MMEDPO_HOME when nothing is set.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import type { TLSConfig } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { ArtifactStore, SseSettings, sseFromEnv } from './storage';

// The AWS SDK warns that releases after 2027-01 need Node 22; noise for Node 20 users.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** How this process reaches Temporal: what `Connection.connect` (clients) and `NativeConnection.connect` (workers) are given. */
export interface TemporalConnection {
  /** host:port of the frontend. */
  address: string;
  namespace: string;
  /** Absent: plaintext (the local stack). true: TLS with the system roots (implied by an API key). An object: mTLS client pair, CA, server name. */
  tls?: TLSConfig | boolean;
  apiKey?: string;
  /** gRPC headers from the profile's grpc_meta / TEMPORAL_GRPC_META_*. */
  metadata?: Record<string, string>;
  /** Where the address came from, for error messages: TEMPORAL_ADDRESS, a profile, the local stack. */
  source: string;
}

export interface Runtime {
  temporal: TemporalConnection;
  uiUrl: string | null;
  s3Endpoint?: string;
  bucket: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Key prefix of every artifact (MMEDPO_S3_PREFIX): several deployments share a bucket. */
  s3Prefix?: string;
  /** Server-side encryption asked on every put (MMEDPO_S3_SSE, lib/storage.ts sseFromEnv). */
  sse: SseSettings;
}

/** What stack.json (infra/stack.ts StackInfo) tells a client; only these fields are read. */
interface StackCoordinates {
  temporalAddress?: string;
  uiUrl?: string | null;
  s3Endpoint?: string;
  bucket?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
}

export function stackHome(): string {
  return path.resolve(process.env.MMEDPO_HOME ?? path.join(__dirname, '..', '.mmedpo'));
}

/** Variables this project once read for Temporal; set now, they would be ignored, so they are an error. */
const RETIRED_TEMPORAL_VARS: Record<string, string> = { MMEDPO_TEMPORAL_ADDRESS: 'TEMPORAL_ADDRESS', MMEDPO_TEMPORAL_NAMESPACE: 'TEMPORAL_NAMESPACE' };

/**
 * The one resolver of the Temporal connection, for the CLI, every worker and the tests. Settings come
 * from the envconfig profile — TEMPORAL_PROFILE (default "default") of TEMPORAL_CONFIG_FILE (default
 * ~/.config/temporalio/temporal.toml; keys checked strictly) — overridden field by field by TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT_PATH / _DATA,
 * TEMPORAL_TLS_CLIENT_KEY_PATH / _DATA, TEMPORAL_TLS_SERVER_CA_CERT_PATH / _DATA, TEMPORAL_TLS_SERVER_NAME,
 * TEMPORAL_GRPC_META_*. No address anywhere: `fallbackAddress` (the local stack's), else 127.0.0.1:7233;
 * no namespace: "default". Certificate files are read here.
 * Throws (one line, naming the file and profile) on a missing TEMPORAL_CONFIG_FILE, an unknown profile or
 * key, an unreadable certificate, or a retired MMEDPO_TEMPORAL_* variable.
 */
export function resolveTemporalConnection(env: NodeJS.ProcessEnv = process.env, fallbackAddress?: string): TemporalConnection {
  for (const [old, now] of Object.entries(RETIRED_TEMPORAL_VARS))
    if (env[old] !== undefined) throw new Error(`${old} is no longer read: set ${now} (or an envconfig profile, see README "Configuration")`);
  const file = env.TEMPORAL_CONFIG_FILE;
  const where = `${env.TEMPORAL_PROFILE ? `profile "${env.TEMPORAL_PROFILE}"` : 'the default profile'} of ${file ?? 'the default temporal.toml'}`;
  // The SDK treats a missing file as "no profiles"; a file named on purpose and absent is a mistake.
  if (file !== undefined && !fs.existsSync(file)) throw new Error(`TEMPORAL_CONFIG_FILE=${file} does not exist`);
  const vars = Object.fromEntries(Object.entries(env).filter((kv): kv is [string, string] => kv[1] !== undefined));
  let loaded: ReturnType<typeof loadClientConnectConfig>;
  try {
    loaded = loadClientConnectConfig({ overrideEnvVars: vars, configFileStrict: true });
  } catch (e) {
    // @temporalio/envconfig 1.24 fails on a file without a `profile` table with a bare TypeError.
    const why = e instanceof TypeError ? 'the file has no [profile.NAME] table' : (e as Error).message.split('\n')[0];
    throw new Error(`Temporal connection settings (${where}): ${why}`);
  }
  const o = loaded.connectionOptions;
  const source = env.TEMPORAL_ADDRESS !== undefined ? 'TEMPORAL_ADDRESS' : o.address ? where : fallbackAddress ? 'the local stack' : 'the default address';
  return {
    address: o.address ?? fallbackAddress ?? '127.0.0.1:7233',
    namespace: loaded.namespace ?? 'default',
    ...(o.tls !== undefined && o.tls !== null ? { tls: o.tls } : {}),
    ...(o.apiKey !== undefined ? { apiKey: o.apiKey } : {}),
    ...(o.metadata && Object.keys(o.metadata).length ? { metadata: o.metadata as Record<string, string> } : {}),
    source,
  };
}

/** Every service coordinate of this process (Temporal, S3, the Web UI); `env` for a test driving a second stack. */
export function resolveRuntime(env: NodeJS.ProcessEnv = process.env): Runtime {
  let stack: StackCoordinates = {};
  try {
    stack = JSON.parse(fs.readFileSync(path.join(stackHome(), 'stack.json'), 'utf8')) as StackCoordinates;
  } catch {
    /* no local stack: env vars or AWS defaults */
  }
  return {
    temporal: resolveTemporalConnection(env, stack.temporalAddress),
    uiUrl: env.MMEDPO_UI_URL ?? stack.uiUrl ?? null,
    s3Endpoint: env.MMEDPO_S3_ENDPOINT ?? stack.s3Endpoint,
    bucket: env.MMEDPO_BUCKET ?? stack.bucket ?? 'mmedpo-artifacts',
    region: env.MMEDPO_S3_REGION ?? 'us-east-1',
    accessKeyId: env.MMEDPO_S3_ACCESS_KEY_ID ?? stack.accessKeyId,
    secretAccessKey: env.MMEDPO_S3_SECRET_ACCESS_KEY ?? stack.secretAccessKey,
    ...(env.MMEDPO_S3_PREFIX ? { s3Prefix: env.MMEDPO_S3_PREFIX } : {}),
    sse: sseFromEnv(env),
  };
}

export function s3ClientFromRuntime(rt: Runtime): S3Client {
  return new S3Client({
    region: rt.region,
    // Without timeouts a stuck socket hangs an activity until its start-to-close timeout.
    // requestTimeout is the socket idle time, so large streamed uploads are not cut off.
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000, httpAgent: { maxSockets: 200 }, httpsAgent: { maxSockets: 200 } },
    ...(rt.s3Endpoint ? { endpoint: rt.s3Endpoint, forcePathStyle: true } : {}),
    ...(rt.accessKeyId && rt.secretAccessKey ? { credentials: { accessKeyId: rt.accessKeyId, secretAccessKey: rt.secretAccessKey } } : {}),
  });
}

let cached: ArtifactStore | undefined;
/** The process-wide artifact store (activities share one S3 client). */
export function artifactStore(): ArtifactStore {
  if (!cached) {
    const rt = resolveRuntime();
    cached = new ArtifactStore({ client: s3ClientFromRuntime(rt), bucket: rt.bucket, prefix: rt.s3Prefix, sse: rt.sse });
  }
  return cached;
}

/** Temporal Web UI link for a workflow run. */
export function workflowUrl(rt: Runtime, workflowId: string, runId?: string): string | null {
  if (!rt.uiUrl) return null;
  const base = `${rt.uiUrl}/namespaces/${encodeURIComponent(rt.temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${runId}/history` : base;
}

/** Fails fast, in one line, when S3 is unreachable or the bucket is missing. */
export async function checkS3(rt: Runtime = resolveRuntime()): Promise<void> {
  const { HeadBucketCommand } = await import('@aws-sdk/client-s3');
  const client = s3ClientFromRuntime(rt);
  const where = rt.s3Endpoint ?? `AWS S3 (${rt.region})`;
  try {
    await client.send(new HeadBucketCommand({ Bucket: rt.bucket }));
  } catch (e) {
    const err = e as Error & { code?: string; $metadata?: { httpStatusCode?: number } };
    const status = err.$metadata?.httpStatusCode;
    const why = status === 404 ? `bucket ${rt.bucket} does not exist` : status === 403 ? `access to bucket ${rt.bucket} denied (check credentials)` : (err.code ?? err.name ?? err.message);
    throw new Error(`cannot use S3 at ${where}: ${why} — run \`npx mmedpo stack up\` or set MMEDPO_S3_ENDPOINT / MMEDPO_BUCKET`);
  } finally {
    client.destroy();
  }
}
