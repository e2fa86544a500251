// The local dev stack: a Temporal dev server (SQLite file, Web UI) and MinIO on
// loopback, both as detached processes whose pids, ports and credentials live
// under a stack home (default .mmedpo/). `up` is idempotent, `down` keeps data.
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';

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

/** Credentials are generated once per stack home and kept in a 0600 file. */
function credentials(home: string): Credentials {
  const file = path.join(home, 'credentials.json');
  const existing = readJson<Credentials>(file);
  if (existing) return existing;
  const c = { accessKeyId: 'mmedpo' + randomBytes(6).toString('hex'), secretAccessKey: randomBytes(24).toString('base64url') };
  fs.mkdirSync(home, { recursive: true });
  fs.writeFileSync(file, JSON.stringify(c, null, 2), { mode: 0o600 });
  return c;
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

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
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

export async function stackStatus(o: StackOptions = {}): Promise<StackInfo & { temporalUp: boolean; minioUp: boolean }> {
  const opts = resolveOptions(o);
  const info = readJson<StackInfo>(path.join(opts.home, 'stack.json'));
  if (!info) {
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
      temporalUp: false,
      minioUp: false,
    };
  }
  const tPort = Number(info.temporalAddress.split(':').pop());
  const mPort = Number(new URL(info.s3Endpoint).port);
  return {
    ...info,
    temporalUp: pidAlive(info.temporalPid) && (await portOpen(tPort)),
    minioUp: pidAlive(info.minioPid) && (await portOpen(mPort)),
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

export async function stackUp(o: StackOptions = {}): Promise<StackInfo> {
  const opts = resolveOptions(o);
  const status = await stackStatus(opts);
  if (status.temporalUp && status.minioUp) return status;
  fs.mkdirSync(path.join(opts.home, 'logs'), { recursive: true });
  const creds = credentials(opts.home);
  const temporal = requireBinary(opts.binDir, 'temporal');
  const minio = requireBinary(opts.binDir, 'minio');
  const temporalAddress = `127.0.0.1:${opts.temporalPort}`;
  const s3Endpoint = `http://127.0.0.1:${opts.minioPort}`;

  let temporalPid = status.temporalUp ? status.temporalPid : 0;
  if (!temporalPid) {
    if (await portOpen(opts.temporalPort)) throw new Error(`port ${opts.temporalPort} is taken by another process: set MMEDPO_TEMPORAL_PORT`);
    const args = [
      'server',
      'start-dev',
      '--db-filename',
      path.join(opts.home, 'temporal.db'),
      '--ip',
      '127.0.0.1',
      '--port',
      String(opts.temporalPort),
      '--log-level',
      'warn',
      ...(opts.headless ? ['--headless'] : ['--ui-port', String(opts.uiPort)]),
      ...Object.entries(SEARCH_ATTRIBUTES).flatMap(([k, t]) => ['--search-attribute', `${k}=${t}`]),
    ];
    temporalPid = startDetached(temporal, args, path.join(opts.home, 'logs', 'temporal.log'), process.env);
  }
  let minioPid = status.minioUp ? status.minioPid : 0;
  if (!minioPid) {
    if (await portOpen(opts.minioPort)) throw new Error(`port ${opts.minioPort} is taken by another process: set MMEDPO_MINIO_PORT`);
    minioPid = startDetached(
      minio,
      ['server', path.join(opts.home, 'minio-data'), '--address', `127.0.0.1:${opts.minioPort}`, '--console-address', `127.0.0.1:${opts.minioConsolePort}`, '--quiet'],
      path.join(opts.home, 'logs', 'minio.log'),
      // Only what MinIO needs; its own update checks are off (no network here).
      { PATH: process.env.PATH, HOME: process.env.HOME, MINIO_ROOT_USER: creds.accessKeyId, MINIO_ROOT_PASSWORD: creds.secretAccessKey, MINIO_UPDATE: 'off', MINIO_BROWSER: 'off' },
    );
  }
  await waitFor('MinIO', async () => {
    try {
      const r = await fetch(`${s3Endpoint}/minio/health/live`);
      return r.ok;
    } catch {
      return false;
    }
  }, 60_000, path.join(opts.home, 'logs', 'minio.log'));
  await waitFor('Temporal', async () => {
    try {
      await execFileP(temporal, ['operator', 'cluster', 'health', '--address', temporalAddress], { timeout: 5000 });
      return true;
    } catch {
      return false;
    }
  }, 90_000, path.join(opts.home, 'logs', 'temporal.log'));
  await registerSearchAttributes(temporal, temporalAddress);

  const s3 = s3ClientFor({ s3Endpoint, ...creds });
  try {
    await s3.send(new HeadBucketCommand({ Bucket: opts.bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: opts.bucket }));
  }
  s3.destroy();
  const info: StackInfo = {
    home: opts.home,
    temporalAddress,
    uiUrl: opts.headless ? null : `http://127.0.0.1:${opts.uiPort}`,
    s3Endpoint,
    bucket: opts.bucket,
    ...creds,
    temporalPid,
    minioPid,
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

/** Stops both servers; data (temporal.db, minio-data) stays for the next `up`. */
export async function stackDown(o: StackOptions = {}): Promise<void> {
  const opts = resolveOptions(o);
  const info = readJson<StackInfo>(path.join(opts.home, 'stack.json'));
  if (!info) return;
  await Promise.all([killAndWait(info.temporalPid), killAndWait(info.minioPid)]);
}

/** The env vars that point this project's clients and workers (lib/env.ts resolveRuntime) at a stack. */
export function stackEnv(info: StackInfo): Record<string, string> {
  return {
    MMEDPO_TEMPORAL_ADDRESS: info.temporalAddress,
    MMEDPO_S3_ENDPOINT: info.s3Endpoint,
    MMEDPO_S3_ACCESS_KEY_ID: info.accessKeyId,
    MMEDPO_S3_SECRET_ACCESS_KEY: info.secretAccessKey,
    MMEDPO_BUCKET: info.bucket,
    ...(info.uiUrl ? { MMEDPO_UI_URL: info.uiUrl } : {}),
  };
}

/** Restart only the Temporal server (same db file): used by durability tests. */
export async function restartTemporal(o: StackOptions = {}): Promise<StackInfo> {
  const opts = resolveOptions(o);
  const info = readJson<StackInfo>(path.join(opts.home, 'stack.json'));
  if (!info) throw new Error('no stack to restart');
  await killAndWait(info.temporalPid);
  return stackUp({
    ...opts,
    temporalPort: Number(info.temporalAddress.split(':').pop()),
    minioPort: Number(new URL(info.s3Endpoint).port),
    headless: info.uiUrl === null,
    ...(info.uiUrl ? { uiPort: Number(new URL(info.uiUrl).port) } : {}),
  });
}
