// Model-call activities. Each runs on its role's task queue (core/queues.ts modelQueue), served by
// workers/models.ts with the role's rate limit. Inputs carry the role settings (URL, model, the NAME
// of the API-key env var) but never a key value; the key is read from process.env at call time.
// A role without baseURL is served by the offline engine inside the same code path (cache,
// validation, corrective re-ask), so offline and real campaigns produce the same kinds of records.
//
// Keys only: inputs and outputs carry S3 keys, ids and numbers — never the item's words or a model's
// reply. Each activity reads the text it needs (ItemText under `textKey`, candidates and votes under
// theirs; content-addressed, so read through the per-process immutable cache) and writes what the
// model said as a content-addressed object whose key it returns.
import type { ModelRole } from '../core/config';
import type { ItemText, ModelText } from '../core/contracts';
import { parseAgentReply, type AgentVote, type DebateScale } from '../core/debate';
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
  /** S3 key of the item's ItemText (question; the ground truth only the offline placeholder target reads). */
  textKey: string;
  imageKey?: string;
  sampleIndex: number;
}
export interface SampleTargetOutput extends ModelCallInfo {
  ok: boolean;
  /** S3 key of the sampled answer (ModelText), when ok. */
  answerKey?: string;
  invalid?: string;
}

/** The item's words (content-addressed: read once per worker process for all its calls). */
export async function readItemText(key: string): Promise<ItemText> {
  return artifactStore().getImmutableJson<ItemText>(key);
}

/** A text a model call produced, stored content-addressed (the same words → the same key on a re-run). */
export async function putModelText(text: string): Promise<string> {
  const v: ModelText = { text };
  return (await artifactStore().putJson('model-texts', v)).key;
}

export async function readModelText(key: string): Promise<string> {
  return (await artifactStore().getImmutableJson<ModelText>(key)).text;
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
  const item = await readItemText(i.textKey);
  const r = i.role.served ? await sampleServedTarget(i, item) : await sampleEndpointTarget(i, item);
  return { ok: r.ok, ...(r.ok && r.value !== undefined ? { answerKey: await putModelText(r.value) } : {}), invalid: r.error, ...info(r, r.model) };
}

async function sampleEndpointTarget(i: SampleTargetInput, item: ItemText) {
  const instruction = i.kind === 'vqa' ? `Question: ${item.question ?? ''}\nAnswer briefly.` : 'Write the findings and impression of a radiology report for this image.';
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
    offline: () => offlineTarget({ seed: i.campaignSeed, itemId: i.itemId, groundTruth: item.answer, sampleIndex: i.sampleIndex }),
    offlineInputs: { seed: i.campaignSeed, itemId: i.itemId, groundTruth: item.answer },
    validate: nonEmpty,
  });
  return { ...r, model: i.role.model };
}

/**
 * The campaign's own SFT model as the target, served by the trainer on this worker: it is asked
 * exactly what it was trained on (the question, or the report prompt) with the image, and each
 * sample index gets its own request seed so the samples differ at temperature > 0.
 */
async function sampleServedTarget(i: SampleTargetInput, item: ItemText) {
  const ep = await servedEndpoint(i.role.served!);
  const role: ModelRole = { ...i.role, served: undefined, baseURL: ep.baseURL, model: ep.model };
  const text = promptOf(item);
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
  return { ...r, model: ep.model };
}

export interface JudgeInput {
  role: ModelRole;
  campaignSeed: number;
  itemId: string;
  kind: 'vqa' | 'report';
  /** S3 key of the item's ItemText (question and ground truth). */
  textKey: string;
}

/** What the judge said about an item's candidates (S3, under `verdictKey`): the conflicts of y_l. */
export interface JudgeVerdict {
  conflicts: string[];
}

export interface JudgeSelectOutput extends ModelCallInfo {
  ok: boolean;
  /** Index into `candidateKeys` of the most hallucinated candidate, null when none conflicts clearly. */
  index?: number | null;
  /** S3 key of the JudgeVerdict (the chosen candidate's conflicts), when ok. */
  verdictKey?: string;
  invalid?: string;
}

function questionLine(q?: string): string {
  return q ? `Question: ${q}` : '';
}

export async function judgeSelect(i: JudgeInput & { candidateKeys: string[] }): Promise<JudgeSelectOutput> {
  const item = await readItemText(i.textKey);
  const texts = await Promise.all(i.candidateKeys.map(readModelText));
  const candidates = texts.map((c, k) => `[${k}] ${c}`).join('\n');
  const messages = renderPrompt(PROMPT_VERSIONS.judgeSelect, { kind: i.kind, groundTruth: item.answer, questionLine: questionLine(item.question), candidates });
  const r = await callModel<{ index: number | null; conflicts: string[] }>({
    roleName: 'judge',
    role: i.role,
    promptVersion: PROMPT_VERSIONS.judgeSelect,
    messages,
    sampleIndex: 0,
    offline: () => offlineJudgeSelect({ groundTruth: item.answer, candidates: texts }),
    validate: (_t, v) => {
      if (!v) return { ok: false, error: 'reply is not a JSON object {index, conflicts}' };
      const idx = v.index;
      if (idx !== null && !(typeof idx === 'number' && Number.isInteger(idx) && idx >= 0 && idx < texts.length)) {
        return { ok: false, error: `"index" must be null or an integer from 0 to ${texts.length - 1}` };
      }
      const conflicts = Array.isArray(v.conflicts) ? v.conflicts.filter((c): c is string => typeof c === 'string') : [];
      if (idx !== null && !conflicts.length) return { ok: false, error: '"conflicts" must list the conflicts of the chosen candidate' };
      return { ok: true, value: { index: idx, conflicts } };
    },
  });
  const verdictKey = r.value ? (await artifactStore().putJson('judge-verdicts', { conflicts: r.value.conflicts } satisfies JudgeVerdict)).key : undefined;
  return { ok: r.ok, index: r.value?.index, ...(verdictKey ? { verdictKey } : {}), invalid: r.error, ...info(r, i.role.model) };
}

export interface JudgeGenerateOutput extends ModelCallInfo {
  ok: boolean;
  /** S3 key of the written hallucination (ModelText), when ok. */
  rejectedKey?: string;
  /** S3 key of the JudgeVerdict (its conflicts with the ground truth), when ok. */
  verdictKey?: string;
  invalid?: string;
}

export async function judgeGenerate(i: JudgeInput): Promise<JudgeGenerateOutput> {
  const item = await readItemText(i.textKey);
  const messages = renderPrompt(PROMPT_VERSIONS.judgeGenerate, { kind: i.kind, groundTruth: item.answer, questionLine: questionLine(item.question) });
  const norm = (s: string) => s.toLowerCase().replace(/\s+/g, ' ').trim();
  const r = await callModel<{ response: string; conflicts: string[] }>({
    roleName: 'judge',
    role: i.role,
    promptVersion: PROMPT_VERSIONS.judgeGenerate,
    messages,
    sampleIndex: 0,
    offline: () => offlineJudgeGenerate({ seed: i.campaignSeed, itemId: i.itemId, groundTruth: item.answer }),
    offlineInputs: { seed: i.campaignSeed, itemId: i.itemId },
    validate: (_t, v) => {
      if (!v || typeof v.response !== 'string' || !v.response.trim()) return { ok: false, error: 'reply is not a JSON object {response, conflicts} with a non-empty response' };
      if (norm(v.response) === norm(item.answer)) return { ok: false, error: 'the response repeats the ground truth; it must contain hallucinations' };
      const conflicts = Array.isArray(v.conflicts) ? v.conflicts.filter((c): c is string => typeof c === 'string') : [];
      return { ok: true, value: { response: v.response.trim(), conflicts } };
    },
  });
  if (!r.value) return { ok: r.ok, invalid: r.error, ...info(r, i.role.model) };
  const [rejectedKey, verdict] = await Promise.all([putModelText(r.value.response), artifactStore().putJson('judge-verdicts', { conflicts: r.value.conflicts } satisfies JudgeVerdict)]);
  return { ok: r.ok, rejectedKey, verdictKey: verdict.key, invalid: r.error, ...info(r, i.role.model) };
}

export interface DebateTurnInput {
  role: ModelRole;
  agent: number;
  turn: number;
  /** 0-based round (turn div agents); the offline heuristics concede as rounds pass. */
  round: number;
  campaignSeed: number;
  itemId: string;
  /** S3 key (ModelText) of the response under rating (y_l), text only. */
  rejectedKey: string;
  /** S3 key of the item's ItemText: only the offline distance heuristic reads its ground truth; it is never part of an endpoint prompt. */
  textKey: string;
  /** The last valid vote: its score, its agent, and the S3 key of its AgentVote (the reason is read from there). */
  previous?: { score: number; agent: number; voteKey?: string };
  scale: DebateScale;
}
export interface DebateTurnOutput extends ModelCallInfo {
  ok: boolean;
  agree?: boolean;
  score?: number;
  /** S3 key of the AgentVote {agree, score, reason}, when ok. */
  voteKey?: string;
  invalid?: string;
}

export async function debateTurn(i: DebateTurnInput): Promise<DebateTurnOutput> {
  const offline = !i.role.baseURL;
  const [response, item, previousVote] = await Promise.all([
    readModelText(i.rejectedKey),
    offline ? readItemText(i.textKey) : undefined,
    i.previous?.voteKey ? artifactStore().getImmutableJson<AgentVote>(i.previous.voteKey) : undefined,
  ]);
  const previous = i.previous ? { score: i.previous.score, agent: i.previous.agent, reason: previousVote?.reason ?? '' } : undefined;
  const previousLine = previous
    ? `The previous panel member (agent ${previous.agent + 1}) scored it ${previous.score}: ${previous.reason || '(no reason given)'}\nEither agree (adopt that score) or give your own score.`
    : 'You are the first to score it.';
  const messages: ChatMessage[] = renderPrompt(PROMPT_VERSIONS.agent, { scaleMin: i.scale.min, scaleMax: i.scale.max, response, previousLine });
  const groundTruth = item?.answer;
  const r = await callModel({
    roleName: `agent-${i.agent}`,
    role: i.role,
    promptVersion: PROMPT_VERSIONS.agent,
    messages,
    sampleIndex: i.turn,
    offline: () => offlineAgent({ model: i.role.model, yl: response, groundTruth, previous, scale: i.scale, round: i.round }),
    offlineInputs: { groundTruth: groundTruth ?? null, round: i.round },
    validate: (_t, v) => {
      const p = parseAgentReply(v, i.scale, !!previous);
      return p.ok ? { ok: true, value: p.vote } : { ok: false, error: p.error };
    },
  });
  const voteKey = r.value ? (await artifactStore().putJson('agent-votes', r.value satisfies AgentVote)).key : undefined;
  return { ok: r.ok, agree: r.value?.agree, score: r.value?.score, ...(voteKey ? { voteKey } : {}), invalid: r.error, ...info(r, i.role.model) };
}

/** The activities the model workers register (one worker per role queue). */
export const modelActivities = { sampleTarget, judgeSelect, judgeGenerate, debateTurn };
