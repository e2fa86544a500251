// Training-queue activities of the campaign: train one variant (the durable
// trainer activity) and evaluate one variant (batched generation on the test
// split with the trainer, then every metric; on a phantom set also the grounding
// metrics, `trainer ground`). Registered by the training worker.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { TrainingConfigSchema, type CampaignConfig, type VariantName } from '../core/config';
import type { EvalOutcome, EvaluateVariantInput, TrainOutcome } from '../core/contracts';
import { groundingTotalsForResults, type GroundingDocument, type GroundingRecord } from '../core/grounding';
import { promptOf } from '../core/preference';
import { artifactStore } from '../lib/env';
import { scorePredictions } from './evaluation';
import type { DatasetManifest } from './ingest';
import { defaultSlotPool, fetchAdapterDir, logTrackingMetrics, resolveBaseModel, runTraining, type SlotPool } from './training';
import { stagePhantomTestbed } from './training/grounding';
import { checkTrainerExit, startTrainer } from './training/supervisor';

export interface TrainVariantInput {
  campaignId: string;
  variant: VariantName;
  mode: 'sft' | 'dpo';
  datasetKey: string;
  training: CampaignConfig['training'];
  /** The training seed (the trainer's random draws). */
  seed: number;
  /** Seed of the tiny base model when there is none (default `seed`): the campaign seed under training.seeds. */
  baseModelSeed?: number;
  initAdapterKey?: string;
  /** S3 key of a full model (a fully fine-tuned SFT model) to train on instead of training.baseModel. */
  baseModelKey?: string;
}

/** Trains one variant on one of the worker's slots (`slots`: the training worker's pool; paceSeconds: its test pace). */
export async function trainVariant(input: TrainVariantInput, slots?: SlotPool, paceSeconds?: number): Promise<TrainOutcome> {
  const out = await runTraining(
    {
      variant: input.variant,
      mode: input.mode,
      datasetKey: input.datasetKey,
      baseModel: input.baseModelKey ?? input.training.baseModel,
      training: input.training,
      seed: input.seed,
      ...(input.baseModelSeed !== undefined ? { baseModelSeed: input.baseModelSeed } : {}),
      initAdapterKey: input.initAdapterKey,
      campaignId: input.campaignId,
      ...(paceSeconds !== undefined ? { paceSeconds } : {}),
    },
    slots,
  );
  return { variant: input.variant, adapterKey: out.adapterKey, metricsKey: out.metricsKey, finalLoss: out.finalLoss, steps: out.steps, resumedFromStep: out.resumedFromStep, ...(out.quarantineKey ? { quarantined: out.quarantined, quarantineKey: out.quarantineKey } : {}) };
}

// ---------------------------------------------------------------- evaluation

/**
 * Generates answers for the test split with the variant's adapter (on one of the worker's slots), then scores them.
 * On a phantom set (VQA) the same model, in the same slot, then gives the grounding metrics of the split from the
 * set's ground truth (`trainer ground` on the testbed staged from S3, activities/training/grounding.ts): the
 * document (per-question records, each with its item id) goes to S3 under `grounding/` (groundingKey) and the
 * metrics the results table shows (core/report.ts GROUNDING_COLUMNS) join the evaluation's totals.
 */
export async function evaluateVariant(input: EvaluateVariantInput, slots?: SlotPool): Promise<EvalOutcome> {
  const store = artifactStore();
  const training = TrainingConfigSchema.parse(input.training); // defaults for fields newer than the campaign's config
  const m = await store.getJson<DatasetManifest>(input.manifestKey);
  const items = m.items.filter((i) => i.split === input.split);
  if (!items.length) throw ApplicationFailure.nonRetryable(`no items in the "${input.split}" split to evaluate`, 'BadInput');
  const kind = items[0]!.kind;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `mmedpo-eval-${input.variant}-`));
  try {
    const imgDir = path.join(work, 'images');
    fs.mkdirSync(imgDir);
    const rows: string[] = [];
    const seen = new Set<string>();
    for (const it of items) {
      const key = it.imageKeys[0]!;
      const local = key.replace(/\//g, '_');
      if (!seen.has(key)) {
        fs.writeFileSync(path.join(imgDir, local), await store.getBytes(key));
        seen.add(key);
      }
      rows.push(JSON.stringify({ id: it.id, image: local, prompt: promptOf(it) }));
    }
    fs.writeFileSync(path.join(work, 'input.jsonl'), rows.join('\n') + '\n');
    // The grounding testbed (phantom sets): staged before the slot is taken, like the generation's input.
    const testbed = kind === 'vqa' && input.evaluation.grounding !== false ? await stagePhantomTestbed(m, input.split, path.join(work, 'phantom')) : undefined;
    const model = await resolveBaseModel(input.baseModelKey ?? input.training.baseModel, input.baseModelSeed ?? input.seed);
    const adapterArgs: string[] = [];
    for (const k of input.adapterKeys) adapterArgs.push('--adapter', await fetchAdapterDir(k));
    const modelArgs = ['--model', model, ...adapterArgs, '--device', input.training.device, '--dtype', training.dtype, ...(training.chatTemplate ? ['--chat-template', training.chatTemplate] : [])];
    const pool = slots ?? (await defaultSlotPool());
    const held = await pool.acquire(1, () => Context.current().heartbeat(), Context.current().cancellationSignal);
    try {
      // The trainer prints one JSON progress line per batch on stdout: each is a heartbeat (and one every second
      // while it lives). Pinned to its slot's GPU like a training run, so evaluations side by side never share one;
      // a cancellation stops it.
      const beat = () => Context.current().heartbeat();
      const run = async (what: string, args: string[]) => {
        const x = await startTrainer({ what, args: ['-m', 'trainer', ...args], gpus: pool.gpus ? held : null, onEvent: beat, onTick: beat, signal: Context.current().cancellationSignal }).exited;
        // stopped by the worker's shutdown, not by the workflow: a retry (on another worker) runs it again
        if (x.cancelled && Context.current().cancellationDetails?.workerShutdown) throw ApplicationFailure.retryable(`${what} stopped by worker shutdown`, 'TrainerPreempted');
        checkTrainerExit(x, what);
      };
      await run('trainer generate', [
        'generate', ...modelArgs,
        '--input', path.join(work, 'input.jsonl'), '--image-dir', imgDir, '--output', path.join(work, 'out.jsonl'),
        '--max-new-tokens', String(kind === 'report' ? input.evaluation.maxNewTokensReport : input.evaluation.maxNewTokensVqa),
        '--temperature', String(input.evaluation.temperature), '--seed', String(input.seed),
      ]);
      // Lesion/control noise seeded by the campaign seed (the base model's seed), not the training seed: every
      // variant and training seed is graded with the same ε, so their differences are paired on it too.
      if (testbed) await run('trainer ground', ['ground', ...modelArgs, '--phantom', testbed.root, '--split', testbed.split, '--output', path.join(work, 'ground.json'), '--seed', String(noiseSeed(input))]);
    } finally {
      pool.release(held);
    }
    const byId = new Map(items.map((i) => [i.id, i]));
    const preds = fs
      .readFileSync(path.join(work, 'out.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { id: string; answer?: string })
      .map((p) => {
        const it = byId.get(p.id)!;
        return { id: p.id, prediction: p.answer ?? '', reference: it.answer, answer_type: it.answerType, question: it.question };
      });
    const predictionsKey = (await store.putBytes('predictions', Buffer.from(preds.map((p) => JSON.stringify(p)).join('\n') + '\n'), { ext: '.jsonl' })).key;
    const s = await scorePredictions({ predictionsKey, format: kind === 'report' ? 'report' : 'vqa', convention: input.evaluation.convention });
    let totals = s.totals;
    let groundingKey: string | undefined;
    if (testbed) {
      const g = await storeGrounding(path.join(work, 'ground.json'), testbed.split, noiseSeed(input), testbed.idOf);
      groundingKey = g.key;
      totals = { ...totals, ...groundingTotalsForResults(g.totals) };
    }
    if (training.reportTo.includes('mlflow')) await logTrackingMetrics(input.campaignId, input.variant, input.seed, training, totals);
    return { variant: input.variant, predictionsKey, scoresKey: s.scoresKey, totals, ...(groundingKey ? { groundingKey } : {}) };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** The seed of the grounding metrics' lesion/control noise: the campaign seed, whatever the training seed. */
const noiseSeed = (input: EvaluateVariantInput) => input.baseModelSeed ?? input.seed;

/** The trainer's ground.json (null where no question qualifies) as a content-addressed GroundingDocument, records keyed by item id. */
async function storeGrounding(file: string, split: string, seed: number, idOf: ReadonlyMap<number, string>): Promise<{ key: string; totals: GroundingDocument['totals'] }> {
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as { totals: GroundingDocument['totals']; items: GroundingRecord[] };
  const doc: GroundingDocument = { what: 'trainer ground', split, noiseSeed: seed, totals: raw.totals, items: raw.items.map((r) => ({ ...r, id: idOf.get(r.qid) })) };
  return { key: (await artifactStore().putJson('grounding', doc)).key, totals: raw.totals };
}
