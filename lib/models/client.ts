// The real-endpoint path: one chat completion through the `openai` client against a role's
// OpenAI-compatible base URL. The client never retries by itself (maxRetries 0): every request is
// visible, and Temporal's activity retry does the retrying. Errors are classified into
//  - EndpointRejected (400/401/403/404/422): non-retryable, fails the item with the endpoint's message;
//  - RateLimited (429): retryable, honouring Retry-After through ApplicationFailure.nextRetryDelay;
//  - EndpointUnavailable (5xx, timeouts, connection errors): retryable with the activity's backoff.
// The API key is read from process.env[apiKeyEnv] at call time and scrubbed from every message.
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import { ApplicationFailure } from '@temporalio/common';
import type { ModelRole } from '../../core/config';
import type { ChatMessage } from './prompts';
import type { ReplySchema } from './reply';

export const MODEL_ERROR_TYPES = {
  rejected: 'EndpointRejected',
  rateLimited: 'RateLimited',
  unavailable: 'EndpointUnavailable',
} as const;

const clients = new Map<string, OpenAI>();

function apiKeyFor(role: ModelRole): string | undefined {
  return role.apiKeyEnv ? process.env[role.apiKeyEnv] : undefined;
}

/** Removes the key value (and anything shaped like an OpenAI key) from text bound for logs or history. */
export function redact(text: string, role?: ModelRole): string {
  let out = text;
  const key = role ? apiKeyFor(role) : undefined;
  if (key && key.length >= 4) out = out.split(key).join('***');
  return out.replace(/\b(sk|pk|rk)-[A-Za-z0-9_\-*]{6,}/g, '$1-***');
}

function clientFor(role: ModelRole): OpenAI {
  const key = apiKeyFor(role);
  if (role.apiKeyEnv && !key) {
    throw ApplicationFailure.nonRetryable(`environment variable ${role.apiKeyEnv} (API key for ${role.model}) is not set on the model worker`, MODEL_ERROR_TYPES.rejected);
  }
  // Cache per (url, key hash-free identity, timeout): the key itself is only held by the client object.
  const id = `${role.baseURL}\u0000${role.apiKeyEnv ?? ''}\u0000${role.timeoutMs}`;
  let c = clients.get(id);
  if (!c || (c as unknown as { apiKey: string }).apiKey !== (key ?? 'unused')) {
    c = new OpenAI({ baseURL: role.baseURL, apiKey: key ?? 'unused', maxRetries: 0, timeout: role.timeoutMs });
    clients.set(id, c);
  }
  return c;
}

function retryAfterMs(headers: Headers | undefined): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const ra = headers.get('retry-after');
  if (!ra) return undefined;
  if (/^\d+(\.\d+)?$/.test(ra.trim())) return Math.round(Number(ra) * 1000);
  const at = Date.parse(ra);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/** Maps an openai client error to the Temporal failure the activity throws. */
export function classifyError(e: unknown, role: ModelRole, elapsedMs?: number): ApplicationFailure {
  const where = `${role.model} at ${role.baseURL}`;
  if (e instanceof ApplicationFailure) return e;
  // The client's own timeout aborts the request; depending on the JS realm it surfaces as the timeout
  // subclass or as a plain connection error, so the elapsed time decides too.
  const timedOut = e instanceof APIConnectionTimeoutError || (e instanceof APIConnectionError && elapsedMs !== undefined && elapsedMs >= role.timeoutMs * 0.95);
  if (timedOut) {
    return ApplicationFailure.retryable(`${where}: timed out after ${role.timeoutMs} ms`, MODEL_ERROR_TYPES.unavailable);
  }
  if (e instanceof APIConnectionError) {
    return ApplicationFailure.retryable(`${where}: connection failed (${redact(String((e.cause as Error | undefined)?.message ?? e.message), role)})`, MODEL_ERROR_TYPES.unavailable);
  }
  if (e instanceof APIError) {
    const status = e.status;
    const msg = redact(e.message, role);
    if (status === 429) {
      const delay = retryAfterMs(e.headers);
      return ApplicationFailure.create({
        message: `${where}: rate limited (429): ${msg}`,
        type: MODEL_ERROR_TYPES.rateLimited,
        nonRetryable: false,
        ...(delay !== undefined ? { nextRetryDelay: Math.max(delay, 1) } : {}),
      });
    }
    if (status !== undefined && status >= 500) return ApplicationFailure.retryable(`${where}: server error ${status}: ${msg}`, MODEL_ERROR_TYPES.unavailable);
    if (status === 408 || status === 409) return ApplicationFailure.retryable(`${where}: ${status}: ${msg}`, MODEL_ERROR_TYPES.unavailable);
    return ApplicationFailure.nonRetryable(`${where} rejected the request: ${msg}`, MODEL_ERROR_TYPES.rejected);
  }
  const err = e as Error;
  return ApplicationFailure.retryable(`${where}: ${redact(err?.message ?? String(e), role)}`, MODEL_ERROR_TYPES.unavailable);
}

export interface ChatParams {
  temperature: number;
  maxTokens: number;
  /** Sent as the request's seed (OpenAI, vLLM and the trainer's serve honour it): distinct samples per index. */
  seed?: number;
  /** Structured output: sent as `response_format: {type: "json_schema", json_schema: {name, schema, strict}}`. */
  responseFormat?: ReplySchema;
}

export interface ChatReply {
  /** message.content; null when the endpoint sent none (refusal, reasoning-only, tool call). */
  text: string | null;
  /** choices[0].finish_reason ("stop", "length", …); null when absent. */
  finishReason: string | null;
  latencyMs: number;
}

/** One chat completion against the role's endpoint; returns the reply as sent (lib/models/reply.ts reads it). */
export async function chatOnce(role: ModelRole, messages: ChatMessage[], params: ChatParams): Promise<ChatReply> {
  const client = clientFor(role);
  const t0 = Date.now();
  try {
    const r = await client.chat.completions.create({
      model: role.model,
      messages: messages as OpenAI.Chat.ChatCompletionMessageParam[],
      temperature: params.temperature,
      max_tokens: params.maxTokens,
      ...(params.seed !== undefined ? { seed: params.seed } : {}),
      ...(params.responseFormat
        ? { response_format: { type: 'json_schema' as const, json_schema: { name: params.responseFormat.name, schema: params.responseFormat.schema, strict: true } } }
        : {}),
    });
    const choice = r?.choices?.[0];
    const text = choice?.message?.content;
    return { text: typeof text === 'string' ? text : null, finishReason: typeof choice?.finish_reason === 'string' ? choice.finish_reason : null, latencyMs: Date.now() - t0 };
  } catch (e) {
    // A 200 whose body is not a completion comes back as a SyntaxError or a TypeError: treat as garbage.
    // (checked by name: errors from another JS realm, e.g. under jest, fail instanceof).
    if (e instanceof SyntaxError || (e as Error)?.name === 'SyntaxError') return { text: '', finishReason: null, latencyMs: Date.now() - t0 };
    throw classifyError(e, role, Date.now() - t0);
  }
}
