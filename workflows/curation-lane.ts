// One lane of a curation shard whose text roles are all offline engines: a contiguous run of items
// curated one after another, the text branch (sampling, judge, debate turns) and the visual branch as
// local activities of this workflow — no child workflow and no server round trip per item.
//
// Why lanes and not the shard's concurrent loop: on replay, the SDK resolves local activities in the
// order they were scheduled, while a live run sees them complete in wall-clock order. Concurrent items
// in one workflow would schedule their next calls in completion order, and a replay (a worker restart,
// an evicted cache) would hand results to the wrong calls. Inside a lane only one item runs at a time
// and its concurrent calls (the N samples, text ‖ visual) never schedule anything on their own
// completion, so the command order is the same live and on replay. Concurrency comes from running
// `curation.concurrency` lanes side by side.
import { condition, defineQuery, defineSignal, proxyActivities, proxyLocalActivities, setCurrentDetails, setHandler, type LocalActivityOptions } from '@temporalio/workflow';
import type * as campaignActs from '../activities/campaign';
import type { ItemCuration, ShardInput } from '../core/contracts';
import { curateItem } from './curate-item';
import { curateTextItem, newTextItemView, type TextItemView } from './text';

const { loadShardItems } = proxyActivities<typeof campaignActs>({ startToCloseTimeout: '5 minutes', retry: { maximumAttempts: 10 } });
const visualOptions: LocalActivityOptions = { startToCloseTimeout: '5 minutes', retry: { maximumAttempts: 5, nonRetryableErrorTypes: ['BadImage', 'BadInput'] } };
const { curateVisual } = proxyLocalActivities<typeof campaignActs>(visualOptions);

export const pauseLaneSignal = defineSignal<[boolean]>('setPaused');
export interface LaneProgress {
  done: number;
  total: number;
  quarantined: number;
  /** The item in progress and its text branch's live state. */
  current?: { itemId: string; text: TextItemView };
}
export const laneProgressQuery = defineQuery<LaneProgress>('laneProgress');

export interface LaneResult {
  items: ItemCuration[];
}

/** `input.start`/`input.end` are this lane's range inside its shard's range. */
export async function curationLaneWorkflow(input: ShardInput): Promise<LaneResult> {
  let paused = false;
  setHandler(pauseLaneSignal, (p) => {
    paused = p;
  });
  const items = await loadShardItems({ manifestKey: input.manifestKey, split: input.split, start: input.start, end: input.end });
  const progress: LaneProgress = { done: 0, total: items.length, quarantined: 0 };
  setHandler(laneProgressQuery, () => progress);
  const results: ItemCuration[] = [];
  for (const item of items) {
    if (paused) await condition(() => !paused);
    const out = await curateItem(input, item, {
      text: async (t) => {
        const view = newTextItemView(t);
        progress.current = { itemId: item.id, text: view };
        return curateTextItem(t, view);
      },
      visual: curateVisual,
    });
    progress.current = undefined;
    results.push(out);
    progress.done++;
    if (out.quarantined.length) progress.quarantined++;
    if (progress.done % 5 === 0) setCurrentDetails(`**${progress.done}/${progress.total}** items curated, ${progress.quarantined} quarantined`);
  }
  setCurrentDetails(`**${progress.done}/${progress.total}** items curated, ${progress.quarantined} quarantined`);
  return { items: results };
}
