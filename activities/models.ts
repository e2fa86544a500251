// Model-call activities. Each runs on its role's task queue (core/queues.ts modelQueue), served by
// workers/models.ts with the role's rate limit. Inputs carry the role settings (URL, model, the NAME
// of the API-key env var) but never a key value; the key is read from process.env at call time.
// A role without baseURL is served by the offline engine inside the same code path (cache,
// validation, corrective re-ask), so offline and real campaigns produce the same kinds of records.
import type { ModelRole } from '../core/config';
import { parseAgentReply, type DebateScale } from '../core/debate';
import { artifactStore } from '../lib/env';
import { callModel, Validation } from '../lib/models/call';
import { ChatMessage, PROMPT_VERSIONS, renderPrompt } from '../lib/models/prompts';
import { offlineAgent, offlineJudgeGenerate, offlineJudgeSelect, offlineTarget } from '../lib/offline/engines';
import { promptOf } from '../core/preference';
import { sha256Hex } from '../lib/hash';
import { servedEndpoint } from './served-model';

export interface ModelCallInfo {
  replyKeys: string[];
  promptVersion: string;
  cacheHit: boolean;
  latencyMs: number;
  requests: number;
  reasked: boolean;
  model: string;
}

export interface SampleTargetInput {
  role: ModelRole;
  campaignSeed: number;
  itemId: string;
  kind: 'vqa' | 'report';
  question?: string;
  /** Only the offline placeholder target reads it; it is never sent to an endpoint. */
  groundTruth: string;
  imageKey?: string;
  sampleIndex: number;
}
export interface SampleTargetOutput extends ModelCallInfo {
  ok: boolean;
  text?: string;
  invalid?: string;
}

function info(r: { replyKeys: string[]; promptVersion: string; cacheHit: boolean; latencyMs: number; requests: number; reasked: boolean }, model: string): ModelCallInfo {
  return { replyKeys: r.replyKeys, promptVersion: r.promptVersion, cacheHit: r.cacheHit, latencyMs: r.latencyMs, requests: r.requests, reasked: r.reasked, model };
}

function imageMime(b: Buffer): string {
  if (b[0] === 0x89 && b[1] === 0x50) return 'image/png';
  if (b[0] === 0xff && b[1] === 0xd8) return 'image/jpeg';
  if (b[0] === 0x47 && b[1] === 0x49) return 'image/gif';
  if (b.subarray(0, 4).toString() === 'RIFF') return 'image/webp';
  return 'application/octet-stream';
}

/** An S3 image inline as a data URL (the endpoint need not reach S3). */
async function imageDataUrl(key: string): Promise<string> {
  const bytes = await artifactStore().getBytes(key);
  return `data:${imageMime(bytes)};base64,${bytes.toString('base64')}`;
}

const nonEmpty = (t: string): Validation<string> => (t.trim() ? { ok: true, value: t.trim() } : { ok: false, error: 'the reply is empty' });

export async function sampleTarget(i: SampleTargetInput): Promise<SampleTargetOutput> {
  if (i.role.served) return sampleServedTarget(i);
  const instruction = i.kind === 'vqa' ? `Question: ${i.question ?? ''}\nAnswer briefly.` : 'Write the findings and impression of a radiology report for this image.';
  const messages = renderPrompt(PROMPT_VERSIONS.target, { instruction });
  if (i.imageKey && i.role.baseURL) {
    let url: string;
    if (i.role.imageTransport === 'presigned') {
      url = await artifactStore().presign(i.imageKey, 3600);
    } else {
      url = await imageDataUrl(i.imageKey);
    }
    const user = messages[messages.length - 1]!;
    user.content = [{ type: 'image_url', image_url: { url } }, { type: 'text', text: user.content as string }];
  } else if (i.imageKey) {
    // Offline: the image identity still keys the cache.
    messages.push({ role: 'user', content: `[image ${i.imageKey}]` });
  }
  const r = await callModel<string>({
    roleName: 'target',
    role: i.role,
    promptVersion: PROMPT_VERSIONS.target,
    messages,
    sampleIndex: i.sampleIndex,
    offline: () => offlineTarget({ seed: i.campaignSeed, itemId: i.itemId, groundTruth: i.groundTruth, sampleIndex: i.sampleIndex }),
    offlineInputs: { seed: i.campaignSeed, itemId: i.itemId, groundTruth: i.groundTruth },
    validate: nonEmpty,
  });
  return { ok: r.ok, text: r.value, invalid: r.error, ...info(r, i.role.model) };
}

/**
 * All N samples of one item in one activity (lock-step lanes with an offline target): the same N
 * requests, sample indices and cache keys as N `sampleTarget` calls, in one local activity instead of
 * N. Remote targets keep one activity per sample (the role queue's rate limit counts activities).
 */
export async function sampleTargetN(i: Omit<SampleTargetInput, 'sampleIndex'> & { samples: number }): Promise<SampleTargetOutput[]> {
  const { samples, ...one } = i;
  return Promise.all(Array.from({ length: samples }, (_, k) => sampleTarget({ ...one, sampleIndex: k })));
}

/**
 * The campaign's own SFT model as the target, served by the trainer on this worker: it is asked
 * exactly what it was trained on (the question, or the report prompt) with the image, and each
 * sample index gets its own request seed so the samples differ at temperature > 0.
 */
async function sampleServedTarget(i: SampleTargetInput): Promise<SampleTargetOutput> {
  const ep = await servedEndpoint(i.role.served!);
  const role: ModelRole = { ...i.role, served: undefined, baseURL: ep.baseURL, model: ep.model };
  const text = promptOf(i);
  const messages: ChatMessage[] = [{ role: 'user', content: text }];
  if (i.imageKey) {
    messages[0]!.content = [{ type: 'image_url', image_url: { url: await imageDataUrl(i.imageKey) } }, { type: 'text', text }];
  }
  const r = await callModel<string>({
    roleName: 'target',
    role,
    promptVersion: 'served-sft.v1',
    messages,
    sampleIndex: i.sampleIndex,
    seed: Number.parseInt(sha256Hex(Buffer.from(`${i.campaignSeed}\u0000${i.itemId}\u0000${i.sampleIndex}`)).slice(0, 8), 16),
    offline: () => '',
    validate: nonEmpty,
  });
  return { ok: r.ok, text: r.value, invalid: r.error, ...info(r, ep.model) };
}

export interface JudgeInput {
  role: ModelRole;
  campaignSeed: number;
  itemId: string;
  kind: 'vqa' | 'report';
  question?: string;
  groundTruth: string;
}
export interface JudgeSelectOutput extends ModelCallInfo {
  ok: boolean;
  /** Index of the most hallucinated candidate, null when none conflicts clearly. */
  index?: number | null;
  conflicts?: string[];
  invalid?: string;
}

function questionLine(q?: string): string {
  return q ? `Question: ${q}` : '';
}

export async function judgeSelect(i: JudgeInput & { candidates: string[] }): Promise<JudgeSelectOutput> {
  const candidates = i.candidates.map((c, k) => `[${k}] ${c}`).join('\n');
  const messages = renderPrompt(PROMPT_VERSIONS.judgeSelect, { kind: i.kind, groundTruth: i.groundTruth, questionLine: questionLine(i.question), candidates });
  const r = await callModel<{ index: number | null; conflicts: string[] }>({
    roleName: 'judge',
    role: i.role,
    promptVersion: PROMPT_VERSIONS.judgeSelect,
    messages,
    sampleIndex: 0,
    offline: () => offlineJudgeSelect({ groundTruth: i.groundTruth, candidates: i.candidates }),
    validate: (_t, v) => {
      if (!v) return { ok: false, error: 'reply is not a JSON object {index, conflicts}' };
      const idx = v.index;
      if (idx !== null && !(typeof idx === 'number' && Number.isInteger(idx) && idx >= 0 && idx < i.candidates.length)) {
        return { ok: false, error: `"index" must be null or an integer from 0 to ${i.candidates.length - 1}` };
      }
      const conflicts = Array.isArray(v.conflicts) ? v.conflicts.filter((c): c is string => typeof c === 'string') : [];
      if (idx !== null && !conflicts.length) return { ok: false, error: '"conflicts" must list the conflicts of the chosen candidate' };
      return { ok: true, value: { index: idx, conflicts } };
    },
  });
  return { ok: r.ok, index: r.value?.index, conflicts: r.value?.conflicts, invalid: r.error, ...info(r, i.role.model) };
}

export interface JudgeGenerateOutput extends ModelCallInfo {
  ok: boolean;
  text?: string;
  conflicts?: string[];
  invalid?: string;
}

export async function judgeGenerate(i: JudgeInput): Promise<JudgeGenerateOutput> {
  const messages = renderPrompt(PROMPT_VERSIONS.judgeGenerate, { kind: i.kind, groundTruth: i.groundTruth, questionLine: questionLine(i.question) });
  const norm = (s: string) => s.toLowerCase().replace(/\s+/g, ' ').trim();
  const r = await callModel<{ response: string; conflicts: string[] }>({
    roleName: 'judge',
    role: i.role,
    promptVersion: PROMPT_VERSIONS.judgeGenerate,
    messages,
    sampleIndex: 0,
    offline: () => offlineJudgeGenerate({ seed: i.campaignSeed, itemId: i.itemId, groundTruth: i.groundTruth }),
    offlineInputs: { seed: i.campaignSeed, itemId: i.itemId },
    validate: (_t, v) => {
      if (!v || typeof v.response !== 'string' || !v.response.trim()) return { ok: false, error: 'reply is not a JSON object {response, conflicts} with a non-empty response' };
      if (norm(v.response) === norm(i.groundTruth)) return { ok: false, error: 'the response repeats the ground truth; it must contain hallucinations' };
      const conflicts = Array.isArray(v.conflicts) ? v.conflicts.filter((c): c is string => typeof c === 'string') : [];
      return { ok: true, value: { response: v.response.trim(), conflicts } };
    },
  });
  return { ok: r.ok, text: r.value?.response, conflicts: r.value?.conflicts, invalid: r.error, ...info(r, i.role.model) };
}

export interface DebateTurnInput {
  role: ModelRole;
  agent: number;
  turn: number;
  /** 0-based round (turn div agents); the offline heuristics concede as rounds pass. */
  round: number;
  campaignSeed: number;
  itemId: string;
  /** The response under rating (y_l), text only. */
  response: string;
  /** Only the offline distance heuristic reads it; it is never part of an endpoint prompt. */
  groundTruth?: string;
  previous?: { score: number; reason: string; agent: number };
  scale: DebateScale;
}
export interface DebateTurnOutput extends ModelCallInfo {
  ok: boolean;
  agree?: boolean;
  score?: number;
  reason?: string;
  invalid?: string;
}

export async function debateTurn(i: DebateTurnInput): Promise<DebateTurnOutput> {
  const previousLine = i.previous
    ? `The previous panel member (agent ${i.previous.agent + 1}) scored it ${i.previous.score}: ${i.previous.reason || '(no reason given)'}\nEither agree (adopt that score) or give your own score.`
    : 'You are the first to score it.';
  const messages: ChatMessage[] = renderPrompt(PROMPT_VERSIONS.agent, { scaleMin: i.scale.min, scaleMax: i.scale.max, response: i.response, previousLine });
  const r = await callModel({
    roleName: `agent-${i.agent}`,
    role: i.role,
    promptVersion: PROMPT_VERSIONS.agent,
    messages,
    sampleIndex: i.turn,
    offline: () => offlineAgent({ model: i.role.model, yl: i.response, groundTruth: i.groundTruth, previous: i.previous, scale: i.scale, round: i.round }),
    offlineInputs: { groundTruth: i.groundTruth ?? null, round: i.round },
    validate: (_t, v) => {
      const p = parseAgentReply(v, i.scale, !!i.previous);
      return p.ok ? { ok: true, value: p.vote } : { ok: false, error: p.error };
    },
  });
  return { ok: r.ok, agree: r.value?.agree, score: r.value?.score, reason: r.value?.reason, invalid: r.error, ...info(r, i.role.model) };
}

/** The activities the model workers register (one worker per role queue). */
export const modelActivities = { sampleTarget, sampleTargetN, judgeSelect, judgeGenerate, debateTurn };
