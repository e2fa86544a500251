// Temporal codec server (the HTTP protocol of temporalio/samples-go codec-server/protocol.md):
// POST …/encode and …/decode take and return `{"payloads": [{"metadata": {k: base64}, "data": base64}]}`
// (Payloads in proto3 JSON). It lets the Web UI and `temporal workflow show --codec-endpoint` show
// the plaintext of histories this project's codec encrypted, without the key leaving this process.
//
// Access: every encode/decode request needs the bearer token — `Authorization: Bearer <token>`, or
// the token as the path segment before encode/decode (`…/<token>/decode`): the Temporal Web UI
// only sends an Authorization header carrying its own OIDC access token, so the local dev server's
// `--ui-codec-endpoint` holds the token in its path (infra/stack.ts). Browsers: a request or
// preflight whose Origin is not one of `allowedOrigins` is refused (403); allowed origins get CORS
// headers admitting content-type, x-namespace and authorization. Requests without an Origin
// (CLI, scripts) are not browser requests and need only the token. Nothing is logged per request.
import { createHash, timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import type { Payload, PayloadCodec } from '@temporalio/common';

export interface CodecServerOptions {
  /** The codecs, asked per request so a rotated key file is picked up (lib/codec.ts payloadCodecs). */
  codecs: () => PayloadCodec[];
  /** The bearer token (≥ 16 characters). */
  token: string;
  /** Browser origins allowed to call (the Web UI's, e.g. http://127.0.0.1:8233); exact match. */
  allowedOrigins: string[];
  /** Largest request body accepted, bytes (default 64 MiB). */
  maxBodyBytes?: number;
}

interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The token file `stack up` generates in the stack home. */
export const CODEC_TOKEN_FILE_NAME = 'codec-server-token';

/** The origins of a Web UI URL as a browser may spell it (127.0.0.1 and localhost are one machine). */
export function uiOrigins(uiUrl: string): string[] {
  const u = new URL(uiUrl);
  const out = [u.origin];
  if (u.hostname === '127.0.0.1') out.push(`${u.protocol}//localhost:${u.port}`);
  if (u.hostname === 'localhost') out.push(`${u.protocol}//127.0.0.1:${u.port}`);
  return out;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

function fromJson(p: JsonPayload): Payload {
  if (!p || typeof p !== 'object') throw new HttpError(400, 'each payload must be an object');
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(String(v), 'base64')])),
    data: Buffer.from(String(p.data ?? ''), 'base64'),
  };
}

function toJson(p: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}

async function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > max) throw new HttpError(413, `request body over ${max} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** An http.Server serving the codec protocol; call listen() on it. */
export function createCodecServer(o: CodecServerOptions): http.Server {
  if (o.token.length < 16) throw new Error('codec server token must be at least 16 characters');
  const tokenDigest = digest(o.token);
  const origins = new Set(o.allowedOrigins.map((x) => x.replace(/\/+$/, '')));
  const max = o.maxBodyBytes ?? 64 << 20;
  const authorized = (req: http.IncomingMessage, pathToken: string | undefined): boolean => {
    const h = req.headers.authorization;
    const presented = h?.startsWith('Bearer ') ? h.slice('Bearer '.length).trim() : pathToken;
    return presented !== undefined && timingSafeEqual(digest(presented), tokenDigest);
  };

  return http.createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    void (async () => {
      const origin = req.headers.origin;
      if (origin !== undefined) {
        if (!origins.has(origin)) throw new HttpError(403, 'origin not allowed');
        res.setHeader('access-control-allow-origin', origin);
        res.setHeader('vary', 'Origin');
        res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
        res.setHeader('access-control-allow-headers', 'content-type, x-namespace, authorization');
        res.setHeader('access-control-max-age', '600');
      }
      const url = new URL(req.url ?? '/', 'http://codec.invalid');
      if (req.method === 'OPTIONS') {
        res.writeHead(204);
        res.end();
        return;
      }
      if (req.method === 'GET' && url.pathname === '/healthz') return send(200, { ok: true });
      // The protocol looks only at the last path segment (the server may be mounted at any depth);
      // the one before it may be the token (the Web UI's endpoint).
      const segments = url.pathname.split('/').filter(Boolean);
      const op = segments.at(-1);
      if (op !== 'encode' && op !== 'decode') throw new HttpError(404, 'not found: POST …/encode or …/decode');
      let pathToken: string | undefined;
      try {
        pathToken = segments.length >= 2 ? decodeURIComponent(segments.at(-2)!) : undefined;
      } catch {
        /* not a token */
      }
      if (!authorized(req, pathToken)) throw new HttpError(401, 'a bearer token is required');
      if (req.method !== 'POST') throw new HttpError(405, 'use POST');
      let body: { payloads?: JsonPayload[] };
      try {
        body = JSON.parse((await readBody(req, max)).toString('utf8')) as { payloads?: JsonPayload[] };
      } catch (e) {
        if (e instanceof HttpError) throw e;
        throw new HttpError(400, 'body is not JSON');
      }
      if (!body || !Array.isArray(body.payloads)) throw new HttpError(400, 'body must be {"payloads": [...]}');
      let payloads = body.payloads.map(fromJson);
      const codecs = o.codecs();
      try {
        if (op === 'encode') for (const c of codecs) payloads = await c.encode(payloads);
        else for (const c of [...codecs].reverse()) payloads = await c.decode(payloads);
      } catch (e) {
        // Codec errors name key ids and nothing else (lib/codec.ts); a tampered body fails GCM's check.
        throw new HttpError(400, `cannot ${op}: ${(e as Error).message}`);
      }
      send(200, { payloads: payloads.map(toJson) });
    })().catch((e: unknown) => {
      if (res.headersSent) return res.destroy();
      if (e instanceof HttpError) return send(e.status, { error: e.message });
      send(500, { error: 'internal error' });
    });
  });
}
