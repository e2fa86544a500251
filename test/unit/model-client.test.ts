// The real `openai` client path (lib/models/client.ts chatOnce) against the local fake OpenAI server:
// how each endpoint behaviour becomes a Temporal failure (retryable or not, Retry-After as
// nextRetryDelay), with maxRetries 0 so every request is visible in the fake's log.
import { ApplicationFailure } from '@temporalio/common';
import { parseCampaignConfig } from '../../core/config';
import { chatOnce, MODEL_ERROR_TYPES } from '../../lib/models/client';
import { REPLY_SCHEMAS } from '../../lib/models/reply';
import { startFakeOpenAI, FakeOpenAI } from '../helpers/fake-openai';

const KEY_ENV = 'MMEDPO_UNIT_LLM_KEY';
const KEY = 'sk-unit-0123456789abcdef';

describe('chatOnce against an OpenAI-compatible endpoint', () => {
  let fake: FakeOpenAI;
  beforeAll(async () => {
    process.env[KEY_ENV] = KEY;
    fake = await startFakeOpenAI();
  });
  afterAll(async () => {
    await fake.close();
    delete process.env[KEY_ENV];
  });
  const role = () => parseCampaignConfig({ models: { judge: { baseURL: fake.url, model: 'm', apiKeyEnv: KEY_ENV, timeoutMs: 500 } } }).models.judge;
  const ask = () => chatOnce(role(), [{ role: 'user', content: 'hi' }], { temperature: 0, maxTokens: 8 });
  async function failure(): Promise<ApplicationFailure> {
    const n = fake.log.length;
    const e = await ask().then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(fake.log.length - n).toBe(1); // exactly one request: the client never retries by itself
    expect(e).toBeInstanceOf(ApplicationFailure);
    return e as ApplicationFailure;
  }

  test('200: the reply text, the key sent as a bearer token', async () => {
    fake.setHandler(() => ({ text: 'hello' }));
    await expect(ask()).resolves.toMatchObject({ text: 'hello' });
    expect(fake.authHeaders[fake.authHeaders.length - 1]).toBe(`Bearer ${KEY}`);
  });
  test('429 with Retry-After: retryable with nextRetryDelay', async () => {
    fake.setHandler(() => ({ status: 429, message: 'slow down', headers: { 'retry-after': '2' } }));
    const f = await failure();
    expect(f).toMatchObject({ type: MODEL_ERROR_TYPES.rateLimited, nonRetryable: false, nextRetryDelay: 2000 });
  });
  test('500 and a hang (timeout): retryable', async () => {
    fake.setHandler(() => ({ status: 503, message: 'overloaded' }));
    expect(await failure()).toMatchObject({ type: MODEL_ERROR_TYPES.unavailable, nonRetryable: false });
    fake.setHandler(() => ({ hang: true }));
    const f = await failure();
    expect(f).toMatchObject({ type: MODEL_ERROR_TYPES.unavailable, nonRetryable: false });
    expect(f.message).toMatch(/timed out after 500 ms/);
  });
  test('400/401/404: non-retryable with the endpoint message, the key redacted', async () => {
    for (const status of [400, 401, 404]) {
      fake.setHandler(() => ({ status, message: `bad thing ${status} for key ${KEY}` }));
      const f = await failure();
      expect(f).toMatchObject({ type: MODEL_ERROR_TYPES.rejected, nonRetryable: true });
      expect(f.message).toContain(`bad thing ${status}`);
      expect(f.message).not.toContain(KEY);
    }
  });
  test('null content and finish_reason come through as sent (lib/models/reply.ts reads them)', async () => {
    fake.setHandler(() => ({ text: null, finishReason: 'length' }));
    await expect(ask()).resolves.toMatchObject({ text: null, finishReason: 'length' });
    fake.setHandler(() => ({ text: '<think>{x}</think>{"score": 7}' }));
    await expect(ask()).resolves.toMatchObject({ text: '<think>{x}</think>{"score": 7}', finishReason: 'stop' });
  });
  test('structured output: response_format json_schema with the schema, only when asked', async () => {
    fake.setHandler(() => ({ text: '{}' }));
    await chatOnce(role(), [{ role: 'user', content: 'hi' }], { temperature: 0, maxTokens: 8, responseFormat: REPLY_SCHEMAS['agent-score.v1'] });
    expect(fake.log[fake.log.length - 1]!.responseFormat).toEqual({ type: 'json_schema', json_schema: { name: 'agent_score', strict: true, schema: REPLY_SCHEMAS['agent-score.v1']!.schema } });
    await ask();
    expect(fake.log[fake.log.length - 1]!.responseFormat).toBeUndefined();
  });
  test('garbage body on 200: an empty reply (the caller re-asks once, then records it invalid)', async () => {
    fake.setHandler(() => ({ garbage: true }));
    await expect(ask()).resolves.toMatchObject({ text: '' });
  });
  test('a missing key env var fails without a request', async () => {
    delete process.env[KEY_ENV];
    const n = fake.log.length;
    await expect(ask()).rejects.toMatchObject({ nonRetryable: true, message: expect.stringContaining(`${KEY_ENV}`) });
    expect(fake.log.length).toBe(n);
    process.env[KEY_ENV] = KEY;
  });
});
