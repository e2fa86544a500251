// The one campaign configuration schema. Every entry point (CLI, workers,
// tests) validates through `parseCampaignConfig` / `loadCampaignConfig` so a bad
// file fails before any workflow starts, with the field, the value and what was
// expected. Defaults follow the paper (§4.1, Appendix B) unless a comment says why not.
//
// Secrets are *referenced* by env-var name (`apiKeyEnv`), never stored by value:
// the config travels through workflow history and must stay secret-free.
import { z } from 'zod';
import { DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES } from './stats';
import { DEFAULT_OUTAGE_BUDGET_HOURS } from './faults';
import TRAINER_DEFAULTS from '../trainer/defaults.json';

const TEXT_PRIOR_EXPECTED = 'a number in [0.5, 1]: the share of closed train questions worded to cue their own answer (0.5: no shortcut)';

/** dataset.maxTextBytes default: 256 KiB. */
export const DEFAULT_MAX_TEXT_BYTES = 256 * 1024;

const envVarName = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable NAME (e.g. OPENAI_API_KEY), not a key value');

export const ModelRoleSchema = z
  .object({
    /** OpenAI-compatible base URL; absent → the built-in offline engine serves this role. */
    baseURL: z.string().url().optional(),
    model: z.string().min(1).default('offline'),
    apiKeyEnv: envVarName.optional(),
    temperature: z.number().min(0).max(2).default(0.7),
    maxTokens: z.number().int().positive().default(512),
    timeoutMs: z.number().int().positive().default(120_000),
    /** Requests per second for this role, enforced by the task-queue rate limit. */
    rateLimitPerSecond: z.number().positive().optional(),
    /** How images reach the endpoint: inline data URL (default) or a presigned S3 URL (the endpoint must reach S3). */
    imageTransport: z.enum(['data-url', 'presigned']).optional(),
    /**
     * Ask for structured output: JSON-answering requests (judge, debate agents) carry
     * `response_format: {type: "json_schema"}` with their prompt's schema (lib/models/reply.ts). Off when
     * absent: not every OpenAI-compatible server supports it (OpenAI and vLLM do). Replies are read by
     * the same extractor either way.
     */
    structuredOutput: z.boolean().optional(),
    /**
     * Set by the campaign, not by hand: this role is a model the campaign trained (its SFT model),
     * served by the trainer (`python -m trainer serve`) next to the model worker. baseModel is an
     * S3 key or path (absent: the built-in tiny model of `seed`); adapters are merged in order.
     */
    served: z
      .object({ baseModel: z.string().optional(), adapterKeys: z.array(z.string()).default([]), seed: z.number().int().default(0), device: z.enum(['auto', 'cpu', 'cuda']).default('auto') })
      .strict()
      .optional(),
  })
  .strict();
export type ModelRole = z.infer<typeof ModelRoleSchema>;

const defaultAgents: ModelRole[] = [
  { model: 'offline-heuristic-entity', temperature: 0, maxTokens: 256, timeoutMs: 120_000 },
  { model: 'offline-heuristic-anatomy', temperature: 0, maxTokens: 256, timeoutMs: 120_000 },
  { model: 'offline-heuristic-distance', temperature: 0, maxTokens: 256, timeoutMs: 120_000 },
];

export const DatasetFormat = z.enum(['vqa-rad', 'slake', 'r2gen', 'phantom']);
export type DatasetFormat = z.infer<typeof DatasetFormat>;

export const VariantName = z.enum([
  'base',
  'sft',
  'dpo',
  'mmedpo',
  'stage1-only',
  'stage2-only',
  'no-crs',
  'single-llm',
  'global-noise',
]);
export type VariantName = z.infer<typeof VariantName>;

/**
 * The `training` section. Trainer options (all but enabled/baseModel/variants/sft/seeds/heartbeatTimeoutSeconds/
 * gpusPerRun/distributed, which the campaign and the training activity use) reach `python -m trainer` whole, as
 * its `--config` JSON; their defaults are the trainer's own, `trainer/defaults.json` (the paper's, §4.1).
 */
export const TrainingConfigSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** HF image-text-to-text model directory (llava, llava_next, qwen2_vl, qwen2_5_vl, gemma3, idefics3) or an S3 tar of one; absent → the project's tiny LLaVA. */
    baseModel: z.string().optional(),
    variants: z.array(VariantName).min(1).default(['base', 'sft', 'dpo', 'mmedpo']),
    lora: z
      .object({
        enabled: z.boolean().default(TRAINER_DEFAULTS.lora.enabled),
        r: z.number().int().positive().default(TRAINER_DEFAULTS.lora.r),
        alpha: z.number().positive().default(TRAINER_DEFAULTS.lora.alpha),
        dropout: z.number().min(0).max(1).default(TRAINER_DEFAULTS.lora.dropout),
      })
      .strict()
      .prefault({}),
    learningRate: z.number().positive().default(TRAINER_DEFAULTS.learningRate),
    /**
     * The SFT stage. fullFineTune trains every weight and makes the result the base of the
     * preference variants (their LoRA sits on it, as MMedPO's sits on LLaVA-Med); otherwise SFT
     * is a LoRA merged under theirs. learningRate/epochs default to the preference ones.
     */
    sft: z
      .object({
        fullFineTune: z.boolean().default(false),
        learningRate: z.number().positive().optional(),
        epochs: z.number().int().positive().optional(),
      })
      .strict()
      .prefault({}),
    /** Pairs (SFT: examples) per optimizer step over all processes = micro-batch × gradientAccumulation × gpusPerRun. */
    batchSize: z.number().int().positive().default(TRAINER_DEFAULTS.batchSize),
    epochs: z.number().int().positive().default(TRAINER_DEFAULTS.epochs),
    /** Cap on optimizer steps (0 = epochs). */
    maxSteps: z.number().int().min(0).default(TRAINER_DEFAULTS.maxSteps),
    beta: z.number().positive().default(TRAINER_DEFAULTS.beta),
    maxLength: z.number().int().positive().default(TRAINER_DEFAULTS.maxLength),
    warmupRatio: z.number().min(0).max(1).default(TRAINER_DEFAULTS.warmupRatio),
    maxGradNorm: z.number().min(0).default(TRAINER_DEFAULTS.maxGradNorm),
    weightDecay: z.number().min(0).default(TRAINER_DEFAULTS.weightDecay),
    gradientAccumulation: z.number().int().positive().default(TRAINER_DEFAULTS.gradientAccumulation),
    checkpointEverySteps: z.number().int().positive().default(TRAINER_DEFAULTS.checkpointEverySteps),
    keepCheckpoints: z.number().int().positive().default(TRAINER_DEFAULTS.keepCheckpoints),
    /**
     * Training seeds: every variant (SFT included) is trained and evaluated once per seed on the one curated set, and
     * the results table shows mean ± interval over test items and seeds. Absent: one run with the campaign seed
     * (artifact keys as before seeds existed). The base model (the tiny LLaVA when baseModel is absent) is built from
     * the campaign seed whatever the training seeds.
     */
    seeds: z.array(z.number().int().min(0)).min(1).refine((s) => new Set(s).size === s.length, { message: 'training.seeds must not repeat' }).optional(),
    /** A training/evaluation attempt that sends no heartbeat for this long is retried on another slot (from its last checkpoint). */
    heartbeatTimeoutSeconds: z.number().int().positive().default(300),
    device: z.enum(['auto', 'cpu', 'cuda']).default(TRAINER_DEFAULTS.device as 'auto'),
    /** auto: bf16 on GPU (LoRA weights in fp32), fp32 on CPU. */
    dtype: z.enum(['auto', 'bf16', 'fp32']).default(TRAINER_DEFAULTS.dtype as 'auto'),
    gradientCheckpointing: z.boolean().default(TRAINER_DEFAULTS.gradientCheckpointing),
    /** DPO: reference log-probs computed once per pair before training (always on for full fine-tuning). */
    refCache: z.boolean().default(TRAINER_DEFAULTS.refCache),
    /** Chat template: a built-in name (vicuna_v1, mistral_instruct, qwen2_vl, gemma3, idefics3) or a Jinja file; absent → the model processor's own. */
    chatTemplate: z.string().min(1).optional(),
    /** DPO: a D_t pair's two answers continue one shared prompt in one row (llava, llava_next, idefics3). */
    sharePrompt: z.boolean().default(TRAINER_DEFAULTS.sharePrompt),
    /** GPUs of one machine per training run: > 1 launches the trainer with `accelerate launch` (distributed). */
    gpusPerRun: z.number().int().positive().default(1),
    /** How a run with gpusPerRun > 1 splits the work: data parallel, FSDP, or DeepSpeed ZeRO-3 (trainer/accelerate/*.yaml). */
    distributed: z.enum(['ddp', 'fsdp', 'zero3']).default('ddp'),
    /** Experiment tracking: MLflow (MLFLOW_TRACKING_URI, default the file store .mmedpo/mlruns) and/or TensorBoard (.mmedpo/tensorboard). */
    reportTo: z.array(z.enum(['mlflow', 'tensorboard'])).default([]),
  })
  .strict();
export type TrainingConfig = z.infer<typeof TrainingConfigSchema>;

export const CampaignConfigSchema = z
  .object({
    name: z.string().min(1).default('campaign'),
    /** Every random draw is derived from (seed, item id, purpose). */
    seed: z.number().int().nonnegative().default(0),
    dataset: z
      .object({
        format: DatasetFormat.default('phantom'),
        /** Directory with the dataset files; for `phantom`, where the generated set is written. */
        root: z.string().min(1).default('.mmedpo/data/phantom'),
        trainSplit: z.string().default('train'),
        testSplit: z.string().default('test'),
        /** SLAKE: keep only rows with this q_lang (the paper uses English). */
        language: z.string().default('en'),
        /** Cap on items per split (0 = all); handy for smoke runs. */
        limit: z.number().int().nonnegative().default(0),
        /**
         * An item whose question + answer (a report) is longer than this many UTF-8 bytes is quarantined
         * at ingest with its size as the reason. Text never travels in workflow payloads, so this is
         * about models: 256 KiB is ~64k tokens, past what a judge's context holds beside its prompt.
         */
        maxTextBytes: z.number().int().positive().default(DEFAULT_MAX_TEXT_BYTES),
        /** Phantom generator settings (ignored for real datasets). */
        phantom: z
          .object({
            studies: z.number().int().positive().default(300),
            size: z.number().int().min(64).max(2048).default(256),
            testFraction: z.number().min(0).max(0.9).default(0.2),
            /**
             * A planted text prior (core/phantom TextPrior, README "The grounding testbed"): each closed train question
             * gets the wording that cues its own answer with this probability, every closed test question the wording
             * that cues the other answer (the counter-prior split). Absent: no prior, the set byte for byte as before.
             */
            textPrior: z.number(TEXT_PRIOR_EXPECTED).min(0.5, TEXT_PRIOR_EXPECTED).max(1, TEXT_PRIOR_EXPECTED).optional(),
          })
          .strict()
          .default({ studies: 300, size: 256, testFraction: 0.2 }),
      })
      .strict()
      .prefault({}),
    models: z
      .object({
        target: ModelRoleSchema.default({ model: 'offline', temperature: 1.0, maxTokens: 256, timeoutMs: 120_000 }),
        judge: ModelRoleSchema.default({ model: 'offline-judge', temperature: 0, maxTokens: 512, timeoutMs: 120_000 }),
        agents: z.array(ModelRoleSchema).min(1).default(defaultAgents),
      })
      .strict()
      .prefault({}),
    curation: z
      .object({
        /** Target samples per item for the text branch. */
        samples: z.number().int().min(1).max(32).default(3),
        textBranch: z.boolean().default(true),
        visualBranch: z.boolean().default(true),
        /**
         * The target is the campaign's own SFT model: SFT is trained before curation and served by
         * the trainer, and the text branch samples it. Only when models.target has no baseURL.
         */
        targetFromSft: z.boolean().default(false),
        /** Items per curation shard (child workflow). */
        shardSize: z.number().int().min(1).max(2000).default(200),
        /** Concurrent items inside one shard. */
        concurrency: z.number().int().min(1).max(500).default(16),
        /** Curation shards (child workflows) running at once. */
        shardsInFlight: z.number().int().min(1).max(64).default(4),
      })
      .strict()
      .prefault({}),
    debate: z
      .object({
        /** Round cap r; a round = one turn per agent. */
        rounds: z.number().int().min(1).max(50).default(5),
        scale: z
          .object({ min: z.number().default(1), max: z.number().default(10) })
          .strict()
          .refine((s) => s.max > s.min, 'scale.max must be greater than scale.min')
          .default({ min: 1, max: 10 }),
        /** One agent, one turn: the paper's Single-LLM ablation. */
        singleAgent: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    noise: z
      .object({
        mode: z.enum(['local', 'global', 'replace']).default('local'),
        steps: z.number().int().min(1).max(10_000).default(1000),
        k: z.number().int().min(0).default(500),
        betaStart: z.number().positive().default(1e-5),
        betaEnd: z.number().positive().default(5e-3),
        schedule: z.enum(['sigmoid', 'linear']).default('sigmoid'),
        mask: z.enum(['binary', 'soft']).default('binary'),
        /** Binary mask threshold on the min-max normalized heatmap. */
        threshold: z.number().min(0).max(1).default(0.5),
      })
      .strict()
      .refine((n) => n.k <= n.steps, { message: 'noise.k must be ≤ noise.steps', path: ['k'] })
      .prefault({}),
    visualTool: z
      .object({
        /** Path to the .onnx; its contract lives next to it as <name>.json. Absent → bundled localizer. */
        model: z.string().optional(),
        entity: z.string().default('disease'),
      })
      .strict()
      .prefault({}),
    normalization: z
      .object({
        mode: z.enum(['zscore', 'raw']).default('zscore'),
        mean: z.number().default(1),
        variance: z.number().positive().default(0.1),
        alpha: z.number().default(0.75),
        beta: z.number().default(1.25),
      })
      .strict()
      .refine((n) => n.beta >= n.alpha, { message: 'normalization.beta must be ≥ alpha', path: ['beta'] })
      .prefault({}),
    training: TrainingConfigSchema.prefault({}),
    evaluation: z
      .object({
        enabled: z.boolean().default(true),
        convention: z.enum(['pycoco', 'mmedpo-release']).default('pycoco'),
        maxNewTokensVqa: z.number().int().positive().default(64),
        maxNewTokensReport: z.number().int().positive().default(1024),
        temperature: z.number().min(0).default(0.2),
        /**
         * Grounding metrics (`trainer ground`: counter-prior accuracy, blind gap, lesion sensitivity, hallucination
         * rate) beside the paper's on a phantom set's VQA evaluations; absent: on. They need the set's ground truth,
         * so setting this on any other dataset is an error. `false` saves one pass over the test split per
         * evaluation (three forward passes per closed question) where only the paper's metrics are wanted.
         */
        grounding: z.boolean().optional(),
        /**
         * The results table's 95% intervals and paired p-values (core/stats.ts): B bootstrap resamples
         * (the smallest p reported is 2/(B + 1)) and the confidence level.
         */
        bootstrap: z
          .object({ resamples: z.number().int().min(100).max(100_000).default(DEFAULT_RESAMPLES), confidence: z.number().gt(0.5).lt(1).default(DEFAULT_CONFIDENCE) })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    faults: z
      .object({
        /**
         * Hours an infrastructure fault (S3 or an endpoint unreachable, 5xx, 429, timeouts, a lost
         * worker) is retried before the workflow fails with it as the reason; data faults are never
         * retried (core/faults.ts). Hours, not minutes: a month-long campaign outlives an outage.
         */
        outageBudgetHours: z.number().positive().max(24 * 30).default(DEFAULT_OUTAGE_BUDGET_HOURS),
      })
      .strict()
      .prefault({}),
    /**
     * Only what a campaign decides about Temporal. Where Temporal is (address, namespace, TLS, API key) is a
     * property of each process: its envconfig profile and TEMPORAL_* env vars (lib/env.ts resolveTemporalConnection).
     */
    temporal: z
      .object({
        /** Prepended to every task queue (curation, training, model-*): several deployments or test runs share a namespace. */
        queuePrefix: z.string().regex(/^[A-Za-z0-9._-]*$/).default(''),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    // A setting that nothing reads is an error, not silence: grounding needs a phantom set's ground truth.
    if (c.evaluation.grounding !== undefined && c.dataset.format !== 'phantom')
      ctx.addIssue({ code: 'custom', path: ['evaluation', 'grounding'], message: `only with dataset.format phantom (grounding metrics need the set's ground truth; this dataset is ${c.dataset.format})` });
  });

export type CampaignConfig = z.infer<typeof CampaignConfigSchema>;
export type CampaignConfigInput = z.input<typeof CampaignConfigSchema>;

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly issues: string[],
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Keys named like a secret (case-insensitive, anywhere in the name: apiKey, apiKeyEnv, token,
 * secretAccessKey, password, credentials, …). A config error never prints a value found under
 * one, at any depth: a key value pasted where a name belongs must not reach a terminal or CI log.
 */
const SECRET_NAME = /key|token|secret|passw|credential/i;

const REDACTED = '<redacted>';

function kindOf(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  if (typeof v === 'string') return `a string of ${v.length} characters`;
  return `a ${typeof v}`;
}

/** A copy with every value under a secret-named key replaced; collects the replaced strings. */
function redactSecrets(v: unknown, found: string[]): unknown {
  if (Array.isArray(v)) return v.map((x) => redactSecrets(x, found));
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(
    Object.entries(v as Record<string, unknown>).map(([k, x]) => {
      if (!SECRET_NAME.test(k)) return [k, redactSecrets(x, found)];
      collectStrings(x, found);
      return [k, REDACTED];
    }),
  );
}

function collectStrings(v: unknown, out: string[]): void {
  if (typeof v === 'string') out.push(v);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) collectStrings(x, out);
}

function describeValue(v: unknown, path: PropertyKey[], found: string[]): string {
  if (v === undefined) return 'nothing';
  const secretSeg = path.find((p) => typeof p === 'string' && SECRET_NAME.test(p));
  if (secretSeg !== undefined) {
    collectStrings(v, found);
    return `${kindOf(v)} (not shown: "${String(secretSeg)}" is named like a secret)`;
  }
  const s = JSON.stringify(redactSecrets(v, found));
  return s && s.length > 60 ? s.slice(0, 57) + '...' : String(s);
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

const S3_VIA_ENV = 'S3 is set per process;';
/**
 * Fields that once were in this schema but were never read: the Temporal connection and the artifact
 * store belong to the process (lib/env.ts resolveRuntime), so setting one here is an error that says
 * where it goes. `storage.*` keys absent here get the `storage` line.
 */
const NOT_CAMPAIGN_SETTINGS: Record<string, string> = {
  'temporal.address': 'set TEMPORAL_ADDRESS or an envconfig profile (TEMPORAL_CONFIG_FILE / TEMPORAL_PROFILE)',
  'temporal.namespace': 'set TEMPORAL_NAMESPACE or an envconfig profile (TEMPORAL_CONFIG_FILE / TEMPORAL_PROFILE)',
  'temporal.encryptionKeyEnv': 'payloads are always encrypted; keys come from MMEDPO_PAYLOAD_KEYS or MMEDPO_PAYLOAD_KEY_FILE',
  'storage.bucket': `${S3_VIA_ENV} set MMEDPO_BUCKET`,
  'storage.endpoint': `${S3_VIA_ENV} set MMEDPO_S3_ENDPOINT (unset: AWS S3)`,
  'storage.region': `${S3_VIA_ENV} set MMEDPO_S3_REGION`,
  'storage.prefix': `${S3_VIA_ENV} set MMEDPO_S3_PREFIX`,
  'storage.accessKeyIdEnv': `${S3_VIA_ENV} set MMEDPO_S3_ACCESS_KEY_ID / MMEDPO_S3_SECRET_ACCESS_KEY, or use the AWS credential chain`,
  'storage.secretAccessKeyEnv': `${S3_VIA_ENV} set MMEDPO_S3_ACCESS_KEY_ID / MMEDPO_S3_SECRET_ACCESS_KEY, or use the AWS credential chain`,
  'storage.forcePathStyle': `${S3_VIA_ENV} path-style addressing is used whenever MMEDPO_S3_ENDPOINT is set`,
  storage: `${S3_VIA_ENV} see MMEDPO_S3_ENDPOINT, MMEDPO_BUCKET, MMEDPO_S3_REGION, MMEDPO_S3_PREFIX, MMEDPO_S3_SSE and the S3 credentials`,
};

/**
 * One line per field the schema does not have, named by its full path, with its value (described, not
 * shown, under a secret-named key) and where it belongs; a removed section gets a line per key set in it.
 */
function unknownFieldLines(input: unknown, path: PropertyKey[], keys: string[], secrets: string[]): string[] {
  const line = (at: PropertyKey[]) => {
    const field = at.join('.');
    const why = NOT_CAMPAIGN_SETTINGS[field] ?? (field.startsWith('storage.') ? NOT_CAMPAIGN_SETTINGS.storage : 'unknown field (misspelt, or not read by this version)');
    return `${field} is not a campaign setting (got ${describeValue(valueAt(input, at), at, secrets)}): ${why}`;
  };
  return keys.flatMap((k) => {
    const value = valueAt(input, [...path, k]);
    if (path.length === 0 && k === 'storage' && value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length)
      return Object.keys(value).map((sub) => line(['storage', sub]));
    return [line([...path, k])];
  });
}

/**
 * Validate a plain object; throws ConfigError naming each bad field, its value and the expectation;
 * a field the schema does not have (every object is strict) is named by its full path, with where it
 * belongs when it is a process setting (NOT_CAMPAIGN_SETTINGS).
 * Values under secret-named keys are never shown (SECRET_NAME): the issue says what kind of value
 * it was, and any secret string that reached a message some other way is scrubbed from it.
 */
export function parseCampaignConfig(input: unknown, source = 'config'): CampaignConfig {
  const r = CampaignConfigSchema.safeParse(input ?? {});
  if (r.success) return r.data;
  const secrets: string[] = [];
  redactSecrets(input, secrets);
  const scrub = (line: string) => secrets.filter((x) => x.length >= 8).reduce((acc, x) => acc.split(x).join(REDACTED), line);
  const issues = r.error.issues.flatMap((i) => {
    if (i.code === 'unrecognized_keys') return unknownFieldLines(input, i.path as PropertyKey[], i.keys, secrets).map(scrub);
    const field = i.path.length ? i.path.join('.') : '(root)';
    const got = describeValue(valueAt(input, i.path as PropertyKey[]), i.path as PropertyKey[], secrets);
    return [scrub(`${field}: got ${got}; expected ${i.message}`)];
  });
  throw new ConfigError(`${source} is invalid:\n  - ${issues.join('\n  - ')}`, issues);
}

/**
 * Env overrides: MMEDPO__A__B=value sets config.a.b (camelCase segments kept as
 * written after lower-casing the first letter). Values are parsed as JSON when
 * they parse, else kept as strings.
 */
export function applyEnvOverrides(obj: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const out = structuredClone(obj);
  for (const [k, raw] of Object.entries(env)) {
    if (!k.startsWith('MMEDPO__') || raw === undefined) continue;
    const path = k
      .slice('MMEDPO__'.length)
      .split('__')
      .map((seg) => seg.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase()));
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      /* a plain string */
    }
    let cur: Record<string, unknown> = out;
    for (const seg of path.slice(0, -1)) {
      if (typeof cur[seg] !== 'object' || cur[seg] === null) cur[seg] = {};
      cur = cur[seg] as Record<string, unknown>;
    }
    cur[path[path.length - 1]!] = value;
  }
  return out;
}
