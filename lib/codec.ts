// AES-256-GCM payload codec: medical text in workflow inputs/results is encrypted
// before it reaches the Temporal server. Enabled when MMEDPO_PAYLOAD_KEY holds a
// base64 32-byte key (the key itself never leaves the process). The key id is
// recorded in metadata so keys can be rotated.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { METADATA_ENCODING_KEY } from '@temporalio/common';

const ENCODING = 'binary/encrypted';
const enc = new TextEncoder();
const dec = new TextDecoder();

export class AesGcmCodec implements PayloadCodec {
  private readonly keyId: string;
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('payload key must be 32 bytes (base64 in MMEDPO_PAYLOAD_KEY)');
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 12);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', this.key, iv);
      const plain = Buffer.from(JSON.stringify({ metadata: mapBytes(p.metadata ?? {}), data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') }));
      const body = Buffer.concat([iv, c.update(plain), c.final(), c.getAuthTag()]);
      return { metadata: { [METADATA_ENCODING_KEY]: enc.encode(ENCODING), 'encryption-key-id': enc.encode(this.keyId) }, data: body };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (dec.decode(p.metadata?.[METADATA_ENCODING_KEY] ?? new Uint8Array()) !== ENCODING) return p;
      const kid = dec.decode(p.metadata?.['encryption-key-id'] ?? new Uint8Array());
      if (kid !== this.keyId) throw new Error(`payload encrypted with key ${kid}, this process has ${this.keyId}`);
      const body = Buffer.from(p.data ?? new Uint8Array());
      const d = createDecipheriv('aes-256-gcm', this.key, body.subarray(0, 12));
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

function mapBytes(m: Record<string, Uint8Array | null | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')]));
}

/** The codec list for client and worker data converters (empty when no key is set). */
export function payloadCodecs(env: NodeJS.ProcessEnv = process.env): PayloadCodec[] {
  const k = env.MMEDPO_PAYLOAD_KEY;
  return k ? [new AesGcmCodec(Buffer.from(k, 'base64'))] : [];
}
