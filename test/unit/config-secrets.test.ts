// Config errors never print a value found under a key named like a secret (issue 18).
import { ConfigError, parseCampaignConfig } from '../../core/config';
import { loadCampaignConfig } from '../../lib/config-file';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const KEY = 'sk-live-4f9c2b7e1a0d8c6b5e3f2a1d0c9b8a7f';

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('no ConfigError');
}

/** The message and every issue, with the secret's fragments checked too (a cut-off value leaks its start). */
function expectNoSecret(e: ConfigError, secret: string): void {
  const all = [e.message, ...e.issues].join('\n');
  expect(all).not.toContain(secret);
  expect(all).not.toContain(secret.slice(0, 12));
  expect(all).not.toContain(secret.slice(-12));
}

describe('config errors keep secrets out', () => {
  it('a key value under models.judge.apiKey: the field is named, the value is not', () => {
    const e = errorOf(() => parseCampaignConfig({ models: { judge: { model: 'gpt-4o', apiKey: KEY } } }, 'my.yaml'));
    expectNoSecret(e, KEY);
    // Still a useful error: the file, the field and the unknown key are named.
    expect(e.message).toContain('my.yaml is invalid');
    expect(e.message).toMatch(/models\.judge/);
    expect(e.message).toMatch(/apiKey/);
    // Control: the same object with the value under an ordinary name is printed (the check can fail).
    const control = errorOf(() => parseCampaignConfig({ models: { judge: { model: 'gpt-4o', note: KEY } } }));
    expect(control.message).toContain(KEY.slice(0, 12));
  });

  it('at any nesting, in lists, and whatever the secret-like name (token, secret, password, credential)', () => {
    const values = ['tok-9a8b7c6d5e4f3a2b1c0d', 'sec-1234567890abcdefABCD', 'pw-correct-horse-battery-staple', 'cred-0f1e2d3c4b5a69788796'];
    const input = {
      models: {
        agents: [{ model: 'a', extra: { deep: { authToken: values[0] } } }],
        target: { model: 't', headers: { 'X-Client-Secret': values[1] } },
      },
      storage: { password: values[2], nested: [{ Credentials: { id: values[3] } }] },
    };
    const e = errorOf(() => parseCampaignConfig(input));
    for (const v of values) expectNoSecret(e, v);
    expect(e.issues.length).toBeGreaterThanOrEqual(3);
  });

  it('a bad value of a secret-named field itself (apiKeyEnv holding a key, not a name) is described, not shown', () => {
    const e = errorOf(() => parseCampaignConfig({ models: { judge: { apiKeyEnv: KEY } } }));
    expectNoSecret(e, KEY);
    expect(e.message).toMatch(/models\.judge\.apiKeyEnv: got a string of 40 characters \(not shown/);
    expect(e.message).toMatch(/environment variable NAME/);
    // A number or an object there is not shown either.
    expectNoSecret(errorOf(() => parseCampaignConfig({ storage: { secretAccessKeyEnv: { value: KEY } } })), KEY);
  });

  it('through the file loader and MMEDPO__ env overrides too', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-cfg-'));
    const file = path.join(dir, 'c.yaml');
    fs.writeFileSync(file, `models:\n  judge:\n    baseURL: http://127.0.0.1:9/v1\n    apiKey: ${KEY}\n`);
    expectNoSecret(errorOf(() => loadCampaignConfig(file, {})), KEY);
    expectNoSecret(errorOf(() => loadCampaignConfig(undefined, { MMEDPO__MODELS__TARGET__API_TOKEN: KEY })), KEY);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('ordinary values are still shown', () => {
    const e = errorOf(() => parseCampaignConfig({ debate: { rounds: 0 }, training: { learningRate: 'fast' } }));
    expect(e.message).toMatch(/debate\.rounds: got 0; expected/);
    expect(e.message).toMatch(/training\.learningRate: got "fast"; expected/);
  });
});
