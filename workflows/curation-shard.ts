// One curation shard: a contiguous range of the train split. Per item, the text
// branch (a child workflow: sampling, judge, debate — each turn an activity) runs
// beside the visual branch (heatmap + lesion noise activity). A failing item is
// quarantined with its reason; the shard always completes. The shard's outcome is
// written to S3 and only its key goes back to the campaign.
import {
  ApplicationFailure,
  ChildWorkflowFailure,
  ActivityFailure,
  condition,
  defineQuery,
  defineSignal,
  executeChild,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  workflowInfo,
  setCurrentDetails,
} from '@temporalio/workflow';
import type * as campaignActs from '../activities/campaign';
import type { ItemCuration, ShardInput, ShardResult } from '../core/contracts';
import { queueOf } from '../core/queues';

const { loadShardItems, writeShardResult } = proxyActivities<typeof campaignActs>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumAttempts: 10 },
});
const { curateVisual } = proxyActivities<typeof campaignActs>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumAttempts: 5, nonRetryableErrorTypes: ['BadImage', 'BadInput'] },
});

export const pauseShardSignal = defineSignal<[boolean]>('setPaused');
export const shardProgressQuery = defineQuery<{ done: number; total: number; quarantined: number }>('shardProgress');

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

export async function curationShardWorkflow(input: ShardInput): Promise<ShardResult> {
  let paused = false;
  setHandler(pauseShardSignal, (p) => {
    paused = p;
  });
  const items = await loadShardItems({ manifestKey: input.manifestKey, split: input.split, start: input.start, end: input.end });
  const results: ItemCuration[] = new Array(items.length);
  const progress = { done: 0, total: items.length, quarantined: 0 };
  setHandler(shardProgressQuery, () => progress);
  const cfg = input.config;

  const curateOne = async (idx: number): Promise<void> => {
    const item = items[idx]!;
    const out: ItemCuration = { itemId: item.id, quarantined: [] };
    const text = async () => {
      if (!cfg.curation.textBranch) return;
      try {
        const r = await executeChild('textItemWorkflow', {
          workflowId: `${workflowInfo().workflowId}/text/${item.id}`,
          taskQueue: queueOf(cfg.temporal.queuePrefix, 'curation'),
          parentClosePolicy: ParentClosePolicy.TERMINATE,
          staticSummary: `text branch ${item.id}`,
          args: [
            {
              campaignSeed: input.seed,
              itemId: item.id,
              question: item.question,
              groundTruth: item.answer,
              imageKey: item.imageKeys[0],
              kind: item.kind,
              config: { models: cfg.models, curation: cfg.curation, debate: cfg.debate },
              alsoSingleAgent: input.needSingleAgent,
              queuePrefix: cfg.temporal.queuePrefix,
            },
          ],
        });
        const t = r as { pairKey?: string; score?: number; consensus?: boolean; turns?: number; atCap?: boolean; singleScore?: number; source?: string; quarantined?: string };
        if (t.quarantined || !t.pairKey || t.score === undefined) out.quarantined.push({ itemId: item.id, stage: 'text', reason: t.quarantined ?? 'no pair produced' });
        else out.text = { pairKey: t.pairKey, score: t.score, consensus: !!t.consensus, turns: t.turns ?? 0, atCap: !!t.atCap, singleScore: t.singleScore, source: t.source };
      } catch (e) {
        out.quarantined.push({ itemId: item.id, stage: 'text', reason: failureReason(e) });
      }
    };
    const visual = async (mode: 'local' | 'global') => {
      if (!cfg.curation.visualBranch) return;
      try {
        const noise = mode === 'global' ? { ...cfg.noise, mode: 'global' as const } : cfg.noise;
        const v = await curateVisual({ seed: input.seed, itemId: item.id, imageKey: item.imageKeys[0]!, noise, visualTool: cfg.visualTool });
        if (mode === 'global') out.visualGlobal = v;
        else out.visual = v;
      } catch (e) {
        out.quarantined.push({ itemId: item.id, stage: mode === 'global' ? 'visual-global' : 'visual', reason: failureReason(e) });
      }
    };
    await Promise.all([text(), visual('local'), input.needGlobalNoise ? visual('global') : Promise.resolve()]);
    results[idx] = out;
    progress.done++;
    if (out.quarantined.length) progress.quarantined++;
  };

  let next = 0;
  const lane = async () => {
    for (;;) {
      await condition(() => !paused);
      // Claim the index only after the pause gate: lanes that waited together must not
      // all take the same "last" item (or run past the end).
      if (next >= items.length) return;
      const i = next++;
      await curateOne(i);
      if (progress.done % 10 === 0) setCurrentDetails(`**${progress.done}/${progress.total}** items curated, ${progress.quarantined} quarantined`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(cfg.curation.concurrency, items.length) }, lane));
  setCurrentDetails(`**${progress.done}/${progress.total}** items curated, ${progress.quarantined} quarantined`);
  return writeShardResult({ campaignId: input.campaignId, shardStart: input.start, items: results });
}
