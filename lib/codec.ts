// AES-256-GCM payload codec: medical text in workflow inputs, results, heartbeats, memos and
// failure messages is encrypted before it reaches the Temporal server. On by default.
//
// Keys form a ring (oldest → newest): a payload is encrypted with the newest key and names it by
// id in its metadata (`encryption-key-id`, the first 12 hex digits of sha256(key)); decoding picks
// whichever key the payload names, so a key can be added and histories written under the older
// ones still decode. Where the ring comes from (first match wins):
//   MMEDPO_PAYLOAD_ENCRYPTION=off        no codec: payloads in plaintext (explicit opt-out)
//   MMEDPO_PAYLOAD_KEYS                  comma-separated base64 32-byte keys, newest last
//                                        (MMEDPO_PAYLOAD_KEY: the same, kept for older set-ups)
//   MMEDPO_PAYLOAD_KEY_FILE              a key file (below)
//   <stack home>/payload-keys.json       the file `npx mmedpo stack up` generates once (mode 0600)
// With none of them a client or worker refuses to start rather than write plaintext.
// Key values never appear in a message or log line; ids do (they are not secret).
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { METADATA_ENCODING_KEY } from '@temporalio/common';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
export const PAYLOAD_KEY_FILE_NAME = 'payload-keys.json';
const enc = new TextEncoder();
const dec = new TextDecoder();

/** Key id recorded in each payload: sha256(key)[0:12] in hex (48 bits; says nothing about the key). */
export function payloadKeyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

/**
 * AES-256-GCM over the JSON of the payload (metadata + data, base64), body = iv(12) ‖ ciphertext ‖ tag(16).
 * `keys` is the ring, oldest first; encode uses the last. Payloads not marked `binary/encrypted`
 * decode as they are (histories written before encryption was on stay readable).
 * Errors: a key that is not 32 bytes; a payload naming a key id the ring does not hold; a tampered body.
 */
export class AesGcmCodec implements PayloadCodec {
  private readonly keys = new Map<string, Buffer>();
  readonly encodeKeyId: string;

  constructor(keys: Buffer | Buffer[]) {
    const ring = Array.isArray(keys) ? keys : [keys];
    if (!ring.length) throw new Error('payload key ring is empty');
    for (const [i, k] of ring.entries()) {
      if (k.length !== 32) throw new Error(`payload key #${i + 1} is ${k.length} bytes; AES-256-GCM needs 32 (base64 of 32 random bytes)`);
      this.keys.set(payloadKeyId(k), k);
    }
    this.encodeKeyId = payloadKeyId(ring[ring.length - 1]!);
  }

  /** Ids of the keys this codec can decode, oldest first. */
  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.keys.get(this.encodeKeyId)!;
    return payloads.map((p) => {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      const plain = Buffer.from(JSON.stringify({ metadata: mapBytes(p.metadata ?? {}), data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') }));
      const body = Buffer.concat([iv, c.update(plain), c.final(), c.getAuthTag()]);
      return { metadata: { [METADATA_ENCODING_KEY]: enc.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: enc.encode(this.encodeKeyId) }, data: body };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (!isEncrypted(p)) return p;
      const kid = dec.decode(p.metadata?.[KEY_ID_METADATA] ?? new Uint8Array());
      const key = this.keys.get(kid);
      if (!key)
        throw new Error(
          `payload encrypted with key ${kid || '(no id)'}, which this process's key ring (${this.keyIds.join(', ')}) does not hold: add that key to MMEDPO_PAYLOAD_KEYS or the key file`,
        );
      const body = Buffer.from(p.data ?? new Uint8Array());
      const d = createDecipheriv('aes-256-gcm', key, body.subarray(0, 12));
      d.setAuthTag(body.subarray(body.length - 16));
      const plain = Buffer.concat([d.update(body.subarray(12, body.length - 16)), d.final()]);
      const o = JSON.parse(plain.toString()) as { metadata: Record<string, string>; data: string };
      return {
        metadata: Object.fromEntries(Object.entries(o.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
        data: Buffer.from(o.data, 'base64'),
      };
    });
  }
}

function isEncrypted(p: Payload): boolean {
  return dec.decode(p.metadata?.[METADATA_ENCODING_KEY] ?? new Uint8Array()) === ENCRYPTED_ENCODING;
}

function mapBytes(m: Record<string, Uint8Array | null | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')]));
}

// ---------------------------------------------------------------- key files

/** A key file: `{ "keys": [{ "id", "key" (base64, 32 bytes), "createdAt" }] }`, oldest first, mode 0600. */
export interface PayloadKeyFile {
  keys: { id: string; key: string; createdAt: string }[];
}

function decodeKey(b64: string, where: string): Buffer {
  const k = Buffer.from(b64.trim(), 'base64');
  if (k.length !== 32) throw new Error(`${where}: a payload key must be base64 of 32 bytes, got ${k.length} bytes`);
  return k;
}

/** The ring of a key file, oldest first. Errors name the file, never a key. */
export function readPayloadKeyFile(file: string): Buffer[] {
  let parsed: PayloadKeyFile;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as PayloadKeyFile;
  } catch (e) {
    throw new Error(`cannot read payload key file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'not JSON'}`);
  }
  if (!Array.isArray(parsed?.keys) || !parsed.keys.length) throw new Error(`payload key file ${file} holds no keys`);
  return parsed.keys.map((k, i) => {
    const key = decodeKey(String(k.key ?? ''), `${file} key #${i + 1}`);
    if (k.id && k.id !== payloadKeyId(key)) throw new Error(`${file} key #${i + 1}: its id ${k.id} does not match the key`);
    return key;
  });
}

/** Writes `file` only if it does not exist yet (atomic: temp file + hard link), mode 0600. Returns false when it existed. */
export function writeSecretFileOnce(file: string, content: string): boolean {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, content, { mode: 0o600 });
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function newKeyEntry(): PayloadKeyFile['keys'][number] {
  const key = randomBytes(32);
  return { id: payloadKeyId(key), key: key.toString('base64'), createdAt: new Date().toISOString() };
}

/**
 * Generates the key file once (a stack's first `up`); later calls keep it as it is, so a restarted
 * stack never loses the key its histories were written with. Returns the ring's key ids.
 */
export function ensurePayloadKeyFile(file: string): string[] {
  writeSecretFileOnce(file, JSON.stringify({ keys: [newKeyEntry()] } satisfies PayloadKeyFile, null, 2) + '\n');
  fs.chmodSync(file, 0o600);
  return readPayloadKeyFile(file).map(payloadKeyId);
}

/**
 * Rotation: appends a new key, which becomes the encoding key of every process started afterwards;
 * the older keys stay for decoding. Restart workers, clients and the codec server to pick it up.
 */
export function addPayloadKey(file: string): string {
  const current = JSON.parse(fs.readFileSync(file, 'utf8')) as PayloadKeyFile;
  readPayloadKeyFile(file); // validate before touching it
  const entry = newKeyEntry();
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ keys: [...current.keys, entry] } satisfies PayloadKeyFile, null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
  return entry.id;
}

// ---------------------------------------------------------------- resolution

export type PayloadKeySource = { kind: 'off' } | { kind: 'env'; name: string; keys: Buffer[] } | { kind: 'file'; file: string; keys: Buffer[] };

/** Where this process's key ring comes from (see the header); throws when encryption is on and no key is found. */
export function resolvePayloadKeys(env: NodeJS.ProcessEnv = process.env): PayloadKeySource {
  const mode = (env.MMEDPO_PAYLOAD_ENCRYPTION ?? 'on').toLowerCase();
  if (mode === 'off') return { kind: 'off' };
  if (mode !== 'on') throw new Error(`MMEDPO_PAYLOAD_ENCRYPTION must be "on" or "off", got "${env.MMEDPO_PAYLOAD_ENCRYPTION}"`);
  for (const name of ['MMEDPO_PAYLOAD_KEYS', 'MMEDPO_PAYLOAD_KEY'] as const) {
    const v = env[name];
    if (!v) continue;
    const parts = v.split(',').filter((s) => s.trim());
    return { kind: 'env', name, keys: parts.map((s, i) => decodeKey(s, `${name} key #${i + 1}`)) };
  }
  const file = env.MMEDPO_PAYLOAD_KEY_FILE ?? path.join(path.resolve(env.MMEDPO_HOME ?? path.join(__dirname, '..', '.mmedpo')), PAYLOAD_KEY_FILE_NAME);
  if (env.MMEDPO_PAYLOAD_KEY_FILE || fs.existsSync(file)) return { kind: 'file', file, keys: readPayloadKeyFile(file) };
  throw new Error(
    `no payload key: payloads (medical text) are encrypted by default. Run \`npx mmedpo stack up\` (it generates ${file}), ` +
      'set MMEDPO_PAYLOAD_KEYS or MMEDPO_PAYLOAD_KEY_FILE, or set MMEDPO_PAYLOAD_ENCRYPTION=off to store payloads in plaintext',
  );
}

/** The codec list for client and worker data converters: one AES-GCM codec over the key ring, or none when opted out. */
export function payloadCodecs(env: NodeJS.ProcessEnv = process.env): PayloadCodec[] {
  const src = resolvePayloadKeys(env);
  return src.kind === 'off' ? [] : [new AesGcmCodec(src.keys)];
}

/**
 * Decodes, in place, every encrypted payload found anywhere inside `value` (a fetched history, a
 * describe() response's raw pending activities, …): each `{metadata, data}` marked
 * `binary/encrypted` gets its plaintext metadata and data; everything else (protobuf classes,
 * Longs) is left as it is. What Temporal's codec server does for the Web UI, for code that reads
 * raw protobufs (live heartbeat details, history checks). Returns `value`.
 */
export async function decodePayloadsIn<T>(value: T, codecs: PayloadCodec[]): Promise<T> {
  if (!codecs.length) return value;
  const seen = new Set<object>();
  const walk = async (v: unknown): Promise<void> => {
    if (v === null || typeof v !== 'object' || v instanceof Uint8Array || seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v)) {
      for (const x of v) await walk(x);
      return;
    }
    const o = v as Record<string, unknown>;
    if (o.data instanceof Uint8Array && o.metadata && typeof o.metadata === 'object' && isEncrypted(o as Payload)) {
      let p = o as Payload;
      for (const c of [...codecs].reverse()) [p] = await c.decode([p]);
      o.metadata = p.metadata;
      o.data = p.data;
      return;
    }
    for (const x of Object.values(o)) await walk(x);
  };
  await walk(value);
  return value;
}
