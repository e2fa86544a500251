// The codec server's HTTP contract in-process (the stack's own server is tested end to end in
// test/integration/codec.test.ts): mounting depth, token forms, malformed and oversized bodies.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { AesGcmCodec } from '../../lib/codec';
import { createCodecServer } from '../../lib/codec-server';

describe('codec server', () => {
  const token = randomBytes(32).toString('base64url');
  const codec = new AesGcmCodec([randomBytes(32)]);
  const server = createCodecServer({ codecs: () => [codec], token, allowedOrigins: ['http://127.0.0.1:8233'], maxBodyBytes: 4096 });
  let base = '';
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const payload = { metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('"chest x-ray: clear"').toString('base64') };
  const post = (p: string, body: string, headers: Record<string, string> = {}) => fetch(base + p, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  it('round-trips at any mount depth, with the token in the header or as the segment before encode/decode', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const enc = (await (await post('/encode', JSON.stringify({ payloads: [payload] }), auth)).json()) as { payloads: (typeof payload)[] };
    expect(Buffer.from(enc.payloads[0]!.data, 'base64').toString('latin1')).not.toContain('clear');
    for (const [p, h] of [['/decode', auth], ['/codec/default/decode', auth], [`/${token}/decode`, {}], [`/mounted/here/${token}/decode`, {}]] as const) {
      const r = await post(p, JSON.stringify(enc), h);
      expect(`${p} ${r.status}`).toBe(`${p} 200`);
      expect(((await r.json()) as { payloads: (typeof payload)[] }).payloads[0]).toEqual(payload);
    }
  });

  it('refuses what it should, without echoing anything', async () => {
    const auth = { authorization: `Bearer ${token}` };
    expect((await post('/decode', '{}')).status).toBe(401);
    expect((await post('/%E0%A4%A/decode', '{}')).status).toBe(401);
    expect((await fetch(`${base}/decode`, { headers: auth })).status).toBe(405);
    expect((await post('/other', '{}', auth)).status).toBe(404);
    expect((await post('/decode', 'not json', auth)).status).toBe(400);
    expect((await post('/decode', '{"x":1}', auth)).status).toBe(400);
    expect((await post('/decode', JSON.stringify({ payloads: [{ data: 'A'.repeat(8000) }] }), auth)).status).toBe(413);
    const foreign = await post('/decode', JSON.stringify({ payloads: [{ metadata: { encoding: Buffer.from('binary/encrypted').toString('base64'), 'encryption-key-id': Buffer.from('0123456789ab').toString('base64') }, data: 'AAAA' }] }), auth);
    expect(foreign.status).toBe(400);
    expect(((await foreign.json()) as { error: string }).error).toMatch(/key 0123456789ab/);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});
