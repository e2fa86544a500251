// The text curation branch (D_t) for one item, called by the campaign as a child workflow:
// sample the target N times → the judge picks the most hallucinated candidate (or says none
// conflicts clearly and writes a hallucination from the ground truth) → store the pair → the
// multi-Med-LLM debate scores y_l's clinical relevance (s_t) → store the transcript. An item whose
// endpoint refuses or whose replies stay invalid is returned quarantined (a data fault); an
// endpoint or S3 that stays unreachable past the outage budget fails the workflow instead (an
// infrastructure fault never costs an item: core/faults.ts).
import { ActivityFailure, ApplicationFailure, defineQuery, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import { DEFAULT_OUTAGE_BUDGET_HOURS, faultPolicy, isDataFault } from '../core/faults';
import type * as activities from '../activities';
import type { CampaignConfig } from '../core/config';
import { modelQueue } from '../core/queues';
import { DebateView, runDebate } from './debate';
import { modelActivities } from './model-options';

/**
 * One item of the text branch: ids, S3 keys and settings only. The question and the ground truth are
 * under `textKey`; every model call reads them there (keys only in history, whatever the text's size).
 */
export interface TextItemInput {
  campaignSeed: number;
  itemId: string;
  /** S3 key of the item's ItemText (core/contracts.ts). */
  textKey: string;
  /** S3 key of the image. */
  imageKey?: string;
  kind: 'vqa' | 'report';
  config: { models: CampaignConfig['models']; curation: CampaignConfig['curation']; debate: CampaignConfig['debate'] };
  /** Also run a single-agent debate (agent 0, one turn) for the Single-LLM ablation. */
  alsoSingleAgent?: boolean;
  /** Prefix for the per-role model queues (tests use unique queues); default none. */
  queuePrefix?: string;
  /** How long unreachable endpoints and S3 are retried (faults.outageBudgetHours); absent: the default. */
  outageBudgetHours?: number;
}

export interface TextItemResult {
  pairKey?: string;
  score?: number;
  consensus?: boolean;
  turns?: number;
  atCap?: boolean;
  singleScore?: number;
  source?: 'sampled' | 'generated';
  transcriptKey?: string;
  singleTranscriptKey?: string;
  quarantined?: string;
}

export interface TextItemView {
  phase: 'sampling' | 'judging' | 'storing' | 'debating' | 'single-agent' | 'done' | 'quarantined';
  debate: DebateView;
  single?: DebateView;
}

export const textItemStateQuery = defineQuery<TextItemView>('textItemState');

// Small idempotent S3 puts (content-addressed): local activities on the workflow's worker, retried
// through a storage outage for the outage budget.
const storeActivities = (outageBudgetHours: number) =>
  proxyLocalActivities<typeof activities>({ startToCloseTimeout: '2m', ...faultPolicy(outageBudgetHours) });

/** A data fault quarantines the item (returned); an infrastructure failure past its budget is rethrown. */
function dataFaultOrThrow(e: unknown): ActivityFailure {
  if (e instanceof ActivityFailure && isDataFault(e)) return e;
  throw e;
}

/** Why a model activity failed for good, in one line with the endpoint's message. */
function failureReason(e: ActivityFailure, what: string): string {
  const cause = e.cause;
  const msg = cause instanceof ApplicationFailure ? `${cause.type ? `${cause.type}: ` : ''}${cause.message}` : (cause?.message ?? e.message);
  return `${what}: ${msg}`;
}

export function newTextItemView(input: Pick<TextItemInput, 'config'>): TextItemView {
  return { phase: 'sampling', debate: { mode: input.config.debate.singleAgent ? 'single' : 'multi', turns: [] } };
}

/** One item as its own workflow: one history per item, with a live state query. */
export async function textItemWorkflow(input: TextItemInput): Promise<TextItemResult> {
  const view = newTextItemView(input);
  setHandler(textItemStateQuery, () => view);
  return curateTextItem(input, view);
}

/**
 * The text branch of one item (workflow code): one activity per model call on the role's queue
 * (each debate turn its own), keys in and keys out.
 */
export async function curateTextItem(input: TextItemInput, view: TextItemView): Promise<TextItemResult> {
  const { models, curation, debate } = input.config;
  const prefix = input.queuePrefix ?? '';
  const quarantine = (reason: string): TextItemResult => {
    view.phase = 'quarantined';
    return { quarantined: reason };
  };
  const budget = input.outageBudgetHours ?? DEFAULT_OUTAGE_BUDGET_HOURS;
  const { storeTextPair, storeDebateTranscript } = storeActivities(budget);
  const target = modelActivities(models.target, `${prefix}${modelQueue('target')}`, undefined, budget);
  const judge = modelActivities(models.judge, `${prefix}${modelQueue('judge')}`, undefined, budget);
  const common = { campaignSeed: input.campaignSeed, itemId: input.itemId, kind: input.kind, textKey: input.textKey };

  // 1. N samples of the target.
  let samples;
  try {
    samples = await Promise.all(
      Array.from({ length: curation.samples }, (_, k) => target.sampleTarget({ ...common, role: models.target, ...(input.imageKey ? { imageKey: input.imageKey } : {}), sampleIndex: k })),
    );
  } catch (e) {
    return quarantine(failureReason(dataFaultOrThrow(e), `target ${models.target.model}`));
  }
  const replyKeys = samples.flatMap((s) => s.replyKeys);
  const candidateKeys = samples.filter((s) => s.ok && s.answerKey).map((s) => s.answerKey!);

  // 2. The judge: most hallucinated candidate, else a generated hallucination.
  view.phase = 'judging';
  let rejectedKey: string;
  let verdictKey: string;
  let source: 'sampled' | 'generated';
  try {
    let picked: { index: number; verdictKey: string } | undefined;
    if (candidateKeys.length) {
      const sel = await judge.judgeSelect({ ...common, role: models.judge, candidateKeys });
      replyKeys.push(...sel.replyKeys);
      if (!sel.ok) return quarantine(`judge ${models.judge.model} reply invalid after the corrective re-ask: ${sel.invalid}`);
      if (sel.index !== null && sel.index !== undefined) picked = { index: sel.index, verdictKey: sel.verdictKey! };
    }
    if (picked) {
      rejectedKey = candidateKeys[picked.index]!;
      verdictKey = picked.verdictKey;
      source = 'sampled';
    } else {
      const gen = await judge.judgeGenerate({ ...common, role: models.judge });
      replyKeys.push(...gen.replyKeys);
      if (!gen.ok) return quarantine(`judge ${models.judge.model} hallucination invalid after the corrective re-ask: ${gen.invalid}`);
      rejectedKey = gen.rejectedKey!;
      verdictKey = gen.verdictKey!;
      source = 'generated';
    }
  } catch (e) {
    return quarantine(failureReason(dataFaultOrThrow(e), `judge ${models.judge.model}`));
  }

  // 3. The D_t pair.
  view.phase = 'storing';
  const pairKey = await storeTextPair({
    itemId: input.itemId,
    kind: input.kind,
    textKey: input.textKey,
    ...(input.imageKey !== undefined ? { imageKey: input.imageKey } : {}),
    rejectedKey,
    verdictKey,
    source,
    replyKeys,
  });

  // 4. The debate on y_l (text only), then optionally the single-agent ablation.
  const debateCommon = { campaignSeed: input.campaignSeed, itemId: input.itemId, rejectedKey, textKey: input.textKey, agents: models.agents, rounds: debate.rounds, scale: debate.scale, queuePrefix: prefix, outageBudgetHours: budget };
  const transcript = async (mode: 'multi' | 'single', r: Awaited<ReturnType<typeof runDebate>>) => {
    const agents = mode === 'single' ? models.agents.slice(0, 1) : models.agents;
    return storeDebateTranscript({
      itemId: input.itemId,
      mode,
      rejectedKey,
      scale: debate.scale,
      agents: agents.map((a) => a.model),
      rounds: mode === 'single' ? 1 : debate.rounds,
      turns: r.turns,
      outcome: r.outcome,
    });
  };
  view.phase = 'debating';
  const mode = debate.singleAgent ? 'single' : 'multi';
  let main;
  try {
    main = await runDebate({ ...debateCommon, mode }, view.debate);
  } catch (e) {
    return { pairKey, source, ...quarantine(failureReason(dataFaultOrThrow(e), 'debate agent')) };
  }
  const transcriptKey = await transcript(mode, main);
  if (main.outcome.score === undefined) return { pairKey, source, transcriptKey, ...quarantine('debate: no agent gave a valid score (every reply invalid after the corrective re-ask)') };

  const result: TextItemResult = {
    pairKey,
    source,
    score: main.outcome.score,
    consensus: main.outcome.consensus,
    turns: main.outcome.turns,
    atCap: main.outcome.atCap,
    transcriptKey,
  };
  if (input.alsoSingleAgent && mode === 'multi') {
    view.phase = 'single-agent';
    view.single = { mode: 'single', turns: [] };
    try {
      const single = await runDebate({ ...debateCommon, mode: 'single' }, view.single);
      result.singleTranscriptKey = await transcript('single', single);
      if (single.outcome.score !== undefined) result.singleScore = single.outcome.score;
    } catch (e) {
      // The single-agent ablation score is optional: a data fault leaves the item its multi-agent result.
      dataFaultOrThrow(e);
    }
  } else if (input.alsoSingleAgent) {
    result.singleScore = main.outcome.score;
  }
  view.phase = 'done';
  return result;
}
