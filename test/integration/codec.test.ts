// Payload encryption on by default (issue 18): with no configuration at all, a workflow's history
// holds only `binary/encrypted` payloads; the stack's codec server decodes them for a request with
// its token (and for Temporal's own CLI), refuses one without or from another origin, and is wired
// into the Web UI; a history written under key 1 still decodes after key 2 is added.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import * as activities from '../../activities';
import { PROJECT_ROOT } from '../../infra/stack';
import { payloadKeyId, resolvePayloadKeys } from '../../lib/codec';
import { ensurePhantomDataset } from '../../lib/phantom-dataset';
import { dataConverter } from '../../lib/temporal';
import { connectClient, makeWorker, temporalAddress, uniqueQueue } from '../helpers/temporal';

const ROOT = path.join(os.tmpdir(), `mmedpo-phantom-codec-${process.pid}`);
const dec = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString('utf8');

/** Every payload of a raw (undecoded) history, except search attributes (never encoded, ids only). */
function payloadsOf(v: unknown, out: Payload[] = [], key = ''): Payload[] {
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array || key === 'searchAttributes') return out;
  const o = v as Record<string, unknown>;
  if (o.metadata && typeof o.metadata === 'object' && (o.data === undefined || o.data instanceof Uint8Array) && 'encoding' in (o.metadata as object)) out.push(o as Payload);
  else for (const [k, x] of Object.entries(o)) payloadsOf(x, out, k);
  return out;
}

const toJson = (ps: Payload[]) => ({ payloads: ps.map((p) => ({ metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, x]) => [k, Buffer.from(x!).toString('base64')])), data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') })) });
const fromJson = (j: { payloads: { data: string }[] }) => j.payloads.map((p) => Buffer.from(p.data, 'base64').toString('utf8')).join('\n');

describe('payload encryption by default', () => {
  const taskQueue = uniqueQueue('codec');
  let worker: Awaited<ReturnType<typeof makeWorker>>;
  let running: Promise<void>;
  let client: Awaited<ReturnType<typeof connectClient>>;
  let raw: Client;
  let codec: { url: string; token: string; uiUrl: string };
  let first: { id: string; manifestKey: string } | undefined;

  beforeAll(async () => {
    await ensurePhantomDataset({ out: ROOT, studies: 6, size: 64, seed: 5, testFraction: 0.3 });
    worker = await makeWorker({ taskQueue, activities });
    running = worker.worker.run();
    client = await connectClient();
    raw = new Client({ connection: client.connection }); // no codec: what the server holds
    const home = process.env.MMEDPO_TEST_STACK_HOME!;
    const info = JSON.parse(fs.readFileSync(path.join(home, 'stack.json'), 'utf8')) as { codecServerUrl: string; uiUrl: string };
    codec = { url: info.codecServerUrl, uiUrl: info.uiUrl, token: fs.readFileSync(path.join(home, 'codec-server-token'), 'utf8').trim() };
  });
  afterAll(async () => {
    worker.worker.shutdown();
    await running;
    await worker.connection.close();
    await client.connection.close();
    fs.rmSync(ROOT, { recursive: true, force: true });
  });

  const ingest = (c: Client, workflowId: string) =>
    c.workflow.execute('ingestWorkflow', {
      taskQueue,
      workflowId,
      args: [{ format: 'phantom', root: ROOT, chunkSize: 10 }],
      memo: { root: ROOT },
      staticSummary: `ingest of ${ROOT}`,
    }) as Promise<{ items: number; manifestKey: string }>;

  it('with no configuration, every payload in history is binary/encrypted; the codec server decodes them for the token holder', async () => {
    // Nothing configured: no key in the environment; the stack's key file is what the process found.
    expect(process.env.MMEDPO_PAYLOAD_KEYS ?? process.env.MMEDPO_PAYLOAD_KEY ?? process.env.MMEDPO_PAYLOAD_ENCRYPTION).toBeUndefined();
    const src = resolvePayloadKeys();
    expect(src.kind).toBe('file');
    const id = `codec-${Date.now()}`;
    const result = await ingest(client.client, id);
    expect(result.items).toBeGreaterThan(10);
    first = { id, manifestKey: result.manifestKey };

    const history = await raw.workflow.getHandle(id).fetchHistory();
    const payloads = payloadsOf(history);
    expect(payloads.length).toBeGreaterThan(5); // input, memo, summary, activity inputs/results, result
    const encodings = new Set(payloads.map((p) => dec(p.metadata!.encoding)));
    expect([...encodings]).toEqual(['binary/encrypted']);
    const keyId = payloadKeyId((src as { keys: Buffer[] }).keys.at(-1)!);
    expect(new Set(payloads.map((p) => dec(p.metadata!['encryption-key-id'])))).toEqual(new Set([keyId]));
    const ciphertext = payloads.map((p) => Buffer.from(p.data!).toString('latin1')).join('\n');
    expect(ciphertext).not.toContain(ROOT);
    expect(ciphertext).not.toContain(result.manifestKey);

    // The stack's codec server (protocol: POST /decode, proto3-JSON payloads) returns the plaintext.
    const r = await fetch(`${codec.url}/decode`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-namespace': 'default', authorization: `Bearer ${codec.token}` }, body: JSON.stringify(toJson(payloads)) });
    expect(r.status).toBe(200);
    const plain = fromJson((await r.json()) as { payloads: { data: string }[] });
    expect(plain).toContain(ROOT);
    expect(plain).toContain(result.manifestKey);

    // Temporal's own CLI speaks the protocol: with the token it shows the plaintext, without it it cannot.
    const temporal = path.join(PROJECT_ROOT, '.mmedpo', 'bin', 'temporal');
    const show = (extra: string[]) => {
      try {
        return execFileSync(temporal, ['workflow', 'show', '--address', temporalAddress(), '-w', id, '--output', 'json', '--codec-endpoint', codec.url, ...extra], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
      } catch (e) {
        return `failed: ${(e as { stderr?: string }).stderr ?? ''}`;
      }
    };
    const readable = (out: string) => out + [...out.matchAll(/"data":\s*"([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('utf8')).join('\n');
    expect(readable(show(['--codec-auth', `Bearer ${codec.token}`]))).toContain(result.manifestKey);
    expect(readable(show([]))).not.toContain(result.manifestKey);
  });

  it('the codec server: bearer token required, only the Web UI origin, and the Web UI is wired to it', async () => {
    const [p] = await dataConverter()!.payloadCodecs[0]!.encode([{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"impression: no acute disease"') }]);
    const body = JSON.stringify(toJson([p!]));
    const post = (url: string, headers: Record<string, string> = {}) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const bearer = { authorization: `Bearer ${codec.token}` };
    expect((await post(`${codec.url}/decode`)).status).toBe(401);
    expect((await post(`${codec.url}/decode`, { authorization: `Bearer ${randomBytes(32).toString('base64url')}` })).status).toBe(401);
    expect((await post(`${codec.url}/${randomBytes(32).toString('base64url')}/decode`)).status).toBe(401);
    const ok = await post(`${codec.url}/decode`, bearer);
    expect(ok.status).toBe(200);
    expect(fromJson((await ok.json()) as { payloads: { data: string }[] })).toBe('"impression: no acute disease"');
    // The Web UI sends no custom headers: its endpoint holds the token as the path segment before /decode.
    const settings = (await (await fetch(`${codec.uiUrl}/api/v1/settings`)).json()) as { Codec: { Endpoint: string } };
    expect(settings.Codec.Endpoint).toBe(`${codec.url}/${codec.token}`);
    expect((await post(`${settings.Codec.Endpoint}/decode`)).status).toBe(200);
    // CORS: the UI's origin (as 127.0.0.1 or localhost) may call, with x-namespace and authorization.
    const uiOrigin = new URL(codec.uiUrl).origin;
    for (const origin of [uiOrigin, uiOrigin.replace('127.0.0.1', 'localhost')]) {
      const pre = await fetch(`${settings.Codec.Endpoint}/decode`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace,authorization' } });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe(origin);
      expect(pre.headers.get('access-control-allow-headers')).toMatch(/x-namespace.*authorization/);
      const r = await post(`${settings.Codec.Endpoint}/decode`, { origin, 'x-namespace': 'default' });
      expect(r.status).toBe(200);
      expect(r.headers.get('access-control-allow-origin')).toBe(origin);
    }
    // Another origin is refused even with the token; no CORS header lets a page read anything.
    for (const origin of ['http://evil.example', `http://127.0.0.1:${Number(new URL(codec.uiUrl).port) + 1}`]) {
      const pre = await fetch(`${codec.url}/decode`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
      expect(pre.status).toBe(403);
      expect(pre.headers.get('access-control-allow-origin')).toBeNull();
      const r = await post(`${codec.url}/decode`, { origin, ...bearer });
      expect(r.status).toBe(403);
      expect(await r.text()).not.toContain('impression');
    }
    // No secret of the stack in any of its logs (codec server, Temporal, MinIO).
    const home = process.env.MMEDPO_TEST_STACK_HOME!;
    const secrets = [codec.token, fs.readFileSync(path.join(home, 'minio-kms-key'), 'utf8').trim().split(':')[1]!, ...(JSON.parse(fs.readFileSync(path.join(home, 'payload-keys.json'), 'utf8')) as { keys: { key: string }[] }).keys.map((k) => k.key)];
    for (const f of fs.readdirSync(path.join(home, 'logs'))) {
      const log = fs.readFileSync(path.join(home, 'logs', f), 'utf8');
      for (const x of secrets) expect(`${f}: ${log.includes(x)}`).toBe(`${f}: false`);
    }
    // /encode round trip.
    const enc = await fetch(`${codec.url}/encode`, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer }, body: JSON.stringify(toJson([{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"x"') }])) });
    const encoded = (await enc.json()) as { payloads: { metadata: Record<string, string> }[] };
    expect(Buffer.from(encoded.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('binary/encrypted');
  });

  it('a history written under key 1 still decodes after key 2 is added; new payloads use key 2', async () => {
    const k1 = randomBytes(32).toString('base64');
    const k2 = randomBytes(32).toString('base64');
    const ring1 = { MMEDPO_PAYLOAD_KEYS: k1 };
    const ring12 = { MMEDPO_PAYLOAD_KEYS: `${k1},${k2}` };
    const queue = uniqueQueue('codec-rotation');
    const keyIdsOf = async (id: string) => new Set(payloadsOf(await raw.workflow.getHandle(id).fetchHistory()).map((p) => dec(p.metadata!['encryption-key-id'])));
    const id1 = `codec-k1-${Date.now()}`;
    const id2 = `codec-k2-${Date.now()}`;
    const run = async (ring: NodeJS.ProcessEnv, id: string) => {
      const w = await makeWorker({ taskQueue: queue, activities, dataConverter: dataConverter(ring) });
      const c = new Client({ connection: client.connection, dataConverter: dataConverter(ring) });
      await w.worker.runUntil(c.workflow.execute('ingestWorkflow', { taskQueue: queue, workflowId: id, args: [{ format: 'phantom', root: ROOT, chunkSize: 10 }] }));
      await w.connection.close();
    };
    await run(ring1, id1);
    expect(await keyIdsOf(id1)).toEqual(new Set([payloadKeyId(Buffer.from(k1, 'base64'))]));
    // Key 2 added: the workers and clients restarted with the ring [k1, k2].
    await run(ring12, id2);
    expect(await keyIdsOf(id2)).toEqual(new Set([payloadKeyId(Buffer.from(k2, 'base64'))]));
    const after = new Client({ connection: client.connection, dataConverter: dataConverter(ring12) });
    const old = (await after.workflow.getHandle(id1).result()) as { manifestKey: string };
    expect(old.manifestKey).toBe(((await after.workflow.getHandle(id2).result()) as { manifestKey: string }).manifestKey);
    // Control: a client holding only key 2 cannot read the key-1 history, and says which key it lacks.
    const only2 = new Client({ connection: client.connection, dataConverter: dataConverter({ MMEDPO_PAYLOAD_KEYS: k2 }) });
    const err = (await only2.workflow.getHandle(id1).result().catch((e: Error) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain(payloadKeyId(Buffer.from(k1, 'base64')));
    expect(err.message).not.toContain(k1);
  });
});
