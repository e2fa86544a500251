// Artifact store over S3 (MinIO locally, AWS S3 or any S3 endpoint in production).
// Content-addressed: the key holds the sha256 of the bytes, so a re-put of the same
// bytes lands on the same key and writes no second object — which is what makes
// re-running an activity write the same keys.
import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
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
}

function isMissing(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e instanceof NotFound || e instanceof NoSuchKey || err.name === 'NotFound' || err.name === 'NoSuchKey' || err.$metadata?.httpStatusCode === 404;
}

export class ArtifactStore {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;

  constructor(o: ArtifactStoreOptions) {
    this.client = o.client;
    this.bucket = o.bucket;
    this.prefix = o.prefix ? o.prefix.replace(/^\/+|\/+$/g, '') + '/' : '';
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
    if (!(await this.exists(key))) {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentType: o.contentType ?? 'application/octet-stream', ChecksumSHA256: Buffer.from(sha, 'hex').toString('base64') }),
      );
    }
    return { key, sha256: sha, size: bytes.byteLength };
  }

  /** Content-addressed JSON (canonical key order, so equal values → equal keys). */
  async putJson(kind: string, value: unknown): Promise<StoredObject> {
    return this.putBytes(kind, Buffer.from(canonicalJson(value)), { ext: '.json', contentType: 'application/json' });
  }

  /** A put under a caller-chosen key (cache entries, pointers). Same bytes twice → no-op. */
  async putAt(key: string, bytes: Uint8Array, contentType = 'application/octet-stream'): Promise<StoredObject> {
    const sha = sha256Hex(bytes);
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentType: contentType }));
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
