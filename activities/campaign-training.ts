// Training-queue activities of the campaign: train one variant (the durable
// trainer activity) and evaluate one variant (batched generation on the test
// split with the trainer, then every metric). Registered by the training worker.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { TrainingConfigSchema, type CampaignConfig, type VariantName } from '../core/config';
import type { EvalOutcome, EvaluateVariantInput, TrainOutcome } from '../core/contracts';
import { promptOf } from '../core/preference';
import { artifactStore } from '../lib/env';
import { scorePredictions } from './evaluation';
import type { DatasetManifest } from './ingest';
import { defaultSlotPool, fetchAdapterDir, logTrackingMetrics, resolveBaseModel, runTraining, type SlotPool } from './training';
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

/** Generates answers for the test split with the variant's adapter (on one of the worker's slots), then scores them. */
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
    const model = await resolveBaseModel(input.baseModelKey ?? input.training.baseModel, input.baseModelSeed ?? input.seed);
    const adapterArgs: string[] = [];
    for (const k of input.adapterKeys) adapterArgs.push('--adapter', await fetchAdapterDir(k));
    const pool = slots ?? (await defaultSlotPool());
    const held = await pool.acquire(1, () => Context.current().heartbeat(), Context.current().cancellationSignal);
    try {
      // The trainer prints one JSON progress line per batch on stdout: each is a heartbeat. Pinned to its slot's
      // GPU like a training run, so evaluations side by side never share one; a cancellation stops it.
      const beat = () => Context.current().heartbeat();
      const x = await startTrainer({
        what: 'trainer generate',
        args: [
          '-m', 'trainer', 'generate',
          '--model', model, ...adapterArgs,
          '--input', path.join(work, 'input.jsonl'), '--image-dir', imgDir, '--output', path.join(work, 'out.jsonl'),
          '--max-new-tokens', String(kind === 'report' ? input.evaluation.maxNewTokensReport : input.evaluation.maxNewTokensVqa),
          '--temperature', String(input.evaluation.temperature), '--seed', String(input.seed), '--device', input.training.device,
          '--dtype', training.dtype, ...(training.chatTemplate ? ['--chat-template', training.chatTemplate] : []),
        ],
        gpus: pool.gpus ? held : null,
        onEvent: beat,
        onTick: beat,
        signal: Context.current().cancellationSignal,
      }).exited;
      // stopped by the worker's shutdown, not by the workflow: a retry (on another worker) runs it again
      if (x.cancelled && Context.current().cancellationDetails?.workerShutdown) throw ApplicationFailure.retryable('trainer generate stopped by worker shutdown', 'TrainerPreempted');
      checkTrainerExit(x, 'trainer generate');
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
    if (training.reportTo.includes('mlflow')) await logTrackingMetrics(input.campaignId, input.variant, input.seed, training, s.totals);
    return { variant: input.variant, predictionsKey, scoresKey: s.scoresKey, totals: s.totals };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
