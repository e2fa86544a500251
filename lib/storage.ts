// Artifact store over S3 (MinIO locally, AWS S3 or any S3 endpoint in production).
// Content-addressed: the key holds the sha256 of the bytes, so a re-put of the same
// bytes lands on the same key and writes no second object — which is what makes
// re-running an activity write the same keys.
//
// Encrypted at rest: every put goes through one method (`put`) that asks for server-side
// encryption — SSE-S3 (AES256) by default, which the local MinIO serves with its KMS key and AWS
// S3 with its own keys; MMEDPO_S3_SSE=aws:kms (+ MMEDPO_S3_SSE_KMS_KEY_ID) for SSE-KMS, or
// MMEDPO_S3_SSE=off for an S3-compatible store without SSE (its own at-rest encryption then).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  PutObjectCommandInput,
  S3Client,
  ServerSideEncryption,
  NotFound,
  NoSuchKey,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { canonicalJson, sha256Hex } from './hash';

export interface StoredObject {
  key: string;
  sha256: string;
  size: number;
}

export interface ArtifactStoreOptions {
  client: S3Client;
  bucket: string;
  /** Optional key prefix (e.g. per deployment), always ends without a leading slash. */
  prefix?: string;
  /** Server-side encryption asked on every put; default from the environment (sseFromEnv). */
  sse?: SseSettings;
}

/** The SSE headers of a put: none (`off`), SSE-S3 (`AES256`) or SSE-KMS (`aws:kms`, optional key id). */
export type SseSettings = { mode: 'off' } | { mode: 'AES256' } | { mode: 'aws:kms'; kmsKeyId?: string };

/** MMEDPO_S3_SSE: AES256 (default) | aws:kms | off; MMEDPO_S3_SSE_KMS_KEY_ID for aws:kms. */
export function sseFromEnv(env: NodeJS.ProcessEnv = process.env): SseSettings {
  const v = env.MMEDPO_S3_SSE ?? 'AES256';
  if (v === 'off' || v === 'AES256') return { mode: v };
  if (v === 'aws:kms') return { mode: v, ...(env.MMEDPO_S3_SSE_KMS_KEY_ID ? { kmsKeyId: env.MMEDPO_S3_SSE_KMS_KEY_ID } : {}) };
  throw new Error(`MMEDPO_S3_SSE must be AES256, aws:kms or off, got "${v}"`);
}

function isMissing(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e instanceof NotFound || e instanceof NoSuchKey || err.name === 'NotFound' || err.name === 'NoSuchKey' || err.$metadata?.httpStatusCode === 404;
}

/** Bound of the per-process cache of immutable JSON (UTF-16 code units ≈ bytes for the texts kept). */
const IMMUTABLE_CACHE_BYTES = 32 << 20;
const immutableCache = new Map<string, string>();
let immutableCacheBytes = 0;

export class ArtifactStore {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  readonly sse: SseSettings;

  constructor(o: ArtifactStoreOptions) {
    this.client = o.client;
    this.bucket = o.bucket;
    this.prefix = o.prefix ? o.prefix.replace(/^\/+|\/+$/g, '') + '/' : '';
    this.sse = o.sse ?? sseFromEnv();
  }

  /** The one put of the store: every object is written here, with the SSE headers. */
  private async put(key: string, body: PutObjectCommandInput['Body'], o: { contentType: string; contentLength?: number; sha256?: string }): Promise<void> {
    const sse =
      this.sse.mode === 'off'
        ? {}
        : { ServerSideEncryption: this.sse.mode as ServerSideEncryption, ...(this.sse.mode === 'aws:kms' && this.sse.kmsKeyId ? { SSEKMSKeyId: this.sse.kmsKeyId } : {}) };
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: o.contentType,
        ...(o.contentLength !== undefined ? { ContentLength: o.contentLength } : {}),
        ...(o.sha256 ? { ChecksumSHA256: Buffer.from(o.sha256, 'hex').toString('base64') } : {}),
        ...sse,
      }),
    );
  }

  /** Key layout: <prefix><kind>/<sha[0:2]>/<sha><ext>. */
  contentKey(kind: string, sha: string, ext = ''): string {
    return `${this.prefix}${kind}/${sha.slice(0, 2)}/${sha}${ext}`;
  }

  namedKey(name: string): string {
    return `${this.prefix}${name}`;
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
  }

  /** Content-addressed put; idempotent (a HEAD first, no second object for the same bytes). */
  async putBytes(kind: string, bytes: Uint8Array, o: { ext?: string; contentType?: string } = {}): Promise<StoredObject> {
    const sha = sha256Hex(bytes);
    const key = this.contentKey(kind, sha, o.ext ?? '');
    if (!(await this.exists(key))) await this.put(key, bytes, { contentType: o.contentType ?? 'application/octet-stream', sha256: sha });
    return { key, sha256: sha, size: bytes.byteLength };
  }

  /**
   * Content-addressed put of a file, streamed (checkpoints of big models do not fit in a Buffer):
   * one read to hash, one to upload; a single PUT, so at most 5 GiB on AWS S3.
   */
  async putFile(kind: string, file: string, o: { ext?: string; contentType?: string } = {}): Promise<StoredObject> {
    const h = createHash('sha256');
    for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
    const sha = h.digest('hex');
    const key = this.contentKey(kind, sha, o.ext ?? '');
    const { size } = await fs.promises.stat(file);
    if (!(await this.exists(key))) await this.put(key, fs.createReadStream(file), { contentType: o.contentType ?? 'application/octet-stream', contentLength: size, sha256: sha });
    return { key, sha256: sha, size };
  }

  /** Content-addressed JSON (canonical key order, so equal values → equal keys). */
  async putJson(kind: string, value: unknown): Promise<StoredObject> {
    return this.putBytes(kind, Buffer.from(canonicalJson(value)), { ext: '.json', contentType: 'application/json' });
  }

  /** A put under a caller-chosen key (cache entries, pointers). Same bytes twice → no-op. */
  async putAt(key: string, bytes: Uint8Array, contentType = 'application/octet-stream'): Promise<StoredObject> {
    const sha = sha256Hex(bytes);
    await this.put(key, bytes, { contentType });
    return { key, sha256: sha, size: bytes.byteLength };
  }

  async putJsonAt(key: string, value: unknown): Promise<StoredObject> {
    return this.putAt(key, Buffer.from(canonicalJson(value)), 'application/json');
  }

  async getStream(key: string): Promise<Readable> {
    const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return r.Body as Readable;
  }

  async getBytes(key: string): Promise<Buffer> {
    const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return Buffer.from(await r.Body!.transformToByteArray());
  }

  /** undefined when the key does not exist. */
  async tryGetBytes(key: string): Promise<Buffer | undefined> {
    try {
      return await this.getBytes(key);
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  async getJson<T = unknown>(key: string): Promise<T> {
    return JSON.parse((await this.getBytes(key)).toString('utf8')) as T;
  }

  /**
   * JSON of a content-addressed key (its bytes never change), kept in a per-process LRU of at most
   * IMMUTABLE_CACHE_BYTES: the text a model call reads (item text, candidates, votes) is read by
   * several calls of the same item on the same worker, one GET each otherwise. Only for keys made by
   * `putJson`/`putBytes`; a key written with `putJsonAt` may be overwritten and must not come here.
   */
  async getImmutableJson<T = unknown>(key: string): Promise<T> {
    const id = `${this.bucket}\u0000${key}`;
    const hit = immutableCache.get(id);
    if (hit) {
      immutableCache.delete(id); // re-insert: most recent last
      immutableCache.set(id, hit);
      return JSON.parse(hit) as T;
    }
    const text = (await this.getBytes(key)).toString('utf8');
    const value = JSON.parse(text) as T;
    if (text.length <= IMMUTABLE_CACHE_BYTES / 16 && !immutableCache.has(id)) {
      immutableCache.set(id, text);
      immutableCacheBytes += text.length;
      while (immutableCacheBytes > IMMUTABLE_CACHE_BYTES) {
        const [oldest, t] = immutableCache.entries().next().value as [string, string];
        immutableCache.delete(oldest);
        immutableCacheBytes -= t.length;
      }
    }
    return value;
  }

  async tryGetJson<T = unknown>(key: string): Promise<T | undefined> {
    const b = await this.tryGetBytes(key);
    return b === undefined ? undefined : (JSON.parse(b.toString('utf8')) as T);
  }

  async presign(key: string, expiresInSeconds = 3600): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: expiresInSeconds });
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const r = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of r.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }
}
