// The payload codec's key ring, key files and where a process finds its keys (issue 18).
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { stackSecrets } from '../../infra/stack';
import { addPayloadKey, AesGcmCodec, decodePayloadsIn, ensurePayloadKeyFile, payloadCodecs, payloadKeyId, readPayloadKeyFile, resolvePayloadKeys } from '../../lib/codec';

const text = 'Findings: 2 cm nodule in the right upper lobe';
const b64 = (k: Buffer) => k.toString('base64');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-codec-'));

describe('AES-GCM codec with a key ring', () => {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);

  it('encrypts with the newest key, names it, and decodes with whichever key a payload names', async () => {
    const plain = defaultPayloadConverter.toPayload(text);
    const [underK1] = await new AesGcmCodec([k1]).encode([plain]);
    expect(Buffer.from(underK1!.metadata!.encoding!).toString()).toBe('binary/encrypted');
    expect(Buffer.from(underK1!.metadata!['encryption-key-id']!).toString()).toBe(payloadKeyId(k1));
    expect(Buffer.from(underK1!.data!).toString('latin1')).not.toContain('nodule');
    // Key 2 added: new payloads use it, the old one still decodes.
    const ring = new AesGcmCodec([k1, k2]);
    const [underK2] = await ring.encode([plain]);
    expect(Buffer.from(underK2!.metadata!['encryption-key-id']!).toString()).toBe(payloadKeyId(k2));
    for (const p of [underK1!, underK2!]) expect(defaultPayloadConverter.fromPayload((await ring.decode([p]))[0]!)).toBe(text);
    // A ring without key 1 names the missing id, never a key.
    const err = await new AesGcmCodec([k2]).decode([underK1!]).catch((e: Error) => e);
    expect((err as Error).message).toContain(payloadKeyId(k1));
    expect((err as Error).message).not.toContain(b64(k1));
    // Plaintext payloads (histories from before encryption) pass through.
    expect((await ring.decode([plain]))[0]).toBe(plain);
    // Tampering fails GCM's tag check.
    const flipped = Buffer.from(underK2!.data!);
    flipped[20]! ^= 1;
    const bad = { ...underK2!, data: flipped };
    await expect(ring.decode([bad])).rejects.toThrow();
  });

  it('decodes payloads in place inside raw protobuf-like objects', async () => {
    const [p] = await new AesGcmCodec([k1]).encode([defaultPayloadConverter.toPayload({ step: 7 })]);
    const history = { events: [{ eventId: { low: 5, toString: () => '5' }, attrs: { result: { payloads: [p] } } }] };
    await decodePayloadsIn(history, payloadCodecs({ MMEDPO_PAYLOAD_KEYS: b64(k1) }));
    expect(defaultPayloadConverter.fromPayload(history.events[0]!.attrs.result.payloads[0]!)).toEqual({ step: 7 });
    expect(String(history.events[0]!.eventId)).toBe('5'); // class instances (Longs) are left alone
  });
});

describe('where a process finds its payload keys', () => {
  it('env keys, then a key file, then the stack home; off only when asked; none found is an error', () => {
    const home = tmp();
    const k = randomBytes(32);
    expect(() => resolvePayloadKeys({ MMEDPO_HOME: home })).toThrow(/no payload key.*stack up.*MMEDPO_PAYLOAD_ENCRYPTION=off/s);
    expect(resolvePayloadKeys({ MMEDPO_HOME: home, MMEDPO_PAYLOAD_ENCRYPTION: 'off' })).toEqual({ kind: 'off' });
    expect(payloadCodecs({ MMEDPO_HOME: home, MMEDPO_PAYLOAD_ENCRYPTION: 'off' })).toEqual([]);
    expect(() => resolvePayloadKeys({ MMEDPO_PAYLOAD_ENCRYPTION: 'of' })).toThrow(/"on" or "off"/);
    const file = path.join(home, 'payload-keys.json');
    const [id] = ensurePayloadKeyFile(file);
    expect(resolvePayloadKeys({ MMEDPO_HOME: home })).toMatchObject({ kind: 'file', file });
    expect(resolvePayloadKeys({ MMEDPO_HOME: home, MMEDPO_PAYLOAD_KEYS: `${b64(k)}` })).toMatchObject({ kind: 'env', name: 'MMEDPO_PAYLOAD_KEYS' });
    expect((payloadCodecs({ MMEDPO_PAYLOAD_KEY_FILE: file })[0] as AesGcmCodec).encodeKeyId).toBe(id);
    const short = resolvePayloadKeys.bind(null, { MMEDPO_PAYLOAD_KEYS: b64(randomBytes(16)) });
    expect(short).toThrow(/32 bytes, got 16/);
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('a key file is generated once (0600), never rewritten, and rotation appends', () => {
    const home = tmp();
    const file = path.join(home, 'payload-keys.json');
    const ids = ensurePayloadKeyFile(file);
    const before = fs.readFileSync(file, 'utf8');
    expect(ensurePayloadKeyFile(file)).toEqual(ids);
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const newId = addPayloadKey(file);
    const ring = readPayloadKeyFile(file).map(payloadKeyId);
    expect(ring).toEqual([...ids, newId]);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect((payloadCodecs({ MMEDPO_PAYLOAD_KEY_FILE: file })[0] as AesGcmCodec).encodeKeyId).toBe(newId);
    fs.rmSync(home, { recursive: true, force: true });
  });

  it("a stack's secrets survive every later call (a restarted stack keeps its keys)", () => {
    const home = tmp();
    const first = stackSecrets(home);
    const files = ['payload-keys.json', 'minio-kms-key', 'codec-server-token'].map((f) => path.join(home, f));
    const contents = files.map((f) => fs.readFileSync(f, 'utf8'));
    expect(stackSecrets(home)).toEqual(first);
    expect(files.map((f) => fs.readFileSync(f, 'utf8'))).toEqual(contents);
    for (const f of files) expect(fs.statSync(f).mode & 0o777).toBe(0o600);
    expect(first.minioKmsKey).toMatch(/^mmedpo-sse:[A-Za-z0-9+/]{43}=$/);
    expect(first.codecServerToken.length).toBeGreaterThanOrEqual(40);
    fs.rmSync(home, { recursive: true, force: true });
  });
});
