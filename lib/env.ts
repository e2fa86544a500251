// Where the running services are, resolved once per process: explicit env vars
// win (production / CI), else the dev stack's stack.json under MMEDPO_HOME.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { ArtifactStore } from './storage';

// The AWS SDK warns that releases after 2027-01 need Node 22; noise for Node 20 users.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface Runtime {
  temporalAddress: string;
  namespace: string;
  uiUrl: string | null;
  s3Endpoint?: string;
  bucket: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
}

export function stackHome(): string {
  return path.resolve(process.env.MMEDPO_HOME ?? path.join(__dirname, '..', '.mmedpo'));
}

export function resolveRuntime(env: NodeJS.ProcessEnv = process.env): Runtime {
  let stack: Partial<Runtime> = {};
  try {
    stack = JSON.parse(fs.readFileSync(path.join(stackHome(), 'stack.json'), 'utf8')) as Partial<Runtime>;
  } catch {
    /* no local stack: env vars or AWS defaults */
  }
  return {
    temporalAddress: env.MMEDPO_TEMPORAL_ADDRESS ?? stack.temporalAddress ?? '127.0.0.1:7233',
    namespace: env.MMEDPO_TEMPORAL_NAMESPACE ?? 'default',
    uiUrl: env.MMEDPO_UI_URL ?? stack.uiUrl ?? null,
    s3Endpoint: env.MMEDPO_S3_ENDPOINT ?? stack.s3Endpoint,
    bucket: env.MMEDPO_BUCKET ?? stack.bucket ?? 'mmedpo-artifacts',
    region: env.MMEDPO_S3_REGION ?? 'us-east-1',
    accessKeyId: env.MMEDPO_S3_ACCESS_KEY_ID ?? stack.accessKeyId,
    secretAccessKey: env.MMEDPO_S3_SECRET_ACCESS_KEY ?? stack.secretAccessKey,
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
    cached = new ArtifactStore({ client: s3ClientFromRuntime(rt), bucket: rt.bucket, prefix: process.env.MMEDPO_S3_PREFIX });
  }
  return cached;
}

/** Temporal Web UI link for a workflow run. */
export function workflowUrl(rt: Runtime, workflowId: string, runId?: string): string | null {
  if (!rt.uiUrl) return null;
  const base = `${rt.uiUrl}/namespaces/${encodeURIComponent(rt.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
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
