// A local OpenAI-compatible HTTP server for tests: POST /v1/chat/completions with scriptable replies
// (text, HTTP errors such as 429 with Retry-After or 401, 500, a hang, garbage), and a request log.
// The real `openai` client talks to it, so the whole real-endpoint path is exercised.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRequest {
  n: number;
  path: string;
  model: string;
  messages: { role: string; content: unknown }[];
  temperature?: number;
  maxTokens?: number;
  /** Whether an Authorization header came (its value is never logged). */
  authorized: boolean;
  /** The last user message as text (images dropped). */
  lastUser: string;
  /** The request's response_format, when sent (structured output). */
  responseFormat?: unknown;
  at: number;
}

export type FakeAction =
  | { text: string | null; delayMs?: number; finishReason?: string }
  | { status: number; message?: string; headers?: Record<string, string> }
  | { hang: true }
  | { garbage: true }
  /** HTTP 200 with a zero-length body (a proxy that dropped the response). */
  | { empty: true };

export type FakeHandler = (req: FakeRequest) => FakeAction | Promise<FakeAction>;

export interface FakeOpenAI {
  url: string;
  port: number;
  log: FakeRequest[];
  /** The Authorization header values seen (for the test to check key delivery only). */
  authHeaders: string[];
  setHandler(h: FakeHandler): void;
  close(): Promise<void>;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p: { type?: string; text?: string }) => (p.type === 'text' ? (p.text ?? '') : '')).join('\n');
  return '';
}

export async function startFakeOpenAI(handler: FakeHandler = () => ({ text: 'ok' }), port = 0): Promise<FakeOpenAI> {
  let h = handler;
  const log: FakeRequest[] = [];
  const authHeaders: string[] = [];
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        } catch {
          /* not JSON */
        }
        const messages = (body.messages as FakeRequest['messages']) ?? [];
        const users = messages.filter((m) => m.role === 'user');
        const r: FakeRequest = {
          n: log.length,
          path: req.url ?? '',
          model: String(body.model ?? ''),
          messages,
          temperature: body.temperature as number | undefined,
          maxTokens: body.max_tokens as number | undefined,
          authorized: !!req.headers.authorization,
          lastUser: textOf(users[users.length - 1]?.content),
          ...(body.response_format !== undefined ? { responseFormat: body.response_format } : {}),
          at: Date.now(),
        };
        log.push(r);
        if (req.headers.authorization) authHeaders.push(req.headers.authorization);
        if (!req.url?.endsWith('/chat/completions')) {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: `no route ${req.url}`, type: 'invalid_request_error' } }));
          return;
        }
        const a = await h(r);
        if ('hang' in a) {
          hanging.add(res);
          res.on('close', () => hanging.delete(res));
          return;
        }
        if ('empty' in a) {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': '0' });
          res.end();
          return;
        }
        if ('garbage' in a) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"choices": [ this is not json');
          return;
        }
        if ('status' in a) {
          res.writeHead(a.status, { 'content-type': 'application/json', ...(a.headers ?? {}) });
          res.end(JSON.stringify({ error: { message: a.message ?? `status ${a.status}`, type: a.status === 401 ? 'invalid_api_key' : 'error', code: null } }));
          return;
        }
        if (a.delayMs) await new Promise((ok) => setTimeout(ok, a.delayMs));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: `chatcmpl-${r.n}`,
            object: 'chat.completion',
            created: 0,
            model: r.model,
            choices: [{ index: 0, message: { role: 'assistant', content: a.text }, finish_reason: a.finishReason ?? 'stop' }],
            usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
          }),
        );
      })();
    });
  });
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  const p = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${p}/v1`,
    port: p,
    log,
    authHeaders,
    setHandler: (nh) => {
      h = nh;
    },
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
