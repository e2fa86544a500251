// Every role's reply goes through the one reader (issue 14 §2), on the real path: the model-call
// activities → lib/models/call.ts (reply cache in the test MinIO) → the `openai` client → a local
// fake OpenAI-compatible server that answers like reasoning models and real servers do.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { debateTurn, judgeSelect, putModelText, readModelText, sampleTarget } from '../../activities/models';
import { artifactStore } from '../../lib/env';
import { parseCampaignConfig } from '../../core/config';
import { REPLY_SCHEMAS } from '../../lib/models/reply';
import { startFakeOpenAI, type FakeAction, type FakeOpenAI } from '../helpers/fake-openai';

const scale = { min: 1, max: 10 };
const REASONING = JSON.parse(fs.readFileSync(path.join(__dirname, '../fixtures/cases/reasoning-reply/replies.json'), 'utf8'))[0] as { text: string; expect: number };

describe('model replies through the model-call activities', () => {
  let fake: FakeOpenAI;
  const script: FakeAction[] = [];
  beforeAll(async () => {
    fake = await startFakeOpenAI(() => script.shift() ?? { status: 500, message: 'script ran out' });
  });
  afterAll(() => fake.close());
  // A fresh response text per test run: the reply cache would otherwise answer from an earlier run.
  const unique = () => `response ${randomBytes(6).toString('hex')}`;
  // Activities take keys: the texts they read are put in S3 first, as the campaign's ingest and samples do.
  const responseKey = () => putModelText(unique());
  const itemKey = async (question: string | undefined, answer: string) => (await artifactStore().putJson('item-texts', { id: 'i', kind: 'vqa', ...(question ? { question } : {}), answer })).key;
  const role = (extra: Record<string, unknown> = {}) => parseCampaignConfig({ models: { agents: [{ baseURL: fake.url, model: 'reasoner', maxTokens: 64, temperature: 0, ...extra }] } }).models.agents[0]!;

  test('../shared/cases/reasoning-reply through debateTurn: vote 7, one request, structured output asked for', async () => {
    script.push({ text: REASONING.text });
    const n = fake.log.length;
    const r = await debateTurn({ role: role({ structuredOutput: true }), agent: 0, turn: 0, round: 0, campaignSeed: 1, itemId: 'i1', rejectedKey: await responseKey(), textKey: await itemKey(undefined, 'x'), scale });
    expect(r).toMatchObject({ ok: true, score: REASONING.expect, agree: false, requests: 1, reasked: false });
    expect(fake.log.length - n).toBe(1);
    expect(fake.log[n]!.responseFormat).toEqual({ type: 'json_schema', json_schema: { name: 'agent_score', strict: true, schema: REPLY_SCHEMAS['agent-score.v1']!.schema } });
  });

  test('a reply cut by finish_reason length is re-asked once with 4× the token limit', async () => {
    script.push({ text: '<think>The laterality {left vs right', finishReason: 'length' }, { text: '<think>done</think>{"agree": false, "score": 6, "reason": "x"}' });
    const n = fake.log.length;
    const r = await debateTurn({ role: role(), agent: 0, turn: 0, round: 0, campaignSeed: 1, itemId: 'i2', rejectedKey: await responseKey(), textKey: await itemKey(undefined, 'x'), scale });
    expect(r).toMatchObject({ ok: true, score: 6, requests: 2, reasked: true });
    expect(fake.log.slice(n).map((q) => q.maxTokens)).toEqual([64, 256]);
    expect(fake.log[n]!.responseFormat).toBeUndefined(); // structuredOutput off
    // Cut twice: invalid, and the reason says so.
    script.push({ text: '<think>a', finishReason: 'length' }, { text: '<think>b', finishReason: 'length' });
    const bad = await debateTurn({ role: role(), agent: 0, turn: 0, round: 0, campaignSeed: 1, itemId: 'i3', rejectedKey: await responseKey(), textKey: await itemKey(undefined, 'x'), scale });
    expect(bad.ok).toBe(false);
    expect(bad.invalid).toMatch(/cut at the token limit .*max_tokens 64.*again.*max_tokens 256/);
  });

  test('null content gets the corrective re-ask; the judge and the target read replies the same way', async () => {
    script.push({ text: null }, { text: 'Sorry. {"agree": false, "score": 3, "reason": "minor"}' });
    const r = await debateTurn({ role: role(), agent: 0, turn: 0, round: 0, campaignSeed: 1, itemId: 'i4', rejectedKey: await responseKey(), textKey: await itemKey(undefined, 'x'), scale });
    expect(r).toMatchObject({ ok: true, score: 3, requests: 2, reasked: true });
    expect(fake.log[fake.log.length - 1]!.lastUser).toMatch(/no content \(null/);
    script.push({ text: '<think>candidate {0} is fine, {1} swaps sides</think>\n```json\n{"index": 1, "conflicts": ["left instead of right"]}\n```' });
    const j = await judgeSelect({ role: role(), campaignSeed: 1, itemId: 'i5', kind: 'vqa', textKey: await itemKey('which side?', unique()), candidateKeys: [await putModelText('right'), await putModelText('left')] });
    expect(j).toMatchObject({ ok: true, index: 1 });
    expect(await artifactStore().getJson(j.verdictKey!)).toEqual({ conflicts: ['left instead of right'] });
    script.push({ text: '<think>It is on the right {obviously}.</think>\nright pleural effusion' });
    const t = await sampleTarget({ role: role(), campaignSeed: 1, itemId: 'i6', kind: 'vqa', textKey: await itemKey(unique(), 'right'), sampleIndex: 0 });
    expect(t).toMatchObject({ ok: true });
    expect(await readModelText(t.answerKey!)).toBe('right pleural effusion');
  });
});
