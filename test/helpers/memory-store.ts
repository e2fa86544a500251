// An in-memory ArtifactStore for unit tests: the same key layout (content-addressed
// <prefix><kind>/<sha[0:2]>/<sha><ext>, canonical JSON) and the calls the activities make, with no S3.
// Use it where a test needs real producers (e.g. activities/visual.ts) and readers of records without
// MinIO: jest.mock('../../lib/env', () => ({ artifactStore: () => store })).
import { canonicalJson, sha256Hex } from '../../lib/hash';
import type { StoredObject } from '../../lib/storage';

export class MemoryStore {
  readonly objects = new Map<string, Buffer>();
  constructor(readonly prefix = '') {}

  namedKey(name: string): string {
    return `${this.prefix}${name}`;
  }
  contentKey(kind: string, sha: string, ext = ''): string {
    return `${this.prefix}${kind}/${sha.slice(0, 2)}/${sha}${ext}`;
  }
  async exists(key: string): Promise<boolean> {
    return this.objects.has(key);
  }
  async putBytes(kind: string, bytes: Uint8Array, o: { ext?: string; contentType?: string } = {}): Promise<StoredObject> {
    const sha = sha256Hex(bytes);
    const key = this.contentKey(kind, sha, o.ext ?? '');
    this.objects.set(key, Buffer.from(bytes));
    return { key, sha256: sha, size: bytes.byteLength };
  }
  async putJson(kind: string, value: unknown): Promise<StoredObject> {
    return this.putBytes(kind, Buffer.from(canonicalJson(value)), { ext: '.json' });
  }
  async putAt(key: string, bytes: Uint8Array): Promise<StoredObject> {
    this.objects.set(key, Buffer.from(bytes));
    return { key, sha256: sha256Hex(bytes), size: bytes.byteLength };
  }
  async putJsonAt(key: string, value: unknown): Promise<StoredObject> {
    return this.putAt(key, Buffer.from(canonicalJson(value)));
  }
  async getBytes(key: string): Promise<Buffer> {
    const b = this.objects.get(key);
    if (!b) throw Object.assign(new Error(`NoSuchKey: ${key}`), { name: 'NoSuchKey' });
    return b;
  }
  async tryGetBytes(key: string): Promise<Buffer | undefined> {
    return this.objects.get(key);
  }
  async getJson<T = unknown>(key: string): Promise<T> {
    return JSON.parse((await this.getBytes(key)).toString('utf8')) as T;
  }
  async tryGetJson<T = unknown>(key: string): Promise<T | undefined> {
    const b = this.objects.get(key);
    return b === undefined ? undefined : (JSON.parse(b.toString('utf8')) as T);
  }
  /** Keys under `prefix`, in S3's order (lexicographic). */
  async list(prefix: string): Promise<string[]> {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
}
