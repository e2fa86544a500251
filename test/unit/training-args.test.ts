import * as path from 'node:path';
import TRAINER_DEFAULTS from '../../trainer/defaults.json';
import { detectGpus, trackingTags, trainerCommand, trainerOptions, TrainingInput } from '../../activities/training';
import { CampaignConfigSchema, TrainingConfigSchema } from '../../core/config';

const input: TrainingInput = { variant: 'mmedpo', mode: 'dpo', datasetKey: 'k', seed: 7 };
const paths = { model: '/m', data: '/d.jsonl', out: '/o', config: '/o/training.json' };
const flag = (a: string[], f: string) => (a.includes(f) ? a[a.indexOf(f) + 1] : undefined);

describe('training activity → trainer', () => {
  it('one source of defaults: the schema takes the trainer\'s defaults.json (paper values)', () => {
    const t = CampaignConfigSchema.parse({}).training;
    const o = trainerOptions(t, 'dpo', 7);
    for (const [k, v] of Object.entries(TRAINER_DEFAULTS)) {
      if (k === 'chatTemplate') expect(o.chatTemplate).toBeUndefined(); // absent: the processor's own template
      else if (k === 'seed') expect(o.seed).toBe(7);
      else expect([k, o[k]]).toEqual([k, v]);
    }
    expect(t).toMatchObject({ learningRate: 1e-7, batchSize: 4, epochs: 3, beta: 0.1, maxLength: 1024, warmupRatio: 0.03 });
    expect(t.lora).toEqual({ enabled: true, r: 128, alpha: 256, dropout: 0.05 });
  });

  it('the whole training section reaches the trainer: every field is a trainer option or used by the activity', () => {
    const t = TrainingConfigSchema.parse({ chatTemplate: 'mistral_instruct', dtype: 'bf16', gradientCheckpointing: true, refCache: true, reportTo: ['mlflow'] });
    const o = trainerOptions(t, 'dpo', 1, 0.5);
    const trainerKeys = new Set(Object.keys(TRAINER_DEFAULTS));
    const activityKeys = new Set(['enabled', 'baseModel', 'variants', 'sft', 'seeds', 'heartbeatTimeoutSeconds', 'gpusPerRun', 'distributed']);
    for (const k of Object.keys(TrainingConfigSchema.shape)) expect([k, trainerKeys.has(k) || activityKeys.has(k)]).toEqual([k, true]);
    expect(Object.keys(o).every((k) => trainerKeys.has(k))).toBe(true);
    expect(o).toMatchObject({ chatTemplate: 'mistral_instruct', dtype: 'bf16', gradientCheckpointing: true, refCache: true, reportTo: ['mlflow'], seed: 1, paceSeconds: 0.5 });
  });

  it('training.seeds: absent by default (one run with the campaign seed); distinct non-negative integers; never a trainer option', () => {
    expect(CampaignConfigSchema.parse({}).training.seeds).toBeUndefined();
    const t = TrainingConfigSchema.parse({ seeds: [0, 1, 2] });
    expect(t.seeds).toEqual([0, 1, 2]);
    expect(trainerOptions(t, 'dpo', 1)).not.toHaveProperty('seeds');
    expect(TrainingConfigSchema.safeParse({ seeds: [0, 0] }).success).toBe(false);
    expect(TrainingConfigSchema.safeParse({ seeds: [] }).success).toBe(false);
    expect(TrainingConfigSchema.safeParse({ seeds: [1.5] }).success).toBe(false);
  });

  it('the SFT stage takes training.sft overrides; full fine-tuning turns LoRA off', () => {
    const t = TrainingConfigSchema.parse({ learningRate: 5e-4, epochs: 2, sft: { fullFineTune: true, learningRate: 2e-3, epochs: 10 } });
    expect(trainerOptions(t, 'sft', 0)).toMatchObject({ learningRate: 2e-3, epochs: 10, lora: { enabled: false, r: 128 } });
    expect(trainerOptions(t, 'dpo', 0)).toMatchObject({ learningRate: 5e-4, epochs: 2, lora: { enabled: true } });
  });

  it('one process: python -m trainer; gpusPerRun > 1: accelerate launch with the distributed config', () => {
    const t = TrainingConfigSchema.parse({});
    const a = trainerCommand(input, t, { ...paths, resume: '/c/checkpoint-10', initAdapter: '/sft' });
    expect(a.slice(0, 3)).toEqual(['-m', 'trainer', 'dpo']);
    expect(flag(a, '--config')).toBe('/o/training.json');
    expect(flag(a, '--resume')).toBe('/c/checkpoint-10');
    expect(flag(a, '--init-adapter')).toBe('/sft');
    expect(a).not.toContain('--tag'); // no tracking asked for
    const z3 = trainerCommand({ ...input, campaignId: 'c1' }, TrainingConfigSchema.parse({ gpusPerRun: 4, distributed: 'zero3', reportTo: ['mlflow'] }), { ...paths, port: 29601 });
    expect(z3.slice(0, 2)).toEqual(['-m', 'trainer.launch']);
    expect(flag(z3, '--config_file')).toBe(path.resolve(__dirname, '../../trainer/accelerate/zero3.yaml'));
    expect(flag(z3, '--num_processes')).toBe('4');
    expect(flag(z3, '--main_process_port')).toBe('29601');
    expect(z3.slice(z3.indexOf('-m', 2), z3.indexOf('-m', 2) + 3)).toEqual(['-m', 'trainer', 'dpo']);
    expect(flag(z3, '--run-name')).toBe('c1/mmedpo');
    expect(z3.filter((x, i) => z3[i - 1] === '--tag').sort()).toEqual(expect.arrayContaining(['campaign_id=c1', 'variant=mmedpo', 'seed=7']));
  });

  it('tracking tags: the same section gives the same run, another section another config hash', () => {
    const t = TrainingConfigSchema.parse({ reportTo: ['mlflow'] });
    const a = trackingTags('c1', 'dpo', 3, t);
    expect(a).toEqual(trackingTags('c1', 'dpo', 3, TrainingConfigSchema.parse({ reportTo: ['mlflow'] })));
    expect(a.config_hash).toMatch(/^[0-9a-f]{16}$/);
    expect(trackingTags('c1', 'dpo', 3, TrainingConfigSchema.parse({ reportTo: ['mlflow'], beta: 0.2 })).config_hash).not.toBe(a.config_hash);
  });

  it('an unknown field of the training section is an error', () => {
    expect(TrainingConfigSchema.safeParse({ template: 'vicuna_v1' }).success).toBe(false);
    expect(TrainingConfigSchema.safeParse({ reportTo: ['wandb'] }).success).toBe(false);
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
