// Text-branch (D_t) storage activities (curation queue): the pair record and the debate transcript,
// both content-addressed JSON in S3, so a re-run from the reply cache writes the same keys. Their
// inputs are keys (the item's text, the rejected answer, the judge's verdict, the agents' votes):
// these activities put the words together in S3, never in a workflow payload.
import type { AgentVote, DebateOutcome, DebateTurnRecord } from '../core/debate';
import { artifactStore } from '../lib/env';
import { readItemText, readModelText, type JudgeVerdict } from './models';

/** The D_t pair as stored in S3 (what the merge and the report read). */
export interface TextPairRecord {
  itemId: string;
  kind: 'vqa' | 'report';
  question?: string;
  imageKey?: string;
  /** Preferred: the ground truth. */
  y_w: string;
  /** Rejected: the most hallucinated sample, or a judge-written hallucination. */
  y_l: string;
  source: 'sampled' | 'generated';
  conflicts: string[];
  /** Reply-cache keys of every model reply that led to this pair (samples, judge). */
  replyKeys: string[];
}

export interface StoreTextPairInput {
  itemId: string;
  kind: 'vqa' | 'report';
  /** ItemText of the item: question and y_w. */
  textKey: string;
  imageKey?: string;
  /** ModelText of y_l. */
  rejectedKey: string;
  /** JudgeVerdict: the conflicts of y_l. */
  verdictKey: string;
  source: 'sampled' | 'generated';
  replyKeys: string[];
}

export async function storeTextPair(i: StoreTextPairInput): Promise<string> {
  const store = artifactStore();
  const [item, y_l, verdict] = await Promise.all([readItemText(i.textKey), readModelText(i.rejectedKey), store.getImmutableJson<JudgeVerdict>(i.verdictKey)]);
  const r: TextPairRecord = {
    itemId: i.itemId,
    kind: i.kind,
    ...(item.question !== undefined ? { question: item.question } : {}),
    ...(i.imageKey !== undefined ? { imageKey: i.imageKey } : {}),
    y_w: item.answer,
    y_l,
    source: i.source,
    conflicts: verdict.conflicts,
    replyKeys: i.replyKeys,
  };
  return (await store.putJson('text-pairs', r)).key;
}

/** One turn as stored in the transcript: the workflow's record with the agent's reason read back from its vote. */
export type TranscriptTurn = Omit<DebateTurnRecord, 'voteKey'> & { reason: string };

/** The debate as stored in S3 (what the report reads). */
export interface DebateTranscript {
  itemId: string;
  mode: 'multi' | 'single';
  response: string;
  scale: { min: number; max: number };
  agents: string[];
  rounds: number;
  turns: TranscriptTurn[];
  outcome: DebateOutcome;
}

export interface StoreDebateTranscriptInput extends Omit<DebateTranscript, 'response' | 'turns'> {
  /** ModelText of the rated response (y_l). */
  rejectedKey: string;
  turns: DebateTurnRecord[];
}

export async function storeDebateTranscript(i: StoreDebateTranscriptInput): Promise<string> {
  const store = artifactStore();
  const { rejectedKey, turns, ...rest } = i;
  const [response, votes] = await Promise.all([readModelText(rejectedKey), Promise.all(turns.map((t) => (t.voteKey ? store.getImmutableJson<AgentVote>(t.voteKey) : undefined)))]);
  const t: DebateTranscript = {
    ...rest,
    response,
    turns: turns.map(({ voteKey: _v, ...turn }, k) => ({ ...turn, reason: votes[k]?.reason ?? '' })),
  };
  return (await store.putJson('debate-transcripts', t)).key;
}
