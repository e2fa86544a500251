// The multi-Med-LLM debate protocol (MMedPO §3.1, clinical relevance s_t of y_l), as pure rules.
// Workflow code (workflows/debate.ts) drives it; nothing here does I/O, so it is unit-tested alone.
//
// Protocol: agents G_1..G_g take turns in a fixed order (turn t → agent t mod g). G_1 scores; each next
// agent sees the previous score (and reason) and either agrees (adopts that score) or gives a new one.
// Consensus = g consecutive turns with the same score. A round = g turns; after r rounds without
// consensus the final score is the mean of every score in the history. Single-agent mode = one agent,
// one turn. An invalid reply (after the corrective re-ask) is no vote: it is recorded, it breaks a
// consensus streak, and it is left out of the mean.

export interface DebateScale {
  min: number;
  max: number;
}

/** What an agent said on one turn (parsed), or null when the reply stayed invalid. */
export interface AgentVote {
  agree: boolean;
  score: number;
  reason: string;
}

export interface DebateTurnRecord {
  /** 0-based turn index. */
  turn: number;
  /** 0-based agent index. */
  agent: number;
  model: string;
  /** The score this turn stands for (the adopted previous score when agree), null = no vote. */
  score: number | null;
  agree: boolean | null;
  /** S3 key of the agent's AgentVote (its reason is there, never in workflow history); absent when invalid. */
  voteKey?: string;
  valid: boolean;
  /** Why the reply was invalid (absent when valid). */
  invalid?: string;
  /** Latency of the endpoint request that produced the reply (the original one when cached). */
  latencyMs: number;
  replyKeys: string[];
  promptVersion: string;
}

export interface DebateOutcome {
  done: boolean;
  consensus: boolean;
  atCap: boolean;
  /** Final s_t: the consensus score, or the mean of every valid score at the cap; undefined = no valid vote. */
  score?: number;
  turns: number;
  rounds: number;
}

export interface DebateParams {
  agents: number;
  rounds: number;
}

/** Turn index → agent index. */
export function agentForTurn(turn: number, agents: number): number {
  return turn % agents;
}

/** Maximum number of turns: rounds × agents (single-agent mode: 1 agent × 1 round). */
export function turnCap(p: DebateParams): number {
  return p.agents * p.rounds;
}

/** The last valid score before `turn` (what the next agent sees), with its agent and the key of its vote (the reason). */
export function previousVote(history: readonly Pick<DebateTurnRecord, 'score' | 'voteKey' | 'agent'>[]): { score: number; agent: number; voteKey?: string } | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    const h = history[i]!;
    if (h.score !== null) return { score: h.score, agent: h.agent, ...(h.voteKey ? { voteKey: h.voteKey } : {}) };
  }
  return undefined;
}

/** The score a turn stands for: agreeing adopts the previous score; an invalid reply is no vote. */
export function resolveVote(vote: Pick<AgentVote, 'agree' | 'score'> | null, previous: { score: number } | undefined): { score: number | null; agree: boolean | null } {
  if (!vote) return { score: null, agree: null };
  if (vote.agree && previous) return { score: previous.score, agree: true };
  return { score: vote.score, agree: false };
}

/** State of a debate after the given history. */
export function evaluateDebate(history: readonly Pick<DebateTurnRecord, 'score'>[], p: DebateParams): DebateOutcome {
  const cap = turnCap(p);
  let streak = 0;
  let streakScore: number | null = null;
  for (const h of history) {
    if (h.score === null) {
      streak = 0;
      streakScore = null;
    } else if (streakScore !== null && h.score === streakScore) {
      streak++;
    } else {
      streak = 1;
      streakScore = h.score;
    }
  }
  const n = history.length;
  const rounds = Math.ceil(n / p.agents);
  if (streak >= p.agents && streakScore !== null) {
    return { done: true, consensus: true, atCap: false, score: streakScore, turns: n, rounds };
  }
  if (n >= cap) {
    const valid = history.map((h) => h.score).filter((s): s is number => s !== null);
    const score = valid.length ? valid.reduce((a, b) => a + b, 0) / valid.length : undefined;
    return { done: true, consensus: false, atCap: true, score, turns: n, rounds };
  }
  return { done: false, consensus: false, atCap: false, turns: n, rounds };
}

/**
 * Validates an agent's vote `{agree, score, reason}` on the declared scale. `v` is the JSON object of
 * the reply as lib/models/reply.ts extracts it (reasoning blocks, fences and prose removed); undefined
 * when the reply holds none. A score given as a numeric string counts.
 */
export function parseAgentReply(v: Record<string, unknown> | undefined, scale: DebateScale, hasPrevious: boolean): { ok: true; vote: AgentVote } | { ok: false; error: string } {
  if (!v) return { ok: false, error: 'reply is not a JSON object {agree, score, reason}' };
  const agree = v.agree === undefined && !hasPrevious ? false : v.agree;
  if (typeof agree !== 'boolean') return { ok: false, error: '"agree" must be true or false' };
  const reason = typeof v.reason === 'string' ? v.reason : '';
  if (agree && hasPrevious) return { ok: true, vote: { agree: true, score: typeof v.score === 'number' ? v.score : NaN, reason } };
  const score = typeof v.score === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v.score) ? Number(v.score) : v.score;
  if (typeof score !== 'number' || !Number.isFinite(score)) return { ok: false, error: '"score" must be a number' };
  if (score < scale.min || score > scale.max) return { ok: false, error: `"score" ${score} is outside the scale ${scale.min}–${scale.max}` };
  return { ok: true, vote: { agree: false, score, reason } };
}

/** Campaign counters over finished debates: turns per item and the consensus rate. */
export function debateStats(outcomes: readonly Pick<DebateOutcome, 'turns' | 'consensus'>[]): { items: number; turns: number; meanTurns: number; consensusRate: number } {
  const items = outcomes.length;
  const turns = outcomes.reduce((a, o) => a + o.turns, 0);
  const consensus = outcomes.filter((o) => o.consensus).length;
  return { items, turns, meanTurns: items ? turns / items : 0, consensusRate: items ? consensus / items : 0 };
}
