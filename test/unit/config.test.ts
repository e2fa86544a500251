import { applyEnvOverrides, ConfigError, parseCampaignConfig } from '../../core/config';

describe('campaign config', () => {
  it('fills the paper defaults from an empty object', () => {
    const c = parseCampaignConfig({});
    expect(c.debate.rounds).toBe(5);
    expect(c.normalization).toMatchObject({ alpha: 0.75, beta: 1.25, mean: 1, variance: 0.1, mode: 'zscore' });
    expect(c.training).toMatchObject({ learningRate: 1e-7, batchSize: 4, epochs: 3, beta: 0.1, maxLength: 1024 });
    expect(c.training.lora).toEqual({ enabled: true, r: 128, alpha: 256, dropout: 0.05 });
    expect(c.noise).toMatchObject({ steps: 1000, k: 500, betaStart: 1e-5, betaEnd: 5e-3, mode: 'local' });
    expect(c.models.agents).toHaveLength(3);
  });

  it('names the field, the value and the expectation on a bad file', () => {
    let err: unknown;
    try {
      parseCampaignConfig({ debate: { rounds: 0 }, training: { learningRate: 'fast' } }, 'my.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toContain('my.yaml is invalid');
    expect(msg).toMatch(/debate\.rounds: got 0; expected/);
    expect(msg).toMatch(/training\.learningRate: got "fast"; expected/);
  });

  it('rejects unknown fields (typos do not pass silently)', () => {
    expect(() => parseCampaignConfig({ debate: { roundz: 3 } })).toThrow(/roundz/);
  });

  it('refuses a secret value where an env-var name is expected', () => {
    expect(() => parseCampaignConfig({ models: { judge: { apiKeyEnv: 'sk-live-abc123' } } })).toThrow(/environment variable NAME/);
  });

  it('applies MMEDPO__ env overrides as typed values', () => {
    const o = applyEnvOverrides({ debate: { rounds: 5 } }, { MMEDPO__DEBATE__ROUNDS: '3', MMEDPO__NORMALIZATION__MODE: 'raw', MMEDPO__TRAINING__LEARNING_RATE: '2e-6' });
    const c = parseCampaignConfig(o);
    expect(c.debate.rounds).toBe(3);
    expect(c.normalization.mode).toBe('raw');
    expect(c.training.learningRate).toBe(2e-6);
  });

  it('checks cross-field rules', () => {
    expect(() => parseCampaignConfig({ noise: { k: 2000, steps: 1000 } })).toThrow(/noise\.k/);
    expect(() => parseCampaignConfig({ normalization: { alpha: 1.3, beta: 1.2 } })).toThrow(/normalization\.beta/);
  });
});
