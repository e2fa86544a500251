// One model call as the activities make it: reply cache in S3 → (offline engine | openai client) →
// the one reply reader (lib/models/reply.ts: reasoning blocks, fences, prose, null content) →
// validation for its purpose → at most one more request: a reply cut at the token limit
// (finish_reason "length") is re-asked once with a larger limit, any other invalid reply gets one
// corrective re-ask → cached again. The cache key is the hash of
// (role, model, prompt version, messages, params, sample index); no API key is ever part of it.
// A re-run or an activity retry therefore never pays for a reply twice, and a campaign re-run from
// the cache reproduces every artifact byte for byte.
import type { ModelRole } from '../../core/config';
import { artifactStore } from '../env';
import { hashJson, sha256Hex } from '../hash';
import { chatOnce } from './client';
import { ChatMessage, PROMPT_VERSIONS, renderPrompt } from './prompts';
import { readReply, replyKeysFor, replySchemaFor, type ReadReply } from './reply';

export type Validation<T> = { ok: true; value: T } | { ok: false; error: string };

/** A reply cut at the token limit is re-asked once with this many times the role's maxTokens (capped). */
export const LENGTH_RETRY_FACTOR = 4;
export const LENGTH_RETRY_CAP = 16_384;

export interface CachedReply {
  role: string;
  model: string;
  endpoint: 'offline' | 'openai';
  promptVersion: string;
  sampleIndex: number;
  /** responseFormat: the structured-output schema name, present only when one was requested. */
  params: { temperature: number; maxTokens: number; responseFormat?: string };
  /** Messages with image data URLs replaced by their sha256 (the hash covers the same form). */
  messages: unknown;
  /** The content as sent ("" when it was null: see contentNull). */
  text: string;
  /** The endpoint sent no content (message.content null). */
  contentNull?: boolean;
  /** finish_reason ("stop", "length", …); absent in replies cached before it was recorded. */
  finishReason?: string | null;
  latencyMs: number;
}

export interface ModelCallSpec<T> {
  roleName: string;
  role: ModelRole;
  promptVersion: string;
  messages: ChatMessage[];
  sampleIndex: number;
  /** The offline engine's reply for this call (used when the role has no baseURL). */
  offline: (messages: ChatMessage[]) => string;
  /**
   * What the offline engine reads beyond the messages (item, seed, ground truth, round…). Part of the
   * cache key only when the role is offline, so two items never share an offline reply they would not
   * get; a real endpoint's key stays (role, model, prompt version, messages, params, sample index).
   */
  offlineInputs?: unknown;
  /** Request seed for sampling endpoints (not part of the cache key: the sample index already is). */
  seed?: number;
  /**
   * Checks the reply for its purpose. `answer` is the reply without reasoning blocks (trimmed);
   * `json` its JSON object when it holds one (lib/models/reply.ts extractJsonObject).
   */
  validate: (answer: string, json: Record<string, unknown> | undefined) => Validation<T>;
}

export interface ModelCallResult<T> {
  ok: boolean;
  value?: T;
  /** Why the reply stayed invalid after the re-ask (corrective, or with a larger token limit). */
  error?: string;
  /** The last reply's answer (reasoning blocks removed). */
  text: string;
  /** S3 keys of the cached replies used (first ask, then the corrective re-ask if any). */
  replyKeys: string[];
  promptVersion: string;
  /** true when every reply came from the cache. */
  cacheHit: boolean;
  /** Latency of the original endpoint requests (as cached), summed. */
  latencyMs: number;
  /** Endpoint requests this call made (0 when served from the cache or offline). */
  requests: number;
  reasked: boolean;
}

/** An image's identity in the cache key: the data URL's hash, or a presigned URL without its (expiring) query. */
function imageIdentity(url: string): string {
  return sha256Hex(url.startsWith('data:') ? url : url.split('?')[0]!);
}

function digestMessages(messages: ChatMessage[]): unknown {
  return messages.map((m) =>
    typeof m.content === 'string'
      ? m
      : { role: m.role, content: m.content.map((p) => (p.type === 'image_url' ? { type: 'image_url', image_sha256: imageIdentity(p.image_url.url) } : p)) },
  );
}

export function replyCacheKey(o: { roleName: string; model: string; promptVersion: string; messages: ChatMessage[]; params: CachedReply['params']; sampleIndex: number; offlineInputs?: unknown }): string {
  const h = hashJson({
    role: o.roleName,
    model: o.model,
    promptVersion: o.promptVersion,
    messages: digestMessages(o.messages),
    params: o.params,
    sampleIndex: o.sampleIndex,
    ...(o.offlineInputs !== undefined ? { offline: o.offlineInputs } : {}),
  });
  return artifactStore().namedKey(`model-replies/${h.slice(0, 2)}/${h}.json`);
}

export interface Asked {
  reply: CachedReply;
  key: string;
  hit: boolean;
  requests: number;
}

/** Asks (cache first) one version of the messages with a token limit. */
export type Ask = (promptVersion: string, messages: ChatMessage[], maxTokens: number) => Promise<Asked>;

async function cachedAsk(spec: ModelCallSpec<unknown>, promptVersion: string, messages: ChatMessage[], maxTokens: number): Promise<Asked> {
  const schema = spec.role.baseURL && spec.role.structuredOutput ? replySchemaFor(promptVersion) : undefined;
  const params: CachedReply['params'] = { temperature: spec.role.temperature, maxTokens, ...(schema ? { responseFormat: schema.name } : {}) };
  const offlineInputs = spec.role.baseURL ? undefined : (spec.offlineInputs ?? null);
  const key = replyCacheKey({ roleName: spec.roleName, model: spec.role.model, promptVersion, messages, params, sampleIndex: spec.sampleIndex, offlineInputs });
  const store = artifactStore();
  const hit = await store.tryGetJson<CachedReply>(key);
  if (hit) return { reply: hit, key, hit: true, requests: 0 };
  let text: string | null;
  let finishReason: string | null = 'stop';
  let latencyMs = 0;
  let requests = 0;
  if (spec.role.baseURL) {
    const r = await chatOnce(spec.role, messages, {
      temperature: params.temperature,
      maxTokens,
      ...(spec.seed !== undefined ? { seed: spec.seed } : {}),
      ...(schema ? { responseFormat: schema } : {}),
    });
    text = r.text;
    finishReason = r.finishReason;
    latencyMs = r.latencyMs;
    requests = 1;
  } else {
    text = spec.offline(messages);
  }
  const reply: CachedReply = {
    role: spec.roleName,
    model: spec.role.model,
    endpoint: spec.role.baseURL ? 'openai' : 'offline',
    promptVersion,
    sampleIndex: spec.sampleIndex,
    params,
    messages: digestMessages(messages),
    text: text ?? '',
    ...(text === null ? { contentNull: true } : {}),
    finishReason,
    latencyMs,
  };
  await store.putJsonAt(key, reply);
  return { reply, key, hit: false, requests };
}

export async function callModel<T>(spec: ModelCallSpec<T>): Promise<ModelCallResult<T>> {
  return runModelCall(spec, (version, messages, maxTokens) => cachedAsk(spec as ModelCallSpec<unknown>, version, messages, maxTokens));
}

/** Reads a cached reply with the one reader and validates it. */
function judge<T>(spec: ModelCallSpec<T>, reply: CachedReply): { read: ReadReply; v: Validation<T> } {
  const read = readReply({ content: reply.contentNull ? null : reply.text, finishReason: reply.finishReason ?? null }, replyKeysFor(spec.promptVersion));
  return { read, v: read.problem ? { ok: false, error: read.problem } : spec.validate(read.answer, read.json) };
}

/**
 * The call policy over an `ask` (callModel: the S3 reply cache + endpoint or offline engine): ask;
 * if the reply is valid, done; if it was cut at the token limit, ask the same messages once more with
 * LENGTH_RETRY_FACTOR × maxTokens (capped) — still cut → invalid with that reason; otherwise one
 * corrective re-ask naming the error. At most two requests per call.
 */
export async function runModelCall<T>(spec: ModelCallSpec<T>, ask: Ask): Promise<ModelCallResult<T>> {
  const max = spec.role.maxTokens;
  const first = await ask(spec.promptVersion, spec.messages, max);
  const a = judge(spec, first.reply);
  if (a.v.ok) return { ok: true, value: a.v.value, text: a.read.answer, replyKeys: [first.key], promptVersion: spec.promptVersion, cacheHit: first.hit, latencyMs: first.reply.latencyMs, requests: first.requests, reasked: false };
  const error1 = a.v.error;
  const larger = Math.max(max, Math.min(max * LENGTH_RETRY_FACTOR, LENGTH_RETRY_CAP));
  let second: Asked;
  let version2: string;
  let describe: (e: string) => string;
  if (a.read.cut && larger > max) {
    version2 = spec.promptVersion;
    second = await ask(version2, spec.messages, larger);
    describe = (e) => `the reply was cut at the token limit (finish_reason "length", max_tokens ${max}); re-asked with max_tokens ${larger}: ${e}`;
  } else {
    const corrective = renderPrompt(PROMPT_VERSIONS.corrective, { error: error1 });
    const messages2: ChatMessage[] = [...spec.messages, { role: 'assistant', content: first.reply.text }, ...corrective.filter((m) => m.role === 'user')];
    version2 = `${spec.promptVersion}+${PROMPT_VERSIONS.corrective}`;
    second = await ask(version2, messages2, max);
    describe = (e) => `${error1}; after the corrective re-ask: ${e}`;
  }
  const b = judge(spec, second.reply);
  const out = {
    text: b.read.answer,
    replyKeys: [first.key, second.key],
    promptVersion: version2,
    cacheHit: first.hit && second.hit,
    latencyMs: first.reply.latencyMs + second.reply.latencyMs,
    requests: first.requests + second.requests,
    reasked: true,
  };
  if (b.v.ok) return { ok: true, value: b.v.value, ...out };
  const error2 = b.read.cut ? `cut at the token limit again (finish_reason "length", max_tokens ${version2 === spec.promptVersion ? larger : max})` : b.v.error;
  return { ok: false, error: describe(error2), ...out };
}
