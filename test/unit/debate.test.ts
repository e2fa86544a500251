// The debate protocol rules (core/debate.ts) against hand-computed values.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { agentForTurn, debateStats, DebateTurnRecord, evaluateDebate, parseAgentReply as parseVote, previousVote, resolveVote, turnCap } from '../../core/debate';
import { readReply, replyKeysFor } from '../../lib/models/reply';

/** A reply text read as the model-call path reads it (one extractor), then validated as a vote. */
const parseAgentReply = (text: string, s: { min: number; max: number }, hasPrevious: boolean) => parseVote(readReply({ content: text, finishReason: 'stop' }, replyKeysFor('agent-score.v1')).json, s, hasPrevious);

const scale = { min: 1, max: 10 };

/** Plays a scripted debate through the same rules the workflow uses; null = invalid reply. */
function play(script: ({ agree: boolean; score: number } | null)[], agents: number, rounds: number) {
  const turns: DebateTurnRecord[] = [];
  let out = evaluateDebate(turns, { agents, rounds });
  let i = 0;
  while (!out.done) {
    const v = script[i++];
    if (v === undefined) throw new Error(`script ran out at turn ${i}`);
    const prev = previousVote(turns);
    const r = resolveVote(v, prev);
    turns.push({ turn: turns.length, agent: agentForTurn(turns.length, agents), model: 'm', score: r.score, agree: r.agree, valid: v !== null, latencyMs: 0, replyKeys: [], promptVersion: 'p' });
    out = evaluateDebate(turns, { agents, rounds });
  }
  return { out, turns, used: i };
}

describe('debate rules', () => {
  test('immediate consensus: G1 scores 7, G2 and G3 agree → 3 turns, score 7', () => {
    const { out, turns } = play([{ agree: false, score: 7 }, { agree: true, score: 0 }, { agree: true, score: 0 }], 3, 5);
    expect(out).toEqual({ done: true, consensus: true, atCap: false, score: 7, turns: 3, rounds: 1 });
    expect(turns.map((t) => t.score)).toEqual([7, 7, 7]);
  });

  test('consensus in a later round: 6, 8, agree(8), agree(8) → consensus at turn 4 (round 2)', () => {
    // history 6, 8, 8, 8: the last three turns (G2, G3, G1) share 8.
    const { out } = play([{ agree: false, score: 6 }, { agree: false, score: 8 }, { agree: true, score: 3 }, { agree: true, score: 1 }], 3, 5);
    expect(out).toEqual({ done: true, consensus: true, atCap: false, score: 8, turns: 4, rounds: 2 });
  });

  test('same score given independently (agree false) also counts toward consensus', () => {
    const { out } = play([{ agree: false, score: 5 }, { agree: false, score: 5 }], 2, 5);
    expect(out.consensus).toBe(true);
    expect(out.score).toBe(5);
    expect(out.turns).toBe(2);
  });

  test('cap reached → the exact mean of every score in the history', () => {
    // 2 agents, 3 rounds = 6 turns alternating 4 and 9: mean (4+9+4+9+4+9)/6 = 6.5.
    const alt = [4, 9, 4, 9, 4, 9].map((s) => ({ agree: false, score: s }));
    const { out } = play(alt, 2, 3);
    expect(out).toEqual({ done: true, consensus: false, atCap: true, score: 6.5, turns: 6, rounds: 3 });
    expect(turnCap({ agents: 2, rounds: 3 })).toBe(6);
  });

  test('cap with three agents and partial agreement: mean over 15 turns', () => {
    // Round pattern 3, agree(3), 10 → history [3,3,10]×5: the streak never reaches 3.
    const round = [{ agree: false, score: 3 }, { agree: true, score: 0 }, { agree: false, score: 10 }];
    const { out } = play([...round, ...round, ...round, ...round, ...round], 3, 5);
    expect(out.atCap).toBe(true);
    expect(out.turns).toBe(15);
    expect(out.score).toBeCloseTo((3 + 3 + 10) / 3, 12); // 16/3
  });

  test('invalid replies are no vote: they break a streak and are left out of the mean', () => {
    // 2 agents, 2 rounds: 5, invalid, 5, 7 → no two consecutive equal votes → cap, mean (5+5+7)/3.
    const { out, turns } = play([{ agree: false, score: 5 }, null, { agree: false, score: 5 }, { agree: false, score: 7 }], 2, 2);
    expect(turns[1]!.score).toBeNull();
    expect(out).toEqual({ done: true, consensus: false, atCap: true, score: 17 / 3, turns: 4, rounds: 2 });
  });

  test('an agent after an invalid turn sees the last VALID score', () => {
    const { turns, out } = play([{ agree: false, score: 4 }, null, { agree: true, score: 0 }, { agree: true, score: 0 }, { agree: true, score: 0 }], 3, 5);
    expect(turns.map((t) => t.score)).toEqual([4, null, 4, 4, 4]);
    expect(out).toEqual({ done: true, consensus: true, atCap: false, score: 4, turns: 5, rounds: 2 });
  });

  test('all replies invalid → no score at the cap', () => {
    const { out } = play([null, null], 1, 2);
    expect(out.atCap).toBe(true);
    expect(out.score).toBeUndefined();
  });

  test('single-agent mode: one agent, one turn', () => {
    const { out, used } = play([{ agree: false, score: 8 }], 1, 1);
    expect(used).toBe(1);
    expect(out).toEqual({ done: true, consensus: true, atCap: false, score: 8, turns: 1, rounds: 1 });
    const bad = play([null], 1, 1);
    expect(bad.out.score).toBeUndefined();
  });

  test('reply parsing: scale, fences, agree adopts, garbage', () => {
    expect(parseAgentReply('{"agree": false, "score": 7, "reason": "x"}', scale, true)).toEqual({ ok: true, vote: { agree: false, score: 7, reason: 'x' } });
    expect(parseAgentReply('Sure.\n```json\n{"agree": true, "reason": "fine"}\n```', scale, true)).toMatchObject({ ok: true, vote: { agree: true } });
    expect(parseAgentReply('{"agree": false, "score": 11, "reason": ""}', scale, true)).toMatchObject({ ok: false, error: expect.stringContaining('outside the scale 1–10') });
    expect(parseAgentReply('no json here', scale, false)).toMatchObject({ ok: false });
    expect(parseAgentReply('{"score": "6"}', scale, false)).toEqual({ ok: true, vote: { agree: false, score: 6, reason: '' } });
    expect(parseAgentReply('{"agree": "yes", "score": 6}', scale, true)).toMatchObject({ ok: false });
    expect(parseAgentReply('I rate it {"agree": false, "score": 4, "reason": "minor"} given the context.', scale, false)).toMatchObject({ ok: true, vote: { score: 4 } });
    // The first agent cannot agree with nobody: its own score counts.
    expect(resolveVote({ agree: true, score: 6 }, undefined)).toEqual({ score: 6, agree: false });
  });
});

describe('debate counters', () => {
  test('turns per item and consensus rate', () => {
    expect(debateStats([{ turns: 3, consensus: true }, { turns: 15, consensus: false }, { turns: 4, consensus: true }, { turns: 1, consensus: true }])).toEqual({ items: 4, turns: 23, meanTurns: 23 / 4, consensusRate: 0.75 });
    expect(debateStats([])).toEqual({ items: 0, turns: 0, meanTurns: 0, consensusRate: 0 });
  });
});

describe('../shared/cases/reasoning-reply', () => {
  const cases = JSON.parse(fs.readFileSync(path.join(__dirname, '../fixtures/cases/reasoning-reply/replies.json'), 'utf8')) as { name: string; hasPrevious: boolean; expect: number; text: string }[];
  test.each(cases.map((c) => [c.name, c]))('%s: the vote is read from the answer, not the reasoning block', (_n, c) => {
    const r = parseAgentReply(c.text, scale, c.hasPrevious);
    expect(r).toMatchObject({ ok: true, vote: { agree: false, score: c.expect } });
    expect(c.expect).toBe(7);
  });
});
