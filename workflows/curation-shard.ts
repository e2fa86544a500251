// One curation shard: a contiguous range of the train split. Per item, the text branch (a child
// workflow: sampling, judge, debate — one activity per model call) runs beside the visual branch
// (heatmap + lesion noise activity), `curation.concurrency` items at a time. Only ids and S3 keys
// travel: the items' words are read by the activities. A failing item is quarantined with its
// reason; the shard always completes. The shard's outcome is written to S3 and only its key goes
// back to the campaign.
import { condition, defineQuery, defineSignal, executeChild, ParentClosePolicy, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type * as campaignActs from '../activities/campaign';
import type { ItemCuration, ShardInput, ShardResult } from '../core/contracts';
import { faultPolicy } from '../core/faults';
import { queueOf } from '../core/queues';
import { CampaignIdKey, StageKey } from '../core/search-attributes';
import { countItem, curateItem, outageBudgetOf, showCounts, visualActivityOptions } from './curate-item';
import { textItemWorkflow } from './text';

export const pauseShardSignal = defineSignal<[boolean]>('setPaused');
export interface ShardProgress {
  done: number;
  total: number;
  quarantined: number;
}
export const shardProgressQuery = defineQuery<ShardProgress>('shardProgress');

export async function curationShardWorkflow(input: ShardInput): Promise<ShardResult> {
  let paused = false;
  setHandler(pauseShardSignal, (p) => {
    paused = p;
  });
  const { loadShardItems, writeShardResult } = proxyActivities<typeof campaignActs>({ startToCloseTimeout: '5 minutes', ...faultPolicy(outageBudgetOf(input.config)) });
  const { curateVisual } = proxyActivities<typeof campaignActs>(visualActivityOptions(input.config));
  const items = await loadShardItems({ manifestKey: input.manifestKey, split: input.split, start: input.start, end: input.end });
  const results: ItemCuration[] = new Array(items.length);
  const progress: ShardProgress = { done: 0, total: items.length, quarantined: 0 };
  setHandler(shardProgressQuery, () => progress);
  const cfg = input.config;
  // One Web UI filter (CampaignId = …) shows the campaign's every workflow, items included.
  const searchAttributes = [
    { key: CampaignIdKey, value: input.campaignId },
    { key: StageKey, value: 'curation' },
  ];

  const curateOne = async (idx: number): Promise<void> => {
    const item = items[idx]!;
    const out = await curateItem(input, item, {
      text: (t) =>
        executeChild(textItemWorkflow, {
          workflowId: `${workflowInfo().workflowId}/text/${item.id}`,
          taskQueue: queueOf(cfg.temporal.queuePrefix, 'curation'),
          parentClosePolicy: ParentClosePolicy.TERMINATE,
          staticSummary: `text branch ${item.id}`,
          typedSearchAttributes: searchAttributes,
          args: [t],
        }),
      visual: curateVisual,
    });
    results[idx] = out;
    countItem(progress, out);
  };

  let next = 0;
  const worker = async () => {
    for (;;) {
      await condition(() => !paused);
      // Claim the index only after the pause gate: loops that waited together must not
      // all take the same "last" item (or run past the end).
      if (next >= items.length) return;
      const i = next++;
      await curateOne(i);
      if (progress.done % 10 === 0) showCounts(progress);
    }
  };
  await Promise.all(Array.from({ length: Math.min(cfg.curation.concurrency, items.length) }, worker));
  showCounts(progress);
  return writeShardResult({ campaignId: input.campaignId, shardStart: input.start, items: results });
}
