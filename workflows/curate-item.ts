// One item's curation (workflow code), run by the shard for each of its items:
// the text branch (a child workflow) ‖ the visual branch (and the global-noise pass when a variant needs it). A branch
// that fails with a data fault is recorded on the item as quarantined with its reason; an
// infrastructure fault still failing past the outage budget (core/faults.ts) fails the shard instead,
// so an outage never costs an item.
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, setCurrentDetails, type ActivityOptions } from '@temporalio/workflow';
import { DEFAULT_OUTAGE_BUDGET_HOURS, faultPolicy, isDataFault } from '../core/faults';
import type { ItemCuration, ShardInput, ShardItem } from '../core/contracts';
import type { TextItemInput, TextItemResult } from './text';

/** The reason a stage failed, from the innermost failure (what the user needs to read). */
export function failureReason(e: unknown): string {
  let cur: unknown = e;
  let last = e as Error;
  while (cur && typeof cur === 'object') {
    last = cur as Error;
    if (cur instanceof ChildWorkflowFailure || cur instanceof ActivityFailure) cur = (cur as Error & { cause?: unknown }).cause;
    else break;
  }
  const af = last instanceof ApplicationFailure ? last : undefined;
  return `${af?.type ? af.type + ': ' : ''}${last?.message ?? String(e)}`;
}

/** Item counts a shard keeps for its progress query and current details. */
export interface ItemCounts {
  done: number;
  total: number;
  quarantined: number;
}

/** Counts one finished item (quarantined when any branch was). */
export function countItem(counts: ItemCounts, out: ItemCuration): void {
  counts.done++;
  if (out.quarantined.length) counts.quarantined++;
}

/** The workflow's current details in the Web UI: items done and quarantined. */
export function showCounts(counts: ItemCounts): void {
  setCurrentDetails(`**${counts.done}/${counts.total}** items curated, ${counts.quarantined} quarantined`);
}

/** The campaign's outage budget (a config parsed before `faults` existed has none: the default). */
export function outageBudgetOf(cfg: ShardInput['config']): number {
  return (cfg as Partial<ShardInput['config']>).faults?.outageBudgetHours ?? DEFAULT_OUTAGE_BUDGET_HOURS;
}

/**
 * The visual tool's activity options (one activity per item). A
 * corrupt image fails the same way every time (BadImage: quarantined, no retry); S3 unreachable is
 * retried for the outage budget.
 */
export function visualActivityOptions(cfg: ShardInput['config']): Pick<ActivityOptions, 'startToCloseTimeout' | 'scheduleToCloseTimeout' | 'retry'> {
  return { startToCloseTimeout: '5 minutes', ...faultPolicy(outageBudgetOf(cfg)) };
}

export interface VisualCall {
  (input: { seed: number; itemId: string; imageKey: string; noise: ShardInput['config']['noise']; visualTool: ShardInput['config']['visualTool'] }): Promise<{ pairKey: string; confidence: number }>;
}

export function textInputOf(input: ShardInput, item: ShardItem): TextItemInput {
  const cfg = input.config;
  return {
    campaignSeed: input.seed,
    itemId: item.id,
    textKey: item.textKey,
    ...(item.imageKeys[0] ? { imageKey: item.imageKeys[0] } : {}),
    kind: item.kind,
    config: { models: cfg.models, curation: cfg.curation, debate: cfg.debate },
    alsoSingleAgent: input.needSingleAgent,
    queuePrefix: cfg.temporal.queuePrefix,
    outageBudgetHours: outageBudgetOf(cfg),
  };
}

export async function curateItem(
  input: ShardInput,
  item: ShardItem,
  branches: { text: (t: TextItemInput) => Promise<TextItemResult>; visual: VisualCall; /** The global-noise pass; default `visual`. */ visualGlobal?: VisualCall },
): Promise<ItemCuration> {
  const cfg = input.config;
  const out: ItemCuration = { itemId: item.id, quarantined: [] };
  const text = async () => {
    if (!cfg.curation.textBranch) return;
    try {
      const t = await branches.text(textInputOf(input, item));
      if (t.quarantined || !t.pairKey || t.score === undefined) out.quarantined.push({ itemId: item.id, stage: 'text', reason: t.quarantined ?? 'no pair produced' });
      else out.text = { pairKey: t.pairKey, score: t.score, consensus: !!t.consensus, turns: t.turns ?? 0, atCap: !!t.atCap, singleScore: t.singleScore, source: t.source, transcriptKey: t.transcriptKey };
    } catch (e) {
      // Only a data fault Temporal reports (an activity or child failing with one) quarantines the
      // item. An outage past its budget fails the shard; a bug in workflow code fails the workflow
      // task and waits for a fixed worker.
      if (!((e instanceof ActivityFailure || e instanceof ApplicationFailure || e instanceof ChildWorkflowFailure) && isDataFault(e))) throw e;
      out.quarantined.push({ itemId: item.id, stage: 'text', reason: failureReason(e) });
    }
  };
  const visual = async (mode: 'local' | 'global') => {
    if (!cfg.curation.visualBranch) return;
    try {
      const noise = mode === 'global' ? { ...cfg.noise, mode: 'global' as const } : cfg.noise;
      const call = mode === 'global' ? (branches.visualGlobal ?? branches.visual) : branches.visual;
      const v = await call({ seed: input.seed, itemId: item.id, imageKey: item.imageKeys[0]!, noise, visualTool: cfg.visualTool });
      if (mode === 'global') out.visualGlobal = v;
      else out.visual = v;
    } catch (e) {
      if (!isDataFault(e)) throw e;
      out.quarantined.push({ itemId: item.id, stage: mode === 'global' ? 'visual-global' : 'visual', reason: failureReason(e) });
    }
  };
  await Promise.all([text(), visual('local'), input.needGlobalNoise ? visual('global') : Promise.resolve()]);
  return out;
}
