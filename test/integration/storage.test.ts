import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateBucketCommand, GetBucketEncryptionCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { artifactStore } from '../../lib/env';
import { ArtifactStore, type SseSettings } from '../../lib/storage';

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

  it('encrypts every object at rest: each put path asks for SSE and HeadObject reports it', async () => {
    const head = (key: string) => store.client.send(new HeadObjectCommand({ Bucket: store.bucket, Key: key }));
    const tag = `${process.pid} ${Date.now()}`; // fresh bytes: a content-addressed key seen before is not re-put
    const bytes = await store.putBytes('test-sse', Buffer.from(`bytes ${tag}`));
    const at = await store.putJsonAt(`test-sse/named-${tag.replace(' ', '-')}.json`, { tag });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-sse-'));
    const file = path.join(dir, 'ckpt.tar');
    fs.writeFileSync(file, Buffer.alloc(3 << 20, tag));
    const streamed = await store.putFile('test-sse', file, { ext: '.tar', contentType: 'application/x-tar' });
    fs.rmSync(dir, { recursive: true, force: true });
    expect(streamed.size).toBe(3 << 20);
    expect((await store.getBytes(streamed.key)).equals(Buffer.alloc(3 << 20, tag))).toBe(true);
    for (const key of [bytes.key, at.key, streamed.key]) expect(`${key}: ${(await head(key)).ServerSideEncryption}`).toBe(`${key}: AES256`);
    // The bucket default covers a client that asks for nothing (MinIO encrypts with its KMS key).
    const enc = await store.client.send(new GetBucketEncryptionCommand({ Bucket: store.bucket }));
    expect(enc.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm).toBe('AES256');
    const bare = `test-sse/bare-${tag.replace(' ', '-')}`;
    await store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: bare, Body: 'x' }));
    expect((await head(bare)).ServerSideEncryption).toBe('AES256');
    // Control, in a bucket without that default: the store's own header is what encrypts; with SSE
    // off nothing does. SSE-KMS names MinIO's key as it would an AWS KMS key.
    const bucket = `test-sse-${process.pid}-${Date.now().toString(36)}`;
    await store.client.send(new CreateBucketCommand({ Bucket: bucket }));
    const inBucket = (sse?: SseSettings) => new ArtifactStore({ client: store.client, bucket, ...(sse ? { sse } : {}) });
    const headIn = async (key: string) => (await store.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ServerSideEncryption;
    expect(await headIn((await inBucket().putAt('default', Buffer.from(tag))).key)).toBe('AES256');
    expect(await headIn((await inBucket({ mode: 'off' }).putAt('off', Buffer.from(tag))).key)).toBeUndefined();
    expect(await headIn((await inBucket({ mode: 'aws:kms', kmsKeyId: 'mmedpo-sse' }).putAt('kms', Buffer.from(tag))).key)).toBe('aws:kms');
  });
});
