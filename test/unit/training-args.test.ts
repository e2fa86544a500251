import { DEFAULT_HYPERPARAMETERS, detectGpus, trainerArgs, TrainingInput } from '../../activities/training';
import { CampaignConfigSchema } from '../../core/config';

const input: TrainingInput = { variant: 'mmedpo', mode: 'dpo', datasetKey: 'k', seed: 7 };
const paths = { model: '/m', data: '/d.jsonl', out: '/o' };
const flag = (a: string[], f: string) => (a.includes(f) ? a[a.indexOf(f) + 1] : undefined);

describe('training activity → trainer CLI', () => {
  it('paper defaults, same as the campaign config schema', () => {
    const t = CampaignConfigSchema.parse({}).training;
    expect(DEFAULT_HYPERPARAMETERS).toMatchObject({ learningRate: t.learningRate, batchSize: t.batchSize, epochs: t.epochs, beta: t.beta, maxLength: t.maxLength, warmupRatio: t.warmupRatio, checkpointEverySteps: t.checkpointEverySteps });
    expect(DEFAULT_HYPERPARAMETERS.lora).toEqual({ enabled: t.lora.enabled, r: t.lora.r, alpha: t.lora.alpha, dropout: t.lora.dropout });
    const a = trainerArgs(input, DEFAULT_HYPERPARAMETERS, paths);
    expect(a[0]).toBe('dpo');
    expect(flag(a, '--lr')).toBe('1e-7');
    expect(flag(a, '--lora-r')).toBe('128');
    expect(flag(a, '--lora-alpha')).toBe('256');
    expect(flag(a, '--beta')).toBe('0.1');
    expect(flag(a, '--seed')).toBe('7');
    expect(a).not.toContain('--resume');
    expect(a).not.toContain('--ref-cache');
    expect(trainerArgs(input, { ...DEFAULT_HYPERPARAMETERS, refCache: true }, paths)).toContain('--ref-cache');
  });
  it('gradient accumulation, LoRA off, resume and init adapter', () => {
    const hp = { ...DEFAULT_HYPERPARAMETERS, batchSize: 8, gradientAccumulation: 4, lora: { ...DEFAULT_HYPERPARAMETERS.lora, enabled: false } };
    const a = trainerArgs({ ...input, mode: 'sft' }, hp, { ...paths, resume: '/c/ckpt-000010', initAdapter: '/sft' });
    expect(a[0]).toBe('sft');
    expect(flag(a, '--batch-size')).toBe('8');
    expect(flag(a, '--micro-batch-size')).toBe('2');
    expect(a).toContain('--no-lora');
    expect(a).not.toContain('--lora-r');
    expect(flag(a, '--resume')).toBe('/c/ckpt-000010');
    expect(flag(a, '--init-adapter')).toBe('/sft');
  });
  it('GPU slots: MMEDPO_GPUS overrides nvidia-smi ("" = CPU mode)', async () => {
    const old = process.env.MMEDPO_GPUS;
    try {
      process.env.MMEDPO_GPUS = '0, 3';
      expect(await detectGpus()).toEqual(['0', '3']);
      process.env.MMEDPO_GPUS = '';
      expect(await detectGpus()).toEqual([]);
    } finally {
      if (old === undefined) delete process.env.MMEDPO_GPUS;
      else process.env.MMEDPO_GPUS = old;
    }
  });
});
