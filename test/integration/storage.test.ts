import { artifactStore } from '../../lib/env';

describe('artifact store on real MinIO', () => {
  const store = artifactStore();

  it('content-addresses puts: same bytes → same key, one object', async () => {
    const bytes = Buffer.from(`hello ${process.pid} ${Date.now()}`);
    const a = await store.putBytes('test-blobs', bytes, { ext: '.txt' });
    const b = await store.putBytes('test-blobs', Buffer.from(bytes));
    expect(a.key).toMatch(/^test-blobs\/[0-9a-f]{2}\/[0-9a-f]{64}\.txt$/);
    expect(b.key).toBe(a.key.replace(/\.txt$/, ''));
    const c = await store.putBytes('test-blobs', bytes, { ext: '.txt' });
    expect(c.key).toBe(a.key);
    const listed = await store.list(a.key);
    expect(listed).toEqual([a.key]);
    expect((await store.getBytes(a.key)).equals(bytes)).toBe(true);
  });

  it('canonical JSON: key order does not change the key', async () => {
    const a = await store.putJson('test-json', { b: 1, a: [1, { d: 2, c: 3 }], t: process.pid });
    const b = await store.putJson('test-json', { t: process.pid, a: [1, { c: 3, d: 2 }], b: 1 });
    expect(a.key).toBe(b.key);
    expect(await store.getJson(a.key)).toEqual({ a: [1, { c: 3, d: 2 }], b: 1, t: process.pid });
  });

  it('streams, presigns and reports missing keys', async () => {
    const put = await store.putBytes('test-blobs', Buffer.alloc(1 << 20, 7));
    const chunks: Buffer[] = [];
    for await (const c of await store.getStream(put.key)) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).length).toBe(1 << 20);
    const url = await store.presign(put.key, 60);
    const r = await fetch(url);
    expect(r.status).toBe(200);
    expect((await r.arrayBuffer()).byteLength).toBe(1 << 20);
    expect(await store.tryGetBytes('test-blobs/none/such-key')).toBeUndefined();
    expect(await store.exists(put.key)).toBe(true);
  });
});
