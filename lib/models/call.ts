// One model call as the activities make it: reply cache in S3 → (offline engine | openai client) →
// validation for its purpose → one corrective re-ask → cached again. The cache key is the hash of
// (role, model, prompt version, messages, params, sample index); no API key is ever part of it.
// A re-run or an activity retry therefore never pays for a reply twice, and a campaign re-run from
// the cache reproduces every artifact byte for byte.
import type { ModelRole } from '../../core/config';
import { artifactStore } from '../env';
import { hashJson, sha256Hex } from '../hash';
import { chatOnce } from './client';
import { ChatMessage, PROMPT_VERSIONS, renderPrompt } from './prompts';

export type Validation<T> = { ok: true; value: T } | { ok: false; error: string };

export interface CachedReply {
  role: string;
  model: string;
  endpoint: 'offline' | 'openai';
  promptVersion: string;
  sampleIndex: number;
  params: { temperature: number; maxTokens: number };
  /** Messages with image data URLs replaced by their sha256 (the hash covers the same form). */
  messages: unknown;
  text: string;
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
  validate: (text: string) => Validation<T>;
}

export interface ModelCallResult<T> {
  ok: boolean;
  value?: T;
  /** Why the reply stayed invalid after the corrective re-ask. */
  error?: string;
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

export function replyCacheKey(o: { roleName: string; model: string; promptVersion: string; messages: ChatMessage[]; params: { temperature: number; maxTokens: number }; sampleIndex: number; offlineInputs?: unknown }): string {
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

async function cachedAsk(spec: ModelCallSpec<unknown>, promptVersion: string, messages: ChatMessage[]): Promise<{ reply: CachedReply; key: string; hit: boolean; requests: number }> {
  const params = { temperature: spec.role.temperature, maxTokens: spec.role.maxTokens };
  const offlineInputs = spec.role.baseURL ? undefined : (spec.offlineInputs ?? null);
  const key = replyCacheKey({ roleName: spec.roleName, model: spec.role.model, promptVersion, messages, params, sampleIndex: spec.sampleIndex, offlineInputs });
  const store = artifactStore();
  const hit = await store.tryGetJson<CachedReply>(key);
  if (hit) return { reply: hit, key, hit: true, requests: 0 };
  let text: string;
  let latencyMs = 0;
  let requests = 0;
  if (spec.role.baseURL) {
    const r = await chatOnce(spec.role, messages, spec.seed !== undefined ? { ...params, seed: spec.seed } : params);
    text = r.text;
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
    text,
    latencyMs,
  };
  await store.putJsonAt(key, reply);
  return { reply, key, hit: false, requests };
}

export async function callModel<T>(spec: ModelCallSpec<T>): Promise<ModelCallResult<T>> {
  const first = await cachedAsk(spec as ModelCallSpec<unknown>, spec.promptVersion, spec.messages);
  const v1 = spec.validate(first.reply.text);
  const base = { replyKeys: [first.key], promptVersion: spec.promptVersion };
  if (v1.ok) return { ok: true, value: v1.value, text: first.reply.text, ...base, cacheHit: first.hit, latencyMs: first.reply.latencyMs, requests: first.requests, reasked: false };
  const corrective = renderPrompt(PROMPT_VERSIONS.corrective, { error: v1.error });
  const messages2: ChatMessage[] = [...spec.messages, { role: 'assistant', content: first.reply.text }, ...corrective.filter((m) => m.role === 'user')];
  const version2 = `${spec.promptVersion}+${PROMPT_VERSIONS.corrective}`;
  const second = await cachedAsk(spec as ModelCallSpec<unknown>, version2, messages2);
  const v2 = spec.validate(second.reply.text);
  const out = {
    text: second.reply.text,
    replyKeys: [first.key, second.key],
    promptVersion: version2,
    cacheHit: first.hit && second.hit,
    latencyMs: first.reply.latencyMs + second.reply.latencyMs,
    requests: first.requests + second.requests,
    reasked: true,
  };
  return v2.ok ? { ok: true, value: v2.value, ...out } : { ok: false, error: `${v1.error}; after the corrective re-ask: ${v2.error}`, ...out };
}
