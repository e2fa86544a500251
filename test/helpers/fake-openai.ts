// A local OpenAI-compatible HTTP server for tests: POST /v1/chat/completions with scriptable replies
// (text, HTTP errors such as 429 with Retry-After or 401, 500, a hang, garbage), and a request log.
// The real `openai` client talks to it, so the whole real-endpoint path is exercised.
// `endpointLike` (below) is a handler that behaves like real endpoints under load: lognormal latency,
// seeded 429s and 500s, and replies in the formats the prompts ask for (bench/curation-endpoints.ts).
import { createHash } from 'node:crypto';
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
  /** usage: what the reply reports as its token counts (default 1 and 1). */
  | { text: string | null; delayMs?: number; finishReason?: string; usage?: { prompt_tokens: number; completion_tokens: number } }
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

export interface FakeOpenAIOptions {
  /**
   * The listen backlog (default 4096, Node's own is 511): a benchmark opens hundreds of connections at
   * once, and a full accept queue would add the kernel's SYN retry (1 s and up) to the latency under test.
   */
  backlog?: number;
  /** Keep every request in `log` (default true). Off for long runs: a request holds its image data URL. */
  keepLog?: boolean;
}

export async function startFakeOpenAI(handler: FakeHandler = () => ({ text: 'ok' }), port = 0, options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const keepLog = options.keepLog ?? true;
  let requests = 0;
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
          // The request's number: its index in `log` when the log is kept (as the tests read it).
          n: keepLog ? log.length : requests,
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
        requests++;
        if (keepLog) {
          log.push(r);
          if (req.headers.authorization) authHeaders.push(req.headers.authorization);
        }
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
            usage: { ...(a.usage ?? { prompt_tokens: 1, completion_tokens: 1 }), total_tokens: (a.usage?.prompt_tokens ?? 1) + (a.usage?.completion_tokens ?? 1) },
          }),
        );
      })().catch((e: Error) => {
        // A handler that throws answers 500 naming the error, instead of leaving the client to its timeout.
        console.error(`fake-openai: the handler failed: ${e.stack ?? e.message}`);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `fake handler failed: ${e.message}`, type: 'error', code: null } }));
      });
    });
  });
  await new Promise<void>((ok) => server.listen({ port, host: '127.0.0.1', backlog: options.backlog ?? 4096 }, ok));
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

// ---------------------------------------------------------------- endpoints that behave like real ones

export interface EndpointLikeOptions {
  /** Seeds the latency and fault draws (one seeded stream, drawn in arrival order) and the replies' choices. */
  seed: number;
  /** Median reply time in ms (default 800). */
  medianMs?: number;
  /** 99th-percentile reply time in ms (default 6000): with the median it fixes the lognormal's σ. */
  p99Ms?: number;
  /** Share of calls answered 429 with Retry-After (default 0.01). */
  rateLimitedShare?: number;
  /** Share of calls answered 500 (default 0.005). */
  serverErrorShare?: number;
  /** The Retry-After of a 429, in seconds (default 2). */
  retryAfterSeconds?: number;
  /** Share of judge-select calls answered `index: null` (none conflicts clearly → the judge writes one; default 0.1). */
  judgeNoneShare?: number;
  /** Share of debate turns after the first that adopt the previous score (default 0.85). */
  agentAgreeShare?: number;
}

/** Calls, outcomes and tokens of one model (the request's `model`), as the endpoint saw them. */
export interface EndpointModelStats {
  calls: number;
  ok: number;
  rateLimited: number;
  serverErrors: number;
  promptTokens: number;
  completionTokens: number;
  /** Calls that arrived in each whole second since the handler was made (for the peak rate). */
  perSecond: Map<number, number>;
}

export interface EndpointLike {
  handler: FakeHandler;
  /** By model name. */
  stats: Map<string, EndpointModelStats>;
  /** Zeroes every counter (e.g. after warm-up), keeping the seeded streams where they are. */
  reset(): void;
}

/** mulberry32: a small seeded uniform stream in [0, 1). */
function uniformStream(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniform [0, 1) value fixed by the text (the same prompt gets the same choice on a retry). */
function uniformOf(...parts: (string | number)[]): number {
  return createHash('sha256').update(parts.join('\u0000')).digest().readUInt32BE(0) / 4294967296;
}

/** z of the standard normal's 99th percentile: σ = ln(p99 / median) / Z99. */
const Z99 = 2.3263478740408408;

/**
 * Prompt tokens as a GPT-4o-style endpoint would bill them: ~4 characters a token for text, and per
 * image 85 + 170 per 512-px tile (high detail), the size read from the PNG header (512 px when unknown).
 */
function promptTokensOf(messages: FakeRequest['messages']): number {
  let chars = 0;
  let imageTokens = 0;
  for (const m of messages) {
    if (typeof m.content === 'string') chars += m.content.length;
    else if (Array.isArray(m.content)) {
      for (const p of m.content as { type?: string; text?: string; image_url?: { url?: string } }[]) {
        if (p.type === 'text') chars += p.text?.length ?? 0;
        if (p.type === 'image_url') {
          const { width, height } = pngSize(p.image_url?.url ?? '') ?? { width: 512, height: 512 };
          imageTokens += 85 + 170 * Math.ceil(width / 512) * Math.ceil(height / 512);
        }
      }
    }
  }
  return Math.ceil(chars / 4) + imageTokens;
}

/** Width and height of a PNG data URL from its IHDR chunk (bytes 16–23), without decoding the rest. */
function pngSize(url: string): { width: number; height: number } | undefined {
  const m = /^data:image\/png;base64,/.exec(url);
  if (!m) return undefined;
  const head = Buffer.from(url.slice(m[0].length, m[0].length + 32), 'base64');
  return head.length >= 24 ? { width: head.readUInt32BE(16), height: head.readUInt32BE(20) } : undefined;
}

const SHORT_ANSWERS = ['yes', 'no', 'right lower lobe', 'left upper lobe', 'pleural effusion', 'cardiomegaly', 'pneumothorax', 'no acute findings', 'nodule', 'consolidation'];
const FINDINGS = ['a pleural effusion', 'a nodule', 'consolidation', 'atelectasis', 'a mass', 'pneumothorax', 'interstitial opacities', 'cardiomegaly'];
const LOCATIONS = ['right lower lobe', 'left lower lobe', 'right upper lobe', 'left upper lobe', 'lingula', 'right middle lobe', 'left hilum', 'right costophrenic angle'];

/**
 * A short answer as a served Med-LVLM gives one: a yes/no or a finding with its place and size. The
 * space is large (~25,000 answers) so that, as with a real target, few items share a debate prompt
 * (a shared one is served from the reply cache and would hide the debate's cost).
 */
function shortAnswer(u: number): string {
  const k = Math.floor(u * 2 * FINDINGS.length * LOCATIONS.length * 48);
  const yes = k % 2 === 0;
  const finding = FINDINGS[Math.floor(k / 2) % FINDINGS.length]!;
  const location = LOCATIONS[Math.floor(k / (2 * FINDINGS.length)) % LOCATIONS.length]!;
  const mm = 3 + (Math.floor(k / (2 * FINDINGS.length * LOCATIONS.length)) % 48);
  return yes ? `Yes, ${finding} of about ${mm} mm in the ${location}.` : `No, there is no ${finding.replace(/^an? /, '')}; the ${location} is clear.`;
}
const REPORT_SENTENCES = [
  'The cardiomediastinal silhouette is within normal limits.',
  'There is a small right pleural effusion with adjacent atelectasis.',
  'No focal consolidation or pneumothorax is seen.',
  'A 1.5 cm nodule projects over the left upper lobe.',
  'The osseous structures are intact.',
  'Mild interstitial prominence may reflect early edema.',
  'Impression: no acute cardiopulmonary process.',
  'Impression: right lower lobe pneumonia; follow-up radiograph recommended.',
];

/** The system prompt of a request (the reply format depends on it; prompts/*.md). */
function systemOf(r: FakeRequest): string {
  const s = r.messages.find((m) => m.role === 'system');
  return typeof s?.content === 'string' ? s.content : '';
}

/** The first user message (a corrective re-ask appends another; the task is in the first). */
function firstUserOf(r: FakeRequest): string {
  const u = r.messages.find((m) => m.role === 'user');
  return textOf(u?.content);
}

/**
 * A reply in the format the request's prompt asks for (prompts/*.md; activities/models.ts validates it):
 * the target a short answer or a report; the judge `{index, conflicts}` (select) or `{response,
 * conflicts}` (generate); a debate agent `{agree, score, reason}`, adopting the previous score on
 * `agentAgreeShare` of the turns that have one. Choices are fixed by the prompt's text, so a retried
 * request gets the same reply; the target's samples differ through `variation`.
 */
function replyFor(r: FakeRequest, o: Required<EndpointLikeOptions>, variation: number): string {
  const system = systemOf(r);
  const user = firstUserOf(r);
  const groundTruth = /Ground truth \((?:vqa|report)\):\n([^\n]*)/.exec(user)?.[1] ?? '';
  if (system.includes('vision-language assistant')) {
    if (/^Question:/m.test(user)) return shortAnswer(variation);
    const n = 3 + Math.floor(variation * 3);
    return Array.from({ length: n }, (_, k) => REPORT_SENTENCES[Math.floor(uniformOf(o.seed, user, variation, k) * REPORT_SENTENCES.length)]!).join(' ');
  }
  if (system.includes('auditing model outputs')) {
    const candidates = [...user.matchAll(/^\[(\d+)\] (.*)$/gm)].map((m) => m[2]!);
    const u = uniformOf(o.seed, 'select', user);
    if (!candidates.length || u < o.judgeNoneShare) return JSON.stringify({ index: null, conflicts: [] });
    const index = Math.floor(uniformOf(o.seed, 'index', user) * candidates.length);
    return JSON.stringify({ index, conflicts: [`says "${candidates[index]!.slice(0, 80)}" where the ground truth says "${groundTruth.slice(0, 80)}"`] });
  }
  if (system.includes('realistic but wrong')) {
    const wrong = SHORT_ANSWERS.filter((a) => a !== groundTruth.trim().toLowerCase());
    const u = uniformOf(o.seed, 'generate', user);
    const response = groundTruth.length > 60 ? REPORT_SENTENCES.slice(1, 4).join(' ') : u < 0.5 ? wrong[Math.floor(2 * u * wrong.length)]! : shortAnswer(u);
    return JSON.stringify({ response, conflicts: ['a finding the ground truth does not have'] });
  }
  if (system.includes('panel that rates')) {
    const previous = /scored it (-?\d+(?:\.\d+)?)/.exec(user);
    const score = 1 + Math.floor(uniformOf(o.seed, 'score', r.model, user) * 10);
    if (previous && uniformOf(o.seed, 'agree', r.model, user) < o.agentAgreeShare) {
      return JSON.stringify({ agree: true, score: Number(previous[1]), reason: 'The previous score reflects the clinical impact of the errors.' });
    }
    return JSON.stringify({ agree: false, score, reason: 'The response misstates a finding that would change management.' });
  }
  return 'ok';
}

/**
 * A handler that behaves like loaded real endpoints: each reply takes lognormal time (median
 * `medianMs`, 99th percentile `p99Ms`), `rateLimitedShare` of calls get an immediate 429 with
 * Retry-After, `serverErrorShare` a 500 after their latency (a server that failed mid-generation),
 * and the rest a reply in the prompt's format with GPT-4o-style token counts. Counters by model.
 */
export function endpointLike(options: EndpointLikeOptions): EndpointLike {
  const o: Required<EndpointLikeOptions> = {
    medianMs: 800,
    p99Ms: 6000,
    rateLimitedShare: 0.01,
    serverErrorShare: 0.005,
    retryAfterSeconds: 2,
    judgeNoneShare: 0.1,
    agentAgreeShare: 0.85,
    ...options,
  };
  const sigma = Math.log(o.p99Ms / o.medianMs) / Z99;
  const draw = uniformStream(o.seed);
  const t0 = Date.now();
  const stats = new Map<string, EndpointModelStats>();
  const statsOf = (model: string): EndpointModelStats => {
    let s = stats.get(model);
    if (!s) stats.set(model, (s = { calls: 0, ok: 0, rateLimited: 0, serverErrors: 0, promptTokens: 0, completionTokens: 0, perSecond: new Map() }));
    return s;
  };
  const handler: FakeHandler = async (r) => {
    const s = statsOf(r.model);
    s.calls++;
    const second = Math.floor((r.at - t0) / 1000);
    s.perSecond.set(second, (s.perSecond.get(second) ?? 0) + 1);
    const fault = draw();
    // Box–Muller from two more draws of the same stream: a standard normal for the latency.
    const z = Math.sqrt(-2 * Math.log(1 - draw())) * Math.cos(2 * Math.PI * draw());
    const latencyMs = o.medianMs * Math.exp(sigma * z);
    const variation = draw();
    if (fault < o.rateLimitedShare) {
      s.rateLimited++;
      return { status: 429, message: 'Rate limit reached for requests', headers: { 'retry-after': String(o.retryAfterSeconds) } };
    }
    await new Promise((done) => setTimeout(done, latencyMs));
    if (fault < o.rateLimitedShare + o.serverErrorShare) {
      s.serverErrors++;
      return { status: 500, message: 'The server had an error while processing your request.' };
    }
    const text = replyFor(r, o, variation);
    const usage = { prompt_tokens: promptTokensOf(r.messages), completion_tokens: Math.max(1, Math.ceil(text.length / 4)) };
    s.ok++;
    s.promptTokens += usage.prompt_tokens;
    s.completionTokens += usage.completion_tokens;
    return { text, usage };
  };
  return { handler, stats, reset: () => stats.clear() };
}
