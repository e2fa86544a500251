// Debate orchestration (workflow code): the protocol lives in core/debate.ts; each turn is one
// retriable activity on the agent's own model queue, with a per-turn summary. Completed turns are
// in history, so a worker crash resumes the debate without re-calling them.
import type { ModelRole } from '../core/config';
import { agentForTurn, DebateOutcome, DebateScale, DebateTurnRecord, evaluateDebate, previousVote, resolveVote } from '../core/debate';
import { modelQueue } from '../core/queues';
import { modelActivities } from './model-options';

export interface DebateView {
  mode: 'multi' | 'single';
  turns: (Pick<DebateTurnRecord, 'turn' | 'agent' | 'model' | 'score' | 'agree' | 'valid' | 'latencyMs'> & { cacheHit: boolean })[];
  outcome?: DebateOutcome;
}

export interface RunDebateInput {
  campaignSeed: number;
  itemId: string;
  /** S3 key (ModelText) of the response under rating, y_l. */
  rejectedKey: string;
  /** S3 key of the item's ItemText (read only by offline agents, for their distance heuristic). */
  textKey: string;
  agents: ModelRole[];
  rounds: number;
  scale: DebateScale;
  mode: 'multi' | 'single';
  queuePrefix?: string;
  /** How long an unreachable agent endpoint is retried (core/faults.ts); default DEFAULT_OUTAGE_BUDGET_HOURS. */
  outageBudgetHours?: number;
}

export interface DebateResult {
  outcome: DebateOutcome;
  turns: DebateTurnRecord[];
}

/** Runs one debate; `view` is updated as turns land (exposed by the caller's query). */
export async function runDebate(i: RunDebateInput, view: DebateView): Promise<DebateResult> {
  const agents = i.mode === 'single' ? i.agents.slice(0, 1) : i.agents;
  const params = { agents: agents.length, rounds: i.mode === 'single' ? 1 : i.rounds };
  const turns: DebateTurnRecord[] = [];
  let outcome = evaluateDebate(turns, params);
  while (!outcome.done) {
    const turn = turns.length;
    const agent = agentForTurn(turn, agents.length);
    const role = agents[agent]!;
    const previous = previousVote(turns);
    const { debateTurn } = modelActivities(
      role,
      `${i.queuePrefix ?? ''}${modelQueue(`agent-${agent}`)}`,
      `${i.mode === 'single' ? 'single-agent ' : ''}turn ${turn + 1}: agent ${agent + 1} (${role.model}) scores ${i.itemId}${previous ? ` after ${previous.score}` : ''}`,
      i.outageBudgetHours,
    );
    const r = await debateTurn({
      role,
      agent,
      turn,
      round: Math.floor(turn / agents.length),
      campaignSeed: i.campaignSeed,
      itemId: i.itemId,
      rejectedKey: i.rejectedKey,
      textKey: i.textKey,
      ...(previous ? { previous } : {}),
      scale: i.scale,
    });
    const vote = r.ok && r.agree !== undefined ? { agree: r.agree, score: r.score ?? NaN } : null;
    const resolved = resolveVote(vote, previous);
    const rec: DebateTurnRecord = {
      turn,
      agent,
      model: role.model,
      score: resolved.score,
      agree: resolved.agree,
      ...(r.voteKey ? { voteKey: r.voteKey } : {}),
      valid: r.ok,
      ...(r.ok ? {} : { invalid: r.invalid ?? 'invalid reply' }),
      latencyMs: r.latencyMs,
      replyKeys: r.replyKeys,
      promptVersion: r.promptVersion,
    };
    turns.push(rec);
    view.turns.push({ turn, agent, model: role.model, score: rec.score, agree: rec.agree, valid: rec.valid, latencyMs: rec.latencyMs, cacheHit: r.cacheHit });
    outcome = evaluateDebate(turns, params);
    view.outcome = outcome;
  }
  return { outcome, turns };
}
