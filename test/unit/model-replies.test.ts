// Model replies (issue 14 §2): one extractor (lib/models/reply.ts) and one call policy
// (lib/models/call.ts runModelCall) for every role. A stream of 1,000 generated agent replies in the
// shapes real servers and reasoning models produce loses no valid vote.
import { parseAgentReply } from '../../core/debate';
import { seededRng } from '../../core/rng';
import { LENGTH_RETRY_FACTOR, runModelCall, type Ask, type CachedReply, type ModelCallSpec } from '../../lib/models/call';
import { extractJsonObject, readReply, REPLY_SCHEMAS, replyKeysFor, stripReasoning } from '../../lib/models/reply';
import { parseCampaignConfig } from '../../core/config';

const scale = { min: 1, max: 10 };

describe('reply extractor', () => {
  test('reasoning blocks: with braces, template-opened, unterminated, any tag case', () => {
    expect(stripReasoning('<think>{"score": 1}</think>{"score": 7}').trim()).toBe('{"score": 7}');
    expect(stripReasoning('so {x} then </think>\n{"score": 7}').trim()).toBe('{"score": 7}');
    expect(stripReasoning('<THINKING>a {b}</THINKING> ok').trim()).toBe('ok');
    expect(stripReasoning('answer first <think> cut here {"score": 1').trim()).toBe('answer first');
    expect(extractJsonObject('<think>I could say {"agree": false, "score": 2, "reason": "draft"}</think>{"agree": false, "score": 7, "reason": "final"}')).toEqual({ agree: false, score: 7, reason: 'final' });
  });

  test('fences, prose before and after, braces in strings, nested objects, several candidates', () => {
    expect(extractJsonObject('Sure!\n```json\n{"index": 1, "conflicts": ["left vs right"]}\n```\nDone.')).toEqual({ index: 1, conflicts: ['left vs right'] });
    expect(extractJsonObject('Given {the image} I answer {"response": "a {brace} in a string", "conflicts": []} — thanks {!}')).toEqual({ response: 'a {brace} in a string', conflicts: [] });
    expect(extractJsonObject('{"agree": false, "score": 5, "reason": "x", "extra": {"a": [1, {"b": 2}]}}')).toMatchObject({ score: 5, extra: { a: [1, { b: 2 }] } });
    // An object with the expected keys wins over a later unrelated one; among equals the last wins.
    expect(extractJsonObject('{"agree": false, "score": 3, "reason": "a"} note: {"page": 2}', ['agree', 'score', 'reason'])).toMatchObject({ score: 3 });
    expect(extractJsonObject('draft {"score": 3} final {"score": 8}', ['score'])).toEqual({ score: 8 });
    expect(extractJsonObject('no json at all')).toBeUndefined();
  });

  test('null content, reasoning only, and finish_reason length', () => {
    expect(readReply({ content: null, finishReason: 'stop' })).toMatchObject({ problem: expect.stringContaining('no content (null'), cut: false });
    expect(readReply({ content: '<think>only thoughts</think>', finishReason: 'stop' })).toMatchObject({ problem: expect.stringContaining('only a reasoning block') });
    expect(readReply({ content: '<think>long thoughts {', finishReason: 'length' })).toMatchObject({ problem: expect.stringContaining('cut at the token limit'), cut: true });
    expect(readReply({ content: '{"a": 1}', finishReason: 'length' })).toMatchObject({ json: { a: 1 }, cut: true });
  });

  test('reply schemas exist for the JSON-answering prompt versions and name their keys', () => {
    expect(Object.keys(REPLY_SCHEMAS).sort()).toEqual(['agent-score.v1', 'judge-generate.v1', 'judge-select.v1']);
    expect(replyKeysFor('agent-score.v1+corrective.v1')).toEqual(['agree', 'score', 'reason']);
    expect(replyKeysFor('target-answer.v1')).toEqual([]);
  });
});

// ---------------------------------------------------------------- the call policy over generated replies
type Turn = { content: string | null; finishReason: string };
interface Generated {
  shape: string;
  hasPrevious: boolean;
  /** The requests the endpoint answers, in order (a second only when the policy asks again). */
  turns: Turn[];
  /** The vote the reply carries; null = no valid vote exists in it. */
  vote: { agree: boolean; score: number } | null;
}

function generate(i: number): Generated {
  const rng = seededRng(2024, `reply-${i}`, 'reply-shape');
  const score = 1 + Math.floor(rng.next() * 10);
  const draft = 1 + ((score + 4) % 10);
  const hasPrevious = rng.next() < 0.5;
  const agree = hasPrevious && rng.next() < 0.3;
  const json = JSON.stringify({ agree, score, reason: `laterality matters {case ${i}}` });
  const thought = `The panel wants {"agree": ..., "score": ...}. A draft would be {"agree": false, "score": ${draft}, "reason": "draft"}; but the effusion side matters.`;
  const vote = { agree, score };
  const stop = (content: string | null): Turn => ({ content, finishReason: 'stop' });
  const shapes: (() => Generated)[] = [
    () => ({ shape: 'bare', hasPrevious, turns: [stop(json)], vote }),
    () => ({ shape: 'think-no-braces', hasPrevious, turns: [stop(`<think>\nThe answer errs on the side of the effusion.\n</think>\n${json}`)], vote }),
    () => ({ shape: 'think-with-braces', hasPrevious, turns: [stop(`<think>\n${thought}\n</think>\n${json}`)], vote }),
    () => ({ shape: 'template-opened-think', hasPrevious, turns: [stop(`${thought}\n</think>\n\n${json}`)], vote }),
    () => ({ shape: 'fence-and-prose', hasPrevious, turns: [stop(`Here is my rating:\n\`\`\`json\n${json}\n\`\`\`\nHope this helps {:}`)], vote }),
    () => ({ shape: 'prose-around', hasPrevious, turns: [stop(`Considering {the laterality}, my answer is ${json}. Let me know {if needed}.`)], vote }),
    () => ({ shape: 'thinking-tag-upper-fence', hasPrevious, turns: [stop(`<THINKING>${thought}</THINKING>\n\`\`\`\n${json}\n\`\`\``)], vote }),
    () => ({ shape: 'example-then-answer', hasPrevious, turns: [stop(`Format: {"example": true}. Answer: ${json}`)], vote }),
    () => ({ shape: 'null-content-then-valid', hasPrevious, turns: [stop(null), stop(json)], vote }),
    () => ({ shape: 'cut-in-reasoning-then-valid', hasPrevious, turns: [{ content: `<think>\n${thought} and more {`, finishReason: 'length' }, stop(`<think>${thought}</think>${json}`)], vote }),
    () => ({ shape: 'cut-in-json-then-valid', hasPrevious, turns: [{ content: json.slice(0, json.length - 9), finishReason: 'length' }, stop(json)], vote }),
    () => ({ shape: 'null-content-cut-then-valid', hasPrevious, turns: [{ content: null, finishReason: 'length' }, stop(json)], vote }),
    // Replies that hold no valid vote: they must come out invalid (with the reason), not as a wrong vote.
    () => ({ shape: 'cut-twice', hasPrevious, turns: [{ content: `<think>${thought}`, finishReason: 'length' }, { content: `<think>${thought} still thinking`, finishReason: 'length' }], vote: null }),
    () => ({ shape: 'only-reasoning-twice', hasPrevious, turns: [stop(`<think>${thought}</think>`), stop('<think>again</think>')], vote: null }),
  ];
  const k = Math.floor(rng.next() * shapes.length);
  return shapes[k]!();
}

describe('the call policy reads 1,000 generated replies without losing a valid vote', () => {
  const role = parseCampaignConfig({ models: { agents: [{ baseURL: 'http://127.0.0.1:9/v1', model: 'reasoner', maxTokens: 256 }] } }).models.agents[0]!;
  const replies = Array.from({ length: 1000 }, (_, i) => generate(i));

  test('every shape occurs', () => {
    expect(new Set(replies.map((r) => r.shape)).size).toBe(14);
  });

  test('valid votes are all read, exactly; the others are invalid with a reason; never more than 2 requests', async () => {
    let lost = 0;
    let wrong = 0;
    let invalid = 0;
    const byShape: Record<string, number> = {};
    for (const [i, g] of replies.entries()) {
      const asked: { version: string; maxTokens: number }[] = [];
      const ask: Ask = async (version, _messages, maxTokens) => {
        const t = g.turns[asked.length];
        if (!t) throw new Error(`${g.shape}: asked a third time`);
        asked.push({ version, maxTokens });
        const reply: CachedReply = { role: 'agent-0', model: role.model, endpoint: 'openai', promptVersion: version, sampleIndex: i, params: { temperature: 0, maxTokens }, messages: [], text: t.content ?? '', ...(t.content === null ? { contentNull: true } : {}), finishReason: t.finishReason, latencyMs: 1 };
        return { reply, key: `k${i}-${asked.length}`, hit: false, requests: 1 };
      };
      const spec: ModelCallSpec<{ agree: boolean; score: number }> = {
        roleName: 'agent-0',
        role,
        promptVersion: 'agent-score.v1',
        messages: [{ role: 'user', content: 'rate' }],
        sampleIndex: i,
        offline: () => '',
        validate: (_t, v) => {
          const p = parseAgentReply(v, scale, g.hasPrevious);
          return p.ok ? { ok: true, value: p.vote } : { ok: false, error: p.error };
        },
      };
      const r = await runModelCall(spec, ask);
      expect(asked.length).toBeLessThanOrEqual(2);
      if (g.turns[0]!.finishReason === 'length') {
        // the re-ask is the same request with a larger limit, not a corrective prompt
        expect(asked[1]).toEqual({ version: 'agent-score.v1', maxTokens: 256 * LENGTH_RETRY_FACTOR });
      }
      if (g.vote) {
        if (!r.ok) lost++;
        else if (r.value!.score !== g.vote.score || r.value!.agree !== g.vote.agree) wrong++;
        else byShape[g.shape] = (byShape[g.shape] ?? 0) + 1;
      } else {
        expect(r.ok).toBe(false);
        expect(r.error).toMatch(g.shape === 'cut-twice' ? /cut at the token limit .*max_tokens 256.*again/ : /only a reasoning block/);
        invalid++;
      }
    }
    expect({ lost, wrong }).toEqual({ lost: 0, wrong: 0 });
    expect(invalid).toBeGreaterThan(0);
    expect(Object.values(byShape).reduce((a, b) => a + b, 0) + invalid).toBe(1000);
  });
});
