// One reader for every model reply (target, judge, debate agents): what the role said, without the
// wrapping real servers and reasoning models put around it.
//   - reasoning blocks: <think>…</think> (also <thinking>, <reasoning>), including a block whose opening
//     tag was in the chat template (text…</think>answer) and an unterminated block (the reply was cut);
//     whatever is inside — braces, JSON-looking examples — never counts as the answer;
//   - code fences (```json … ```), prose before or after the JSON, several JSON objects (the one with
//     the most of the expected keys wins, the last one on a tie: answers come after deliberation);
//   - `null` content (a refusal, a reasoning-only reply, a tool call) → a problem, not an empty answer;
//   - finish_reason "length" → `cut`: lib/models/call.ts re-asks once with a larger token limit, then
//     the reply is invalid with that reason.
// With `structuredOutput` on a role, the request also carries `response_format: json_schema` with the
// schema of its prompt version (REPLY_SCHEMAS); the reply is read the same way either way.

/** What the endpoint returned for one request (as cached). */
export interface RawReply {
  /** message.content; null when the endpoint sent none. */
  content: string | null;
  /** choices[0].finish_reason: "stop", "length", "content_filter", "tool_calls"… (null/absent = unknown). */
  finishReason?: string | null;
}

export interface ReadReply {
  /** The answer: the content without reasoning blocks, trimmed. */
  answer: string;
  /** The reply's JSON object, when it holds one. */
  json?: Record<string, unknown>;
  /** Why there is no usable answer at all (null content, reasoning only); absent otherwise. */
  problem?: string;
  /** The endpoint stopped at the token limit (finish_reason "length"). */
  cut: boolean;
}

const BLOCK = /<(think|thinking|reasoning)\b[^>]*>[\s\S]*?<\/\1\s*>/gi;
const OPEN = /<(think|thinking|reasoning)\b[^>]*>/i;
const CLOSE = /<\/(think|thinking|reasoning)\s*>/gi;

/** The reply without its reasoning blocks (see the file header). */
export function stripReasoning(text: string): string {
  let t = text.replace(BLOCK, ' ');
  // A closing tag with no opening one: the template opened the block; everything before it is reasoning.
  let last = -1;
  for (const m of t.matchAll(CLOSE)) last = m.index! + m[0].length;
  if (last >= 0) t = t.slice(last);
  // An opening tag never closed: the reply was cut inside its reasoning.
  const open = OPEN.exec(t);
  if (open) t = t.slice(0, open.index);
  return t;
}

/** Top-level {...} spans of a text, string-aware (braces inside JSON strings do not count), in order. */
function braceSpans(text: string, from = 0, to = text.length): [number, number][] {
  const spans: [number, number][] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = from; i < to; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"' && depth > 0) inString = true;
    else if (ch === '{') {
      if (depth++ === 0) start = i;
    } else if (ch === '}' && depth > 0) {
      if (--depth === 0) spans.push([start, i + 1]);
    }
  }
  return spans;
}

function parseObject(s: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(s);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Every JSON object in a text: the whole text, fenced blocks, then brace spans (inner spans of one that does not parse). */
function objectCandidates(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const whole = parseObject(text.trim());
  if (whole) return [whole];
  for (const m of text.matchAll(/```[a-zA-Z0-9_-]*[ \t]*\r?\n?([\s\S]*?)```/g)) {
    const v = parseObject(m[1]!.trim());
    if (v) out.push(v);
  }
  const walk = (from: number, to: number) => {
    for (const [a, b] of braceSpans(text, from, to)) {
      const v = parseObject(text.slice(a, b));
      if (v) out.push(v);
      else walk(a + 1, b - 1);
    }
  };
  walk(0, text.length);
  return out;
}

/**
 * The JSON object a reply answers with: reasoning blocks removed, then the candidate holding the most
 * of `keys` (all candidates tie when no keys are given), the last one on a tie. undefined = none.
 */
export function extractJsonObject(text: string, keys: readonly string[] = []): Record<string, unknown> | undefined {
  const candidates = objectCandidates(stripReasoning(text));
  let best: Record<string, unknown> | undefined;
  let bestScore = -1;
  for (const c of candidates) {
    const score = keys.filter((k) => k in c).length;
    if (score >= bestScore) {
      best = c;
      bestScore = score;
    }
  }
  return best;
}

/** Reads one raw reply: answer text, JSON object (when `keys` or a schema expects one), problem, cut. */
export function readReply(raw: RawReply, keys: readonly string[] = []): ReadReply {
  const cut = raw.finishReason === 'length';
  if (raw.content === null || raw.content === undefined) {
    return { answer: '', cut, problem: cut ? 'the reply has no content (null): it was cut at the token limit inside its reasoning' : `the reply has no content (null; finish_reason ${JSON.stringify(raw.finishReason ?? null)})` };
  }
  const answer = stripReasoning(raw.content).trim();
  if (!answer && raw.content.trim()) return { answer, cut, problem: cut ? 'the reply was cut at the token limit inside its reasoning block' : 'the reply holds only a reasoning block, no answer' };
  const json = extractJsonObject(answer, keys);
  return { answer, cut, ...(json ? { json } : {}) };
}

// ---------------------------------------------------------------- structured output
/** A JSON schema for `response_format: {type: "json_schema"}` (strict mode: every property required). */
export interface ReplySchema {
  name: string;
  schema: Record<string, unknown>;
}

const obj = (properties: Record<string, unknown>): Record<string, unknown> => ({ type: 'object', properties, required: Object.keys(properties), additionalProperties: false });

/**
 * The reply schema of each JSON-answering prompt version (prompts/<version>.md says the same in
 * words). The corrective re-ask (`<version>+corrective.v1`) uses its base version's schema.
 */
export const REPLY_SCHEMAS: Record<string, ReplySchema> = {
  'agent-score.v1': { name: 'agent_score', schema: obj({ agree: { type: 'boolean' }, score: { type: 'number' }, reason: { type: 'string' } }) },
  'judge-select.v1': { name: 'judge_select', schema: obj({ index: { type: ['integer', 'null'] }, conflicts: { type: 'array', items: { type: 'string' } } }) },
  'judge-generate.v1': { name: 'judge_generate', schema: obj({ response: { type: 'string' }, conflicts: { type: 'array', items: { type: 'string' } } }) },
};

/** The schema for a prompt version (base version of a corrective re-ask), or undefined for free text. */
export function replySchemaFor(promptVersion: string): ReplySchema | undefined {
  return REPLY_SCHEMAS[promptVersion.split('+')[0]!];
}

/** The keys a prompt version's JSON answer has (used to pick among several objects in a reply). */
export function replyKeysFor(promptVersion: string): string[] {
  const s = replySchemaFor(promptVersion);
  return s ? Object.keys((s.schema.properties as Record<string, unknown>) ?? {}) : [];
}
