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

  it('evaluation.grounding: absent means on for a phantom set; set on any other dataset it is an error naming the field', () => {
    expect(parseCampaignConfig({}).evaluation.grounding).toBeUndefined();
    expect(parseCampaignConfig({ evaluation: { grounding: false } }).evaluation.grounding).toBe(false);
    let issues: string[] = [];
    try {
      parseCampaignConfig({ dataset: { format: 'vqa-rad', root: '/data/vqa-rad' }, evaluation: { grounding: true } }, 'my.yaml');
    } catch (e) {
      issues = (e as ConfigError).issues;
    }
    expect(issues).toEqual([expect.stringMatching(/^evaluation\.grounding: got true; expected only with dataset\.format phantom .*vqa-rad/)]);
  });

  it('dataset.phantom.textPrior: optional (absent: no prior), a number in [0.5, 1], named with its value when out of range', () => {
    expect(parseCampaignConfig({}).dataset.phantom).not.toHaveProperty('textPrior');
    expect(parseCampaignConfig({ dataset: { phantom: { studies: 10 } } }).dataset.phantom).not.toHaveProperty('textPrior');
    expect(parseCampaignConfig({ dataset: { phantom: { textPrior: 0.9 } } }).dataset.phantom).toEqual({ studies: 300, size: 256, testFraction: 0.2, textPrior: 0.9 });
    for (const ok of [0.5, 1]) expect(parseCampaignConfig({ dataset: { phantom: { textPrior: ok } } }).dataset.phantom.textPrior).toBe(ok);
    const issues = (textPrior: unknown) => {
      try {
        parseCampaignConfig({ dataset: { phantom: { textPrior } } }, 'my.yaml');
      } catch (e) {
        return (e as ConfigError).issues;
      }
      throw new Error('no ConfigError');
    };
    const expected = 'expected a number in [0.5, 1]: the share of closed train questions worded to cue their own answer (0.5: no shortcut)';
    expect(issues(0.3)).toEqual([`dataset.phantom.textPrior: got 0.3; ${expected}`]);
    expect(issues(1.5)).toEqual([`dataset.phantom.textPrior: got 1.5; ${expected}`]);
    expect(issues('strong')).toEqual([`dataset.phantom.textPrior: got "strong"; ${expected}`]);
    // Through an env override too (MMEDPO__DATASET__PHANTOM__TEXT_PRIOR=0.9).
    expect(parseCampaignConfig(applyEnvOverrides({}, { MMEDPO__DATASET__PHANTOM__TEXT_PRIOR: '0.9' })).dataset.phantom.textPrior).toBe(0.9);
  });

  it('rejects unknown fields (typos do not pass silently)', () => {
    expect(() => parseCampaignConfig({ debate: { roundz: 3 } })).toThrow(/debate\.roundz is not a campaign setting \(got 3\): unknown field/);
  });

  it('keeps only what the code reads: the Temporal connection and S3 are process settings, and setting one here says where it goes', () => {
    expect(Object.keys(parseCampaignConfig({}).temporal)).toEqual(['queuePrefix']);
    expect(parseCampaignConfig({})).not.toHaveProperty('storage');
    const issues = (input: unknown) => {
      try {
        parseCampaignConfig(input, 'my.yaml');
      } catch (e) {
        return (e as ConfigError).issues;
      }
      throw new Error('no ConfigError');
    };
    expect(issues({ temporal: { address: 'temporal.example.org:7233', queuePrefix: 'a-' } })).toEqual([
      'temporal.address is not a campaign setting (got "temporal.example.org:7233"): set TEMPORAL_ADDRESS or an envconfig profile (TEMPORAL_CONFIG_FILE / TEMPORAL_PROFILE)',
    ]);
    expect(issues({ temporal: { namespace: 'prod', encryptionKeyEnv: 'K' } })).toEqual([
      expect.stringMatching(/^temporal\.namespace is not a campaign setting .*TEMPORAL_NAMESPACE/),
      expect.stringMatching(/^temporal\.encryptionKeyEnv is not a campaign setting .*MMEDPO_PAYLOAD_KEYS/),
    ]);
    // Every storage field, known once or never: named by its full path.
    expect(issues({ storage: { bucket: 'b', endpointUrl: 'http://s3' } })).toEqual([
      'storage.bucket is not a campaign setting (got "b"): S3 is set per process; set MMEDPO_BUCKET',
      expect.stringMatching(/^storage\.endpointUrl is not a campaign setting \(got "http:\/\/s3"\): S3 is set per process; see MMEDPO_S3_ENDPOINT/),
    ]);
    // Through MMEDPO__ env overrides as well.
    expect(() => parseCampaignConfig(applyEnvOverrides({}, { MMEDPO__TEMPORAL__ADDRESS: 'x:1' }))).toThrow(/temporal\.address is not a campaign setting/);
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
