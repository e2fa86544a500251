// The local dev stack: a Temporal dev server (SQLite file, Web UI), MinIO and the
// payload codec server on loopback, as detached processes whose pids, ports and
// secrets live under a stack home (default .mmedpo/, git-ignored). `up` is
// idempotent, `down` keeps data. Secrets are generated once per home, each in its
// own 0600 file, and never regenerated (a lost payload key = unreadable histories):
//   credentials.json     MinIO root user/password
//   minio-kms-key        MinIO's KMS key (server-side encryption of every object)
//   payload-keys.json    the payload key ring (lib/codec.ts)
//   codec-server-token   the codec server's bearer token
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, HeadBucketCommand, PutBucketEncryptionCommand, S3Client } from '@aws-sdk/client-s3';
import { ensurePayloadKeyFile, PAYLOAD_KEY_FILE_NAME, writeSecretFileOnce } from '../lib/codec';
import { CODEC_TOKEN_FILE_NAME, uiOrigins } from '../lib/codec-server';

const execFileP = promisify(execFile);

export const PROJECT_ROOT = path.resolve(__dirname, '..');
export const DEFAULT_HOME = process.env.MMEDPO_HOME ?? path.join(PROJECT_ROOT, '.mmedpo');

/** Search attributes the project's workflows write; registered at every `up`. */
export const SEARCH_ATTRIBUTES: Record<string, 'Keyword' | 'Int' | 'Double' | 'Text'> = {
  CampaignId: 'Keyword',
  Stage: 'Keyword',
  Dataset: 'Keyword',
  Variant: 'Keyword',
};

export interface StackOptions {
  home?: string;
  temporalPort?: number;
  uiPort?: number;
  minioPort?: number;
  minioConsolePort?: number;
  /** The codec server for the Web UI (not started for a headless stack). */
  codecServerPort?: number;
  bucket?: string;
  /** Headless Temporal (no Web UI), used by the test stack. */
  headless?: boolean;
  /** Where the binaries live; default <project>/.mmedpo/bin (made by infra/setup.sh). */
  binDir?: string;
}

export interface StackInfo {
  home: string;
  temporalAddress: string;
  uiUrl: string | null;
  s3Endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  temporalPid: number;
  minioPid: number;
  /** The payload key ring every client and worker of this stack uses (stackEnv exports it). */
  payloadKeyFile: string;
  /** Whether MinIO runs with its KMS key (SSE-S3 on every object); false for stacks started before. */
  minioSse: boolean;
  /** The codec server (null when headless) and the URL the Temporal Web UI was started with. */
  codecServerUrl: string | null;
  codecServerPid: number;
  uiCodecServerUrl: string | null;
}

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

function envPort(name: string, fallback: number): number {
  const v = process.env[name];
  if (!v) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) throw new Error(`${name}=${v} is not a TCP port`);
  return n;
}

export function resolveOptions(o: StackOptions = {}): Required<StackOptions> {
  return {
    home: path.resolve(o.home ?? DEFAULT_HOME),
    temporalPort: o.temporalPort ?? envPort('MMEDPO_TEMPORAL_PORT', 7233),
    uiPort: o.uiPort ?? envPort('MMEDPO_UI_PORT', 8233),
    minioPort: o.minioPort ?? envPort('MMEDPO_MINIO_PORT', 9000),
    minioConsolePort: o.minioConsolePort ?? envPort('MMEDPO_MINIO_CONSOLE_PORT', 9001),
    codecServerPort: o.codecServerPort ?? envPort('MMEDPO_CODEC_SERVER_PORT', 8234),
    bucket: o.bucket ?? process.env.MMEDPO_BUCKET ?? 'mmedpo-artifacts',
    headless: o.headless ?? false,
    binDir: o.binDir ?? process.env.MMEDPO_BIN ?? path.join(PROJECT_ROOT, '.mmedpo', 'bin'),
  };
}

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

/** MinIO root credentials, generated once per stack home (0600). */
function credentials(home: string): Credentials {
  const file = path.join(home, 'credentials.json');
  writeSecretFileOnce(file, JSON.stringify({ accessKeyId: 'mmedpo' + randomBytes(6).toString('hex'), secretAccessKey: randomBytes(24).toString('base64url') }, null, 2));
  const c = readJson<Credentials>(file);
  if (!c?.accessKeyId || !c.secretAccessKey) throw new Error(`${file} is not a credentials file; move it away and run \`npx mmedpo stack up\` again`);
  return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey };
}

export interface StackSecrets {
  /** MINIO_KMS_SECRET_KEY: `<key name>:<base64 of 32 bytes>`. */
  minioKmsKey: string;
  payloadKeyFile: string;
  codecServerToken: string;
}

/**
 * The stack's secrets beyond the MinIO credentials, generated on the first call and read back on
 * every later one (an existing file is never rewritten). Exported for the test that checks exactly that.
 */
export function stackSecrets(home: string): StackSecrets {
  const kmsFile = path.join(home, 'minio-kms-key');
  writeSecretFileOnce(kmsFile, `mmedpo-sse:${randomBytes(32).toString('base64')}\n`);
  const tokenFile = path.join(home, CODEC_TOKEN_FILE_NAME);
  writeSecretFileOnce(tokenFile, randomBytes(32).toString('base64url') + '\n');
  const payloadKeyFile = path.join(home, PAYLOAD_KEY_FILE_NAME);
  ensurePayloadKeyFile(payloadKeyFile);
  for (const f of [kmsFile, tokenFile, path.join(home, 'credentials.json')]) if (fs.existsSync(f)) fs.chmodSync(f, 0o600);
  return { minioKmsKey: fs.readFileSync(kmsFile, 'utf8').trim(), payloadKeyFile, codecServerToken: fs.readFileSync(tokenFile, 'utf8').trim() };
}

export function pidAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function portOpen(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, logFile: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  let tail = '';
  try {
    tail = fs.readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    /* no log yet */
  }
  throw new Error(`${what} did not become ready within ${timeoutMs / 1000}s; see ${logFile}\n${tail}`);
}

function requireBinary(binDir: string, name: string): string {
  const p = path.join(binDir, name);
  if (!fs.existsSync(p)) throw new Error(`${p} is missing: run \`bash infra/setup.sh\` (or \`make setup\`) first`);
  return p;
}

function startDetached(cmd: string, args: string[], logFile: string, env: NodeJS.ProcessEnv): number {
  const out = fs.openSync(logFile, 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out], env });
  child.unref();
  fs.closeSync(out);
  if (!child.pid) throw new Error(`could not start ${cmd}`);
  return child.pid;
}

export type StackStatus = StackInfo & { temporalUp: boolean; minioUp: boolean; codecServerUp: boolean };

export async function stackStatus(o: StackOptions = {}): Promise<StackStatus> {
  const opts = resolveOptions(o);
  const recorded = readJson<Partial<StackInfo>>(path.join(opts.home, 'stack.json'));
  // Stacks recorded before encryption was on lack the last fields: their defaults say "not set up".
  const defaults = { payloadKeyFile: path.join(opts.home, PAYLOAD_KEY_FILE_NAME), minioSse: false, codecServerUrl: null, codecServerPid: 0, uiCodecServerUrl: null };
  if (!recorded) {
    const c = credentials(opts.home);
    return {
      home: opts.home,
      temporalAddress: `127.0.0.1:${opts.temporalPort}`,
      uiUrl: opts.headless ? null : `http://127.0.0.1:${opts.uiPort}`,
      s3Endpoint: `http://127.0.0.1:${opts.minioPort}`,
      bucket: opts.bucket,
      ...c,
      temporalPid: 0,
      minioPid: 0,
      ...defaults,
      codecServerUrl: opts.headless ? null : `http://127.0.0.1:${opts.codecServerPort}`,
      temporalUp: false,
      minioUp: false,
      codecServerUp: false,
    };
  }
  const info = {
    ...recorded,
    payloadKeyFile: recorded.payloadKeyFile ?? defaults.payloadKeyFile,
    minioSse: recorded.minioSse ?? false,
    codecServerUrl: recorded.codecServerUrl ?? null,
    codecServerPid: recorded.codecServerPid ?? 0,
    uiCodecServerUrl: recorded.uiCodecServerUrl ?? null,
  } as StackInfo;
  const tPort = Number(info.temporalAddress.split(':').pop());
  const mPort = Number(new URL(info.s3Endpoint).port);
  return {
    ...info,
    temporalUp: pidAlive(info.temporalPid) && (await portOpen(tPort)),
    minioUp: pidAlive(info.minioPid) && (await portOpen(mPort)),
    codecServerUp: !!info.codecServerUrl && pidAlive(info.codecServerPid) && (await portOpen(Number(new URL(info.codecServerUrl).port))),
  };
}

async function registerSearchAttributes(temporal: string, address: string): Promise<void> {
  // `create` is idempotent for an attribute that already exists with the same type.
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) {
    await execFileP(temporal, ['operator', 'search-attribute', 'create', '--address', address, '--name', name, '--type', type], {
      timeout: 30_000,
    }).catch((e: Error & { stderr?: string }) => {
      if (!/already exists/i.test(e.stderr ?? e.message)) throw e;
    });
  }
}

export function s3ClientFor(info: Pick<StackInfo, 's3Endpoint' | 'accessKeyId' | 'secretAccessKey'>): S3Client {
  return new S3Client({
    endpoint: info.s3Endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
  });
}

const portOf = (url: string) => Number(url.startsWith('http') ? new URL(url).port : url.split(':').pop());

async function httpOk(url: string): Promise<boolean> {
  try {
    return (await fetch(url)).ok;
  } catch {
    return false;
  }
}

/**
 * Starts what is not running (idempotent) and returns where everything is. A running part is kept
 * unless it predates encryption: MinIO without its KMS key, or a Web UI not wired to the codec
 * server, is restarted on its own port (data stays). With a Web UI, the codec server runs too and
 * the UI's `--ui-codec-endpoint` points at it (token in the path: the UI sends no custom headers).
 */
export async function stackUp(o: StackOptions = {}): Promise<StackInfo> {
  const opts = resolveOptions(o);
  const status = await stackStatus(opts);
  fs.mkdirSync(path.join(opts.home, 'logs'), { recursive: true });
  const creds = credentials(opts.home);
  const secrets = stackSecrets(opts.home);
  const log = (name: string) => path.join(opts.home, 'logs', `${name}.log`);

  // A running Temporal keeps its UI mode; a new one follows `headless`.
  const withUi = status.temporalUp ? status.uiUrl !== null : !opts.headless;
  const codecKept = withUi && status.codecServerUp;
  const codecServerUrl = !withUi ? null : codecKept ? status.codecServerUrl : `http://127.0.0.1:${opts.codecServerPort}`;
  const temporalKept = status.temporalUp && (!withUi || status.uiCodecServerUrl === codecServerUrl);
  const minioKept = status.minioUp && status.minioSse;
  if (temporalKept && minioKept && (!withUi || codecKept)) return status;

  const temporal = requireBinary(opts.binDir, 'temporal');
  const minio = requireBinary(opts.binDir, 'minio');
  // Restarting a running part (to switch encryption on) keeps its port; a new part takes the asked one.
  const temporalPort = status.temporalUp ? portOf(status.temporalAddress) : opts.temporalPort;
  const uiPort = status.temporalUp && status.uiUrl ? portOf(status.uiUrl) : opts.uiPort;
  const minioPort = status.minioUp ? portOf(status.s3Endpoint) : opts.minioPort;
  const temporalAddress = `127.0.0.1:${temporalPort}`;
  const s3Endpoint = `http://127.0.0.1:${minioPort}`;
  if (status.temporalUp && !temporalKept) await killAndWait(status.temporalPid);
  if (status.minioUp && !minioKept) await killAndWait(status.minioPid);

  let codecServerPid = codecKept ? status.codecServerPid : 0;
  if (codecServerUrl && !codecServerPid) {
    if (await portOpen(opts.codecServerPort)) throw new Error(`port ${opts.codecServerPort} is taken by another process: set MMEDPO_CODEC_SERVER_PORT`);
    const uiOrigin = `http://127.0.0.1:${uiPort}`;
    codecServerPid = startDetached(
      process.execPath,
      [path.join(PROJECT_ROOT, 'bin', 'mmedpo.js'), 'codec-server', '--port', String(opts.codecServerPort), '--host', '127.0.0.1', '--token-file', path.join(opts.home, CODEC_TOKEN_FILE_NAME), '--origin', ...uiOrigins(uiOrigin)],
      log('codec-server'),
      { PATH: process.env.PATH, HOME: process.env.HOME, MMEDPO_HOME: opts.home, MMEDPO_PAYLOAD_KEY_FILE: secrets.payloadKeyFile, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    );
  }

  let temporalPid = temporalKept ? status.temporalPid : 0;
  if (!temporalPid) {
    if (await portOpen(temporalPort)) throw new Error(`port ${temporalPort} is taken by another process: set MMEDPO_TEMPORAL_PORT`);
    const args = [
      'server',
      'start-dev',
      '--db-filename',
      path.join(opts.home, 'temporal.db'),
      '--ip',
      '127.0.0.1',
      '--port',
      String(temporalPort),
      '--log-level',
      'warn',
      ...(withUi ? ['--ui-port', String(uiPort), '--ui-codec-endpoint', `${codecServerUrl}/${secrets.codecServerToken}`] : ['--headless']),
      ...Object.entries(SEARCH_ATTRIBUTES).flatMap(([k, t]) => ['--search-attribute', `${k}=${t}`]),
    ];
    temporalPid = startDetached(temporal, args, log('temporal'), process.env);
  }
  let minioPid = minioKept ? status.minioPid : 0;
  if (!minioPid) {
    if (await portOpen(minioPort)) throw new Error(`port ${minioPort} is taken by another process: set MMEDPO_MINIO_PORT`);
    minioPid = startDetached(
      minio,
      ['server', path.join(opts.home, 'minio-data'), '--address', `127.0.0.1:${minioPort}`, '--console-address', `127.0.0.1:${opts.minioConsolePort}`, '--quiet'],
      log('minio'),
      // Only what MinIO needs; its own update checks are off (no network here). The KMS key makes
      // SSE-S3 available: objects are encrypted at rest (the bucket default and every put ask for it).
      {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        MINIO_ROOT_USER: creds.accessKeyId,
        MINIO_ROOT_PASSWORD: creds.secretAccessKey,
        MINIO_KMS_SECRET_KEY: secrets.minioKmsKey,
        MINIO_UPDATE: 'off',
        MINIO_BROWSER: 'off',
      },
    );
  }
  await waitFor('MinIO', () => httpOk(`${s3Endpoint}/minio/health/live`), 60_000, log('minio'));
  if (codecServerUrl) await waitFor('the codec server', () => httpOk(`${codecServerUrl}/healthz`), 90_000, log('codec-server'));
  await waitFor('Temporal', async () => {
    try {
      await execFileP(temporal, ['operator', 'cluster', 'health', '--address', temporalAddress], { timeout: 5000 });
      return true;
    } catch {
      return false;
    }
  }, 90_000, log('temporal'));
  await registerSearchAttributes(temporal, temporalAddress);

  const s3 = s3ClientFor({ s3Endpoint, ...creds });
  try {
    await s3.send(new HeadBucketCommand({ Bucket: opts.bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: opts.bucket }));
  }
  // Bucket default: an object put without an SSE header (any other client) is encrypted too.
  await s3.send(
    new PutBucketEncryptionCommand({ Bucket: opts.bucket, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } }),
  );
  s3.destroy();
  const info: StackInfo = {
    home: opts.home,
    temporalAddress,
    uiUrl: withUi ? `http://127.0.0.1:${uiPort}` : null,
    s3Endpoint,
    bucket: opts.bucket,
    ...creds,
    temporalPid,
    minioPid,
    payloadKeyFile: secrets.payloadKeyFile,
    minioSse: true,
    codecServerUrl,
    codecServerPid,
    uiCodecServerUrl: codecServerUrl,
  };
  fs.writeFileSync(path.join(opts.home, 'stack.json'), JSON.stringify(info, null, 2), { mode: 0o600 });
  return info;
}

async function killAndWait(pid: number): Promise<void> {
  if (!pidAlive(pid)) return;
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
  }
  const deadline = Date.now() + 15_000;
  while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (pidAlive(pid)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** Stops the servers; data (temporal.db, minio-data) and secrets stay for the next `up`. */
export async function stackDown(o: StackOptions = {}): Promise<void> {
  const opts = resolveOptions(o);
  const info = readJson<Partial<StackInfo>>(path.join(opts.home, 'stack.json'));
  if (!info) return;
  await Promise.all([killAndWait(info.temporalPid ?? 0), killAndWait(info.minioPid ?? 0), killAndWait(info.codecServerPid ?? 0)]);
}

/**
 * The env vars that point this project's clients and workers (lib/env.ts resolveRuntime) at a stack:
 * Temporal through the standard TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE. They override an envconfig profile
 * field by field only, so a TLS or API-key setting from a profile would still apply to the plaintext stack:
 * test/global-setup.ts clears the others first.
 */
export function stackEnv(info: StackInfo): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: info.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    MMEDPO_S3_ENDPOINT: info.s3Endpoint,
    MMEDPO_S3_ACCESS_KEY_ID: info.accessKeyId,
    MMEDPO_S3_SECRET_ACCESS_KEY: info.secretAccessKey,
    MMEDPO_BUCKET: info.bucket,
    MMEDPO_PAYLOAD_KEY_FILE: info.payloadKeyFile,
    ...(info.uiUrl ? { MMEDPO_UI_URL: info.uiUrl } : {}),
  };
}

/** Restart only the Temporal server (same db file): used by durability tests. */
export async function restartTemporal(o: StackOptions = {}): Promise<StackInfo> {
  const opts = resolveOptions(o);
  const info = readJson<StackInfo>(path.join(opts.home, 'stack.json'));
  if (!info) throw new Error('no stack to restart');
  await killAndWait(info.temporalPid);
  return stackUpAgain(o);
}

/** Stop only MinIO (its data and keys stay): a storage outage, for the fault tests. `stackUpAgain` ends it. */
export async function stopMinio(o: StackOptions = {}): Promise<void> {
  const info = readJson<StackInfo>(path.join(resolveOptions(o).home, 'stack.json'));
  if (!info) throw new Error('no stack to stop MinIO of');
  await killAndWait(info.minioPid);
}

/** Start whatever part of a stack is down again, on the ports it had (same data, same secrets). */
export async function stackUpAgain(o: StackOptions = {}): Promise<StackInfo> {
  const opts = resolveOptions(o);
  const info = readJson<StackInfo>(path.join(opts.home, 'stack.json'));
  if (!info) throw new Error('no stack to start again');
  return stackUp({
    ...opts,
    temporalPort: Number(info.temporalAddress.split(':').pop()),
    minioPort: Number(new URL(info.s3Endpoint).port),
    headless: info.uiUrl === null,
    ...(info.uiUrl ? { uiPort: Number(new URL(info.uiUrl).port) } : {}),
    ...(info.codecServerUrl ? { codecServerPort: Number(new URL(info.codecServerUrl).port) } : {}),
  });
}
