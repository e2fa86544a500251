// Text-branch (D_t) storage activities (curation queue): the pair record and the debate transcript,
// both content-addressed JSON in S3, so a re-run from the reply cache writes the same keys.
import type { DebateOutcome, DebateTurnRecord } from '../core/debate';
import { artifactStore } from '../lib/env';

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

export async function storeTextPair(r: TextPairRecord): Promise<string> {
  return (await artifactStore().putJson('text-pairs', r)).key;
}

export interface DebateTranscript {
  itemId: string;
  mode: 'multi' | 'single';
  response: string;
  scale: { min: number; max: number };
  agents: string[];
  rounds: number;
  turns: DebateTurnRecord[];
  outcome: DebateOutcome;
}

export async function storeDebateTranscript(t: DebateTranscript): Promise<string> {
  return (await artifactStore().putJson('debate-transcripts', t)).key;
}
