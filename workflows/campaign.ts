// The campaign: Algorithm 1 of the paper as one durable DAG.
//   prepare → ingest (child) → curation shards (children, bounded) → merge +
//   normalize → train each variant (training queue) → evaluate each → report.
// Only S3 keys and counters live in this history; shards keep theirs small too.
import {
  ActivityCancellationType,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  executeChild,
  getExternalWorkflowHandle,
  ParentClosePolicy,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  log,
} from '@temporalio/workflow';
import type * as campaignActs from '../activities/campaign';
import type { VariantName } from '../core/config';
import type { CampaignInput, CampaignProgress, CampaignResult, EvalOutcome, EvaluateVariantInput, ShardResult, Stage, TrainingRunProgress, TrainOutcome } from '../core/contracts';
import { emptyProgress, VARIANT_SPECS } from '../core/contracts';
import { queueOf } from '../core/queues';
import { CampaignIdKey, DatasetKey, StageKey, VariantKey } from '../core/search-attributes';
import { ingestWorkflow } from './ingest';
import { curationShardWorkflow, pauseShardSignal } from './curation-shard';
import { outageBudgetOf } from './curate-item';
import { faultPolicy } from '../core/faults';

// S3 unreachable or a worker lost is retried for the campaign's outage budget (core/faults.ts).
const campaignActivities = (cfg: CampaignInput['config']) => proxyActivities<typeof campaignActs>({ startToCloseTimeout: '30 minutes', ...faultPolicy(outageBudgetOf(cfg)) });
type TrainingActs = typeof campaignActs & { evaluateVariant(input: EvaluateVariantInput): Promise<EvalOutcome> };
/**
 * summary: the run's name on the Web UI timeline, where runs side by side show as overlapping bars.
 * priorityKey (Temporal task priority, 1 first … 5, default 3): of the tasks waiting in the training queue, a
 * training run is handed to a free slot before an evaluation — training is the long job and every evaluation
 * waits on one, so the pool's makespan is shorter that way. (Tasks matched at once to idle slots go in the
 * order the commands were issued: see seedLane.)
 */
const trainingActs = (prefix: string, heartbeatTimeoutSeconds: number, summary?: string, priorityKey?: number) =>
  proxyActivities<TrainingActs>({
    taskQueue: queueOf(prefix, 'training'),
    startToCloseTimeout: '7 days',
    heartbeatTimeout: `${heartbeatTimeoutSeconds} seconds`,
    retry: { maximumAttempts: 20, initialInterval: '5s' },
    // a cancelled campaign waits for its trainers' final checkpoints (SIGTERM → checkpoint → upload → cancelled)
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    ...(summary ? { summary } : {}),
    ...(priorityKey ? { priority: { priorityKey } } : {}),
  });

export const progressQuery = defineQuery<CampaignProgress>('progress');
export const pauseUpdate = defineUpdate<CampaignProgress, [string?]>('pause');
export const resumeUpdate = defineUpdate<CampaignProgress>('resume');
export const pauseSignal = defineSignal<[boolean]>('setPaused');

export async function campaignWorkflow(input: CampaignInput): Promise<CampaignResult> {
  const cfg = input.config;
  const acts = campaignActivities(cfg);
  const prefix = cfg.temporal.queuePrefix;
  const training = trainingActs(prefix, cfg.training.heartbeatTimeoutSeconds);
  const variants = cfg.training.variants;
  const progress: CampaignProgress = emptyProgress(input.campaignId, 'prepare');
  const runningShards = new Set<string>();
  const setPaused = async (p: boolean) => {
    progress.paused = p;
    // Running shards stop taking new items; finished items are kept either way.
    await Promise.all([...runningShards].map((id) => getExternalWorkflowHandle(id).signal(pauseShardSignal, p).catch(() => undefined)));
    details();
  };
  setHandler(progressQuery, () => progress);
  setHandler(pauseSignal, (p) => void setPaused(p));
  setHandler(pauseUpdate, async () => {
    await setPaused(true);
    return progress;
  });
  setHandler(resumeUpdate, async () => {
    await setPaused(false);
    return progress;
  });

  const details = () =>
    setCurrentDetails(
      [
        `**stage** ${progress.stage}${progress.paused ? ' (paused)' : ''}`,
        `items ${progress.items.curated}/${progress.items.total} curated, ${progress.items.quarantined} quarantined`,
        `debates ${progress.debates.done} (consensus ${progress.debates.consensus}, at cap ${progress.debates.atCap})`,
        `pairs: text ${progress.pairs.text}, visual ${progress.pairs.visual}`,
        `trained: ${progress.training.done.join(', ') || '-'}; evaluated: ${progress.evaluation.done.join(', ') || '-'}`,
        ...(progress.training.running?.length || progress.evaluation.running?.length
          ? [`now training: ${progress.training.running?.map((r) => r.run).join(', ') || '-'}; evaluating: ${progress.evaluation.running?.join(', ') || '-'}`]
          : []),
      ].join('\n\n'),
    );
  const enter = (s: Stage) => {
    progress.stage = s;
    upsertSearchAttributes([{ key: StageKey, value: s }]);
    details();
  };

  upsertSearchAttributes([
    { key: CampaignIdKey, value: input.campaignId },
    { key: DatasetKey, value: cfg.dataset.format },
  ]);

  // 1. prepare: the phantom set is generated (deterministically) where needed.
  enter('prepare');
  const ds = await acts.prepareDataset({ campaignId: input.campaignId, dataset: cfg.dataset, seed: cfg.seed });

  // 2. ingest
  enter('ingest');
  const ingest = await executeChild(ingestWorkflow, {
    workflowId: `${input.campaignId}/ingest`,
    taskQueue: queueOf(prefix, 'curation'),
    staticSummary: `ingest ${ds.format}`,
    typedSearchAttributes: [
      { key: CampaignIdKey, value: input.campaignId },
      { key: StageKey, value: 'ingest' },
    ],
    args: [{ format: ds.format, root: ds.root, language: cfg.dataset.language, campaignId: input.campaignId, outageBudgetHours: outageBudgetOf(cfg), maxTextBytes: cfg.dataset.maxTextBytes }],
  });
  progress.artifacts.datasetManifest = ingest.manifestKey;
  const plan = await acts.planCuration({ manifestKey: ingest.manifestKey, split: cfg.dataset.trainSplit, limit: cfg.dataset.limit, shardSize: cfg.curation.shardSize });
  progress.items.total = plan.items;
  progress.shards.total = plan.shards.length;

  // Training state, shared by the early SFT (served target) and the train stage.
  const trains: TrainOutcome[] = [];
  const adapters: Partial<Record<VariantName, string | undefined>> = {};
  const trainOne = async (variant: VariantName, mode: 'sft' | 'dpo', datasetKey: string, initAdapterKey?: string, baseModelKey?: string) => {
    progress.training.variant = variant;
    upsertSearchAttributes([{ key: VariantKey, value: variant }]);
    details();
    const t = await training.trainVariant({
      campaignId: input.campaignId,
      variant,
      mode,
      datasetKey,
      training: cfg.training,
      seed: cfg.seed,
      initAdapterKey,
      ...(baseModelKey ? { baseModelKey } : {}),
    });
    trains.push(t);
    adapters[variant] = t.adapterKey;
    progress.training.done.push(variant);
    if (t.adapterKey) progress.artifacts[`adapter:${variant}`] = t.adapterKey;
    details();
  };

  // 2b. The target is the campaign's own SFT model (the embedded default): train SFT before
  // curation; the model worker serves it with the trainer and the text branch samples it.
  let curationCfg = cfg;
  if (cfg.curation.targetFromSft && cfg.curation.textBranch && cfg.training.enabled && !cfg.models.target.baseURL) {
    enter('train');
    const sftSet = await acts.buildSftSet({ manifestKey: ingest.manifestKey, trainSplit: cfg.dataset.trainSplit, limit: cfg.dataset.limit });
    await trainOne('sft', 'sft', sftSet.sftKey);
    const full = cfg.training.sft.fullFineTune;
    const served = {
      ...(full ? { baseModel: adapters.sft } : cfg.training.baseModel ? { baseModel: cfg.training.baseModel } : {}),
      adapterKeys: full ? [] : [adapters.sft!],
      seed: cfg.seed,
      device: cfg.training.device,
    };
    curationCfg = { ...cfg, models: { ...cfg.models, target: { ...cfg.models.target, served } } };
  }

  // 3. curation shards, at most `curation.shardsInFlight` at once.
  enter('curation');
  const needSingleAgent = variants.includes('single-llm');
  const needGlobalNoise = variants.includes('global-noise');
  const shardResults: ShardResult[] = new Array(plan.shards.length);
  let nextShard = 0;
  // Histories started before the field existed carry configs without it.
  const maxShards = cfg.curation.shardsInFlight ?? 4;
  const shardLane = async () => {
    for (;;) {
      await condition(() => !progress.paused);
      // Claim after the pause gate, so lanes released together never share or overrun a shard.
      if (nextShard >= plan.shards.length) return;
      const i = nextShard++;
      const [start, end] = plan.shards[i]!;
      const id = `${input.campaignId}/shard-${String(i).padStart(4, '0')}`;
      runningShards.add(id);
      progress.shards.running = runningShards.size;
      progress.shards.runningIds = [...runningShards];
      const handle = await startChild(curationShardWorkflow, {
        workflowId: id,
        taskQueue: queueOf(prefix, 'curation'),
        parentClosePolicy: ParentClosePolicy.TERMINATE,
        staticSummary: `curation shard ${i}: items ${start}–${end - 1}`,
        typedSearchAttributes: [
          { key: CampaignIdKey, value: input.campaignId },
          { key: StageKey, value: 'curation' },
        ],
        args: [{ campaignId: input.campaignId, seed: cfg.seed, manifestKey: ingest.manifestKey, split: cfg.dataset.trainSplit, start, end, config: curationCfg, needSingleAgent, needGlobalNoise }],
      });
      if (progress.paused) await handle.signal(pauseShardSignal, true);
      const r = await handle.result();
      runningShards.delete(id);
      progress.shards.runningIds = [...runningShards];
      shardResults[i] = r;
      progress.shards.done++;
      progress.shards.running = runningShards.size;
      progress.items.curated += r.items;
      progress.items.quarantined += r.quarantined;
      progress.debates.done += r.textPairs;
      progress.debates.atCap += r.debatesAtCap;
      progress.debates.consensus += r.consensus;
      progress.debates.turns += r.turns;
      progress.pairs.text += r.textPairs;
      progress.pairs.visual += r.visualPairs;
      details();
    }
  };
  await Promise.all(Array.from({ length: Math.min(maxShards, plan.shards.length) }, shardLane));

  // 4. merge D_t ∪ D_v, normalize scores, write one preference set per variant.
  enter('merge');
  const merge = await acts.buildPreferenceSets({
    campaignId: input.campaignId,
    manifestKey: ingest.manifestKey,
    trainSplit: cfg.dataset.trainSplit,
    limit: cfg.dataset.limit,
    shardKeys: shardResults.map((r) => r.shardKey),
    variants,
    normalization: cfg.normalization,
    debateScale: cfg.debate.scale,
  });
  progress.artifacts.sft = merge.sftKey;
  progress.artifacts.quarantine = merge.quarantineKey;
  for (const s of merge.sets) progress.artifacts[`preference:${s.variant}`] = s.datasetKey;

  /**
   * 5–6 side by side. Per training seed (training.seeds; absent: one run with the campaign seed, as before
   * seeds existed) SFT first: it is the start point and the reference of that seed's preference variants. Then
   * every (variant, seed) preference run at once on the training queue, each evaluated as soon as it is
   * trained; SFT's and base's evaluations start as soon as their models exist. The training pool runs as many as
   * it has slots and queues the rest: a worker with one slot runs them in turn. Base does not depend on a seed:
   * evaluated once (with the campaign seed; core/stats takes each variant's own seed list). Results are kept in
   * the config's variant order (then seed order), whatever order the runs finish in, so the table, its
   * bootstrap (aligned on the first evaluation's items) and the manifest do not depend on timing.
   */
  async function trainAndEvaluate(): Promise<void> {
    const evaluating = cfg.evaluation.enabled;
    const seeds: (number | undefined)[] = cfg.training.seeds ?? [undefined];
    const label = (v: VariantName, s: number | undefined) => (s === undefined ? v : `${v}@${s}`);
    // variant order, then seed order; an unseeded run (the early SFT under training.seeds) before its seeded ones
    const rank = (v: VariantName, s: number | undefined) => variants.indexOf(v) * (seeds.length + 1) + (s === undefined ? 0 : seeds.indexOf(s) + 1);
    const ranked = <T>(xs: { rank: number; value: T }[]) => [...xs].sort((a, b) => a.rank - b.rank).map((x) => x.value);
    const doneTrains: { rank: number; value: TrainOutcome }[] = [];
    const doneEvals: { rank: number; value: EvalOutcome }[] = [];
    const trainedLabels: { rank: number; value: string }[] = trains.map((t) => ({ rank: rank(t.variant, t.seed), value: label(t.variant, t.seed) }));
    const evaluatedLabels: { rank: number; value: string }[] = [];
    progress.training.running = [];
    progress.evaluation.running = [];
    // The early SFT (served curation target) is this campaign's SFT only without training.seeds: with seeds every seed trains its own.
    const earlySft = cfg.training.seeds ? undefined : adapters.sft;
    const needSft = variants.some((v) => v !== 'base');
    const preference = variants.filter((v) => v !== 'base' && v !== 'sft' && VARIANT_SPECS[v]);
    const setOf = (v: VariantName) => merge.sets.find((x) => x.variant === v && x.pairs > 0);
    for (const v of preference) if (!setOf(v)) trains.push({ variant: v, skipped: 'no preference pairs (all items quarantined?)' });
    let trainingsLeft = cfg.training.enabled ? seeds.length * ((needSft && !earlySft ? 1 : 0) + preference.filter((v) => setOf(v)).length) : 0;
    if (cfg.training.enabled && trainingsLeft > 0) enter('train');
    else if (evaluating) enter('evaluate');

    const trainRun = async (variant: VariantName, mode: 'sft' | 'dpo', datasetKey: string, s: number | undefined, from: { initAdapterKey?: string; baseModelKey?: string }) => {
      const run = label(variant, s);
      const entry: TrainingRunProgress = { run, variant, seed: s ?? cfg.seed };
      progress.training.variant = run;
      progress.training.running!.push(entry);
      upsertSearchAttributes([{ key: VariantKey, value: variant }]);
      details();
      const t = await trainingActs(prefix, cfg.training.heartbeatTimeoutSeconds, `train ${run}`, 2).trainVariant({
        campaignId: input.campaignId,
        variant,
        mode,
        datasetKey,
        training: cfg.training,
        seed: s ?? cfg.seed,
        // one base model for every seed: the seed varies the training, not the model it starts from
        ...(s !== undefined ? { baseModelSeed: cfg.seed } : {}),
        ...from,
      });
      const outcome: TrainOutcome = s === undefined ? t : { ...t, seed: s };
      progress.training.running = progress.training.running!.filter((r) => r !== entry);
      doneTrains.push({ rank: rank(variant, s), value: outcome });
      trainedLabels.push({ rank: rank(variant, s), value: run });
      progress.training.done = ranked(trainedLabels);
      if (t.adapterKey) progress.artifacts[`adapter:${run}`] = t.adapterKey;
      if (--trainingsLeft === 0 && evaluating) enter('evaluate');
      details();
      return outcome;
    };

    const evaluate = async (variant: VariantName, s: number | undefined, model: Pick<EvaluateVariantInput, 'adapterKeys' | 'baseModelKey'>) => {
      const run = label(variant, s);
      progress.evaluation.running!.push(run);
      details();
      const e = await trainingActs(prefix, cfg.training.heartbeatTimeoutSeconds, `evaluate ${run}`).evaluateVariant({
        campaignId: input.campaignId,
        variant,
        ...model,
        manifestKey: ingest.manifestKey,
        split: cfg.dataset.testSplit,
        evaluation: cfg.evaluation,
        training: cfg.training,
        seed: s ?? cfg.seed,
        ...(s !== undefined ? { baseModelSeed: cfg.seed } : {}),
      });
      progress.evaluation.running = progress.evaluation.running!.filter((r) => r !== run);
      doneEvals.push({ rank: rank(variant, s), value: s === undefined ? e : { ...e, seed: s } });
      evaluatedLabels.push({ rank: rank(variant, s), value: run });
      progress.evaluation.done = ranked(evaluatedLabels);
      details();
    };
    // SFT is the start point and the reference: merged under the variant's LoRA, or (full fine-tune) its base.
    const full = cfg.training.sft.fullFineTune;
    const modelOf = (v: VariantName, sftKey: string, ownKey?: string): Pick<EvaluateVariantInput, 'adapterKeys' | 'baseModelKey'> =>
      full ? { baseModelKey: sftKey, adapterKeys: v === 'sft' ? [] : [ownKey!] } : { adapterKeys: v === 'sft' ? [sftKey] : [sftKey, ownKey!] };

    const seedLane = async (s: number | undefined) => {
      let sft = earlySft;
      if (needSft && !sft) sft = (await trainRun('sft', 'sft', merge.sftKey, s, {})).adapterKey;
      if (!sft) return;
      const sftKey = sft;
      const runs: Promise<void>[] = [];
      for (const v of preference) {
        const set = setOf(v);
        if (!set) continue;
        runs.push(
          (async () => {
            const t = await trainRun(v, 'dpo', set.datasetKey, s, full ? { baseModelKey: sftKey } : { initAdapterKey: sftKey });
            if (evaluating && t.adapterKey) await evaluate(v, s, modelOf(v, sftKey, t.adapterKey));
          })(),
        );
      }
      // After the trainings (commands go out in call order): free slots go to the long jobs first.
      if (evaluating && variants.includes('sft')) runs.push(evaluate('sft', s, modelOf('sft', sftKey)));
      await Promise.all(runs);
    };

    const jobs: Promise<void>[] = [];
    if (evaluating && variants.includes('base')) jobs.push(evaluate('base', undefined, { adapterKeys: [] }));
    if (cfg.training.enabled) for (const s of seeds) jobs.push(seedLane(s));
    await Promise.all(jobs);
    trains.push(...ranked(doneTrains));
    evals.push(...ranked(doneEvals));
  }

  // 5–6. train and evaluate.
  const evals: EvalOutcome[] = [];
  await trainAndEvaluate();

  // 7. results table, HTML report and the campaign manifest.
  enter('report');
  const report = await acts.writeCampaignReport({
    campaignId: input.campaignId,
    config: cfg,
    configHash: input.configHash,
    rerunOf: input.rerunOf,
    workflowId: workflowInfo().workflowId,
    ingest,
    shards: shardResults,
    merge,
    trains,
    evals,
  });
  progress.artifacts.report = report.reportKeys.html;
  progress.artifacts.manifest = report.manifestKey;
  enter('done');
  log.info('campaign done', { campaignId: input.campaignId, manifestKey: report.manifestKey });
  return { campaignId: input.campaignId, manifestKey: report.manifestKey, reportKeys: report.reportKeys, table: report.table, quarantined: merge.quarantined, progress };
}
