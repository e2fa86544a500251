// What the campaign's stages hand each other. Only S3 keys and small numbers
// travel through workflow history; records live in S3.
import type { CampaignConfig, VariantName } from './config';

export interface CampaignInput {
  campaignId: string;
  config: CampaignConfig;
  configHash: string;
  /** Set by `campaign rerun`: the campaign whose config is repeated. */
  rerunOf?: string;
}

export type Stage = 'prepare' | 'ingest' | 'curation' | 'merge' | 'train' | 'evaluate' | 'report' | 'done';

export interface QuarantineRecord {
  itemId: string;
  stage: string;
  reason: string;
}

/**
 * The text of one dataset item, one content-addressed JSON object per item in S3 (written at ingest,
 * `ManifestItem.textKey`). Workflows pass its key; the activities that need the words read it.
 */
export interface ItemText {
  id: string;
  kind: 'vqa' | 'report';
  question?: string;
  answer: string;
}

/** A shard's view of one item: ids and S3 keys only (the words are under `textKey`). */
export interface ShardItem {
  id: string;
  kind: 'vqa' | 'report';
  /** S3 key of the item's ItemText. */
  textKey: string;
  /** Canonical images. */
  imageKeys: string[];
}

/** A text blob a model call produced (a candidate answer, a written hallucination), content-addressed in S3. */
export interface ModelText {
  text: string;
}

/** One item's curation outcome (what a shard collects). */
export interface ItemCuration {
  itemId: string;
  text?: { pairKey: string; score: number; consensus: boolean; turns: number; atCap: boolean; singleScore?: number; source?: string; /** S3 key of the debate transcript. */ transcriptKey?: string };
  visual?: { pairKey: string; confidence: number };
  visualGlobal?: { pairKey: string; confidence: number };
  quarantined: QuarantineRecord[];
}

export interface ShardInput {
  campaignId: string;
  seed: number;
  manifestKey: string;
  split: string;
  start: number;
  end: number;
  config: CampaignConfig;
  /** Which extra curation passes the chosen variants need. */
  needSingleAgent: boolean;
  needGlobalNoise: boolean;
}

export interface ShardResult {
  shardKey: string;
  items: number;
  textPairs: number;
  visualPairs: number;
  quarantined: number;
  debatesAtCap: number;
  consensus: number;
  turns: number;
}

export interface PreferenceSetInfo {
  variant: VariantName;
  /** Trainer JSONL: {id, image, rejected_image?, prompt, chosen, rejected, weight} with S3 image keys. */
  datasetKey: string;
  /** The authors' LLaVA JSON layout (id, image, conversations, rejected_conversations, rejected_image, weighted_score). */
  llavaKey: string;
  pairs: number;
  stats: { text?: unknown; visual?: unknown };
}

export interface MergeResult {
  sets: PreferenceSetInfo[];
  /** SFT data (ground-truth answers on the train split). */
  sftKey: string;
  sftItems: number;
  quarantineKey: string;
  quarantined: number;
}

export interface TrainOutcome {
  variant: VariantName;
  /** The training seed, under training.seeds (absent: the campaign seed). */
  seed?: number;
  adapterKey?: string;
  metricsKey?: string;
  finalLoss?: number;
  steps?: number;
  /** The step the successful attempt resumed from after a crash (null: ran from step 0). */
  resumedFromStep?: number | null;
  skipped?: string;
  /** Pairs left out at training because an image they name does not decode or is missing (list under quarantineKey). */
  quarantined?: number;
  quarantineKey?: string;
}

export interface EvaluateVariantInput {
  campaignId: string;
  variant: VariantName;
  /** Adapters applied in order on the base (SFT, then the variant's own). */
  adapterKeys: string[];
  /** S3 key of a full model (fully fine-tuned SFT) used as the base instead of training.baseModel. */
  baseModelKey?: string;
  manifestKey: string;
  split: string;
  evaluation: CampaignConfig['evaluation'];
  training: CampaignConfig['training'];
  /** Seed of the generation (and of the tiny base model unless baseModelSeed says otherwise). */
  seed: number;
  /** Seed of the tiny base model when there is none (default `seed`). */
  baseModelSeed?: number;
}

export interface EvalOutcome {
  variant: VariantName;
  /** The training seed of the evaluated model; absent: the campaign seed. One EvalOutcome per (variant, seed). */
  seed?: number;
  predictionsKey: string;
  /** scorePredictions' document: per-item scores (`items`), totals, convention and the predictions key. */
  scoresKey: string;
  /**
   * scorePredictions' totals; on a phantom set also the grounding metrics (core/grounding.ts GROUNDING_KEYS: the
   * results table's GROUNDING_COLUMNS) of the same model.
   */
  totals: Record<string, number>;
  /** Phantom sets: the grounding document (core/grounding.ts GroundingDocument: per-question records keyed by item id, totals). */
  groundingKey?: string;
}

/**
 * A point estimate with its bootstrap confidence interval, in the metric's units (the percentages
 * of scorePredictions' totals). core/stats.ts documents the procedure.
 */
export interface MetricInterval {
  /** Mean over seeds of the metric on the whole test set. */
  estimate: number;
  lo: number;
  hi: number;
}

/** One variant's results over its seeds: metric key (a totals key, e.g. open_recall) → interval. */
export interface VariantStatistics {
  variant: string;
  /** The training seeds evaluated, ascending (one EvalOutcome each). */
  seeds: number[];
  metrics: Record<string, MetricInterval>;
}

/** A paired comparison `variant − baseline` on the same test items: the difference, its interval, and a two-sided bootstrap p-value. */
export interface PairedComparison {
  variant: string;
  baseline: string;
  /** Both have the same seed list, so each resample draws the same seeds for both (paired by seed too). */
  pairedSeeds: boolean;
  metrics: Record<string, MetricInterval & { p: number }>;
}

/** What the results table, the HTML report, the manifest (`statistics`) and `campaign compare` show. */
export interface ResultsStatistics {
  method: string;
  /** B, the number of bootstrap resamples. */
  resamples: number;
  confidence: number;
  /** The seed of the bootstrap's draws (the campaign seed). */
  seed: number | string;
  /** Test items every run was scored on (the bootstrap's n), and the sizes of its strata. */
  items: number;
  strata: number[];
  variants: VariantStatistics[];
  comparisons: PairedComparison[];
  notes: string[];
}

export interface CampaignProgress {
  campaignId: string;
  stage: Stage;
  paused: boolean;
  items: { total: number; curated: number; quarantined: number };
  /** runningIds: shard workflows in flight; their own `shardProgress` query gives item-level progress. */
  shards: { total: number; done: number; running: number; runningIds?: string[] };
  debates: { done: number; atCap: number; consensus: number; turns: number };
  pairs: { text: number; visual: number };
  /**
   * done: the runs trained, in the config's variant order (variant, or variant@seed under training.seeds).
   * running: the runs in flight side by side; their step/totalSteps/loss (and the top-level ones, of the latest
   * run reporting) are read by the CLI from the training activities' heartbeats. variant: the run started last.
   */
  training: { variant?: string; done: string[]; running?: TrainingRunProgress[]; step?: number; totalSteps?: number; loss?: number };
  evaluation: { done: string[]; running?: string[] };
  artifacts: Record<string, string>;
}

/** One training run in flight: its label (variant or variant@seed), variant and training seed. */
export interface TrainingRunProgress {
  run: string;
  variant: string;
  seed: number;
  step?: number;
  totalSteps?: number;
  loss?: number;
}

/** A campaign's progress before anything has happened (also what a closed campaign shows when it cannot be queried). */
export function emptyProgress(campaignId: string, stage: Stage): CampaignProgress {
  return {
    campaignId,
    stage,
    paused: false,
    items: { total: 0, curated: 0, quarantined: 0 },
    shards: { total: 0, done: 0, running: 0 },
    debates: { done: 0, atCap: 0, consensus: 0, turns: 0 },
    pairs: { text: 0, visual: 0 },
    training: { done: [] },
    evaluation: { done: [] },
    artifacts: {},
  };
}

export interface CampaignResult {
  campaignId: string;
  manifestKey: string;
  reportKeys: { markdown: string; csv: string; html: string };
  table: string;
  quarantined: number;
  /** The final progress, so a closed campaign is readable with no worker running (queries need one). */
  progress?: CampaignProgress;
}

/** Variants that need curated pairs, and which pairs/weights each uses (documented in README). */
export interface VariantSpec {
  text: boolean;
  visual: boolean;
  /** 'crs' = normalized clinical-relevance weights; 'one' = s' = 1 (plain DPO); 'single' = single-LLM scores. */
  weights: 'crs' | 'one' | 'single';
  globalNoise: boolean;
}

export const VARIANT_SPECS: Partial<Record<VariantName, VariantSpec>> = {
  dpo: { text: true, visual: false, weights: 'one', globalNoise: false },
  mmedpo: { text: true, visual: true, weights: 'crs', globalNoise: false },
  'stage1-only': { text: true, visual: false, weights: 'crs', globalNoise: false },
  'stage2-only': { text: false, visual: true, weights: 'crs', globalNoise: false },
  'no-crs': { text: true, visual: true, weights: 'one', globalNoise: false },
  'single-llm': { text: true, visual: true, weights: 'single', globalNoise: false },
  'global-noise': { text: true, visual: true, weights: 'crs', globalNoise: true },
};
