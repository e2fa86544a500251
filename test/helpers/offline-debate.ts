// Plays a debate of the offline heuristic agents through the pure rules (core/debate.ts), without
// Temporal: the reference the workflow's result must equal when the roles are offline.
import { agentForTurn, DebateOutcome, evaluateDebate, parseAgentReply, previousVote, resolveVote, DebateTurnRecord } from '../../core/debate';
import { replyKeysFor, extractJsonObject } from '../../lib/models/reply';
import { offlineAgent } from '../../lib/offline/engines';

export function playOfflineDebate(o: { yl: string; groundTruth: string; models: string[]; rounds: number; scale: { min: number; max: number } }): { outcome: DebateOutcome; scores: (number | null)[] } {
  const g = o.models.length;
  const turns: DebateTurnRecord[] = [];
  let out = evaluateDebate(turns, { agents: g, rounds: o.rounds });
  while (!out.done) {
    const t = turns.length;
    const a = agentForTurn(t, g);
    const prev = previousVote(turns);
    const text = offlineAgent({ model: o.models[a]!, yl: o.yl, groundTruth: o.groundTruth, previous: prev, scale: o.scale, round: Math.floor(t / g) });
    const p = parseAgentReply(extractJsonObject(text, replyKeysFor('agent-score.v1')), o.scale, !!prev);
    const r = resolveVote(p.ok ? p.vote : null, prev);
    turns.push({ turn: t, agent: a, model: o.models[a]!, score: r.score, agree: r.agree, valid: p.ok, latencyMs: 0, replyKeys: [], promptVersion: '' });
    out = evaluateDebate(turns, { agents: g, rounds: o.rounds });
  }
  return { outcome: out, scores: turns.map((t) => t.score) };
}

/** Ground truths of both kinds (reports and short VQA answers) used by the offline tests. */
export const OFFLINE_GROUND_TRUTHS = [
  'There is a small left pleural effusion. No pneumothorax. The heart size is normal.',
  'yes',
  'no',
  'Mild cardiomegaly with pulmonary edema.',
  'The lungs are clear. No focal consolidation.',
  'right lower lobe pneumonia',
  'Large right pneumothorax with mediastinal shift.',
  'left',
  'Moderate bilateral pleural effusions with bibasilar atelectasis.',
  'fracture of the left clavicle',
];
