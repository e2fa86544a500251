// Training-queue activities of the campaign: train one variant (the durable
// trainer activity) and evaluate one variant (batched generation on the test
// split with the trainer, then every metric). Registered by the training worker.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { CampaignConfig, VariantName } from '../core/config';
import type { EvalOutcome, TrainOutcome } from '../core/contracts';
import { REPORT_PROMPT } from '../core/preference';
import { artifactStore } from '../lib/env';
import type { DatasetManifest } from './ingest';
import { fetchAdapterDir, resolveBaseModel, runTraining, trainerPython, TrainingHyperparameters } from './training';

export function hyperparametersFrom(t: CampaignConfig['training']): Partial<TrainingHyperparameters> {
  return {
    learningRate: t.learningRate,
    batchSize: t.batchSize,
    gradientAccumulation: t.gradientAccumulation,
    epochs: t.epochs,
    beta: t.beta,
    maxLength: t.maxLength,
    warmupRatio: t.warmupRatio,
    lora: t.lora,
    checkpointEverySteps: t.checkpointEverySteps,
    device: t.device,
  };
}

export interface TrainVariantInput {
  campaignId: string;
  variant: VariantName;
  mode: 'sft' | 'dpo';
  datasetKey: string;
  training: CampaignConfig['training'];
  seed: number;
  initAdapterKey?: string;
}

export async function trainVariant(input: TrainVariantInput): Promise<TrainOutcome> {
  const out = await runTraining({
    variant: input.variant,
    mode: input.mode,
    datasetKey: input.datasetKey,
    baseModel: input.training.baseModel,
    hyperparameters: hyperparametersFrom(input.training),
    seed: input.seed,
    initAdapterKey: input.initAdapterKey,
  });
  return { variant: input.variant, adapterKey: out.adapterKey, metricsKey: out.metricsKey, finalLoss: out.finalLoss, steps: out.steps };
}

