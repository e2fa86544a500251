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
//
// Lanes started with `laneSlots` (all new ones) curate that many items side by side instead, their
// calls in lock-step batches (workflows/lockstep.ts): a batch is issued only when every item in the
// lane is waiting, in a fixed order, and its results are handed out only when all have arrived, so
// the command order again cannot depend on completion order — and the calls of a batch complete in
// shared activations, which is what makes it cheaper than one item at a time.
import { condition, defineQuery, defineSignal, proxyActivities, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type * as campaignActs from '../activities/campaign';
import type { ItemCuration, ShardInput } from '../core/contracts';
import { countItem, curateItem, outageBudgetOf, showCounts, visualActivityOptions, type VisualCall } from './curate-item';
import { faultPolicy } from '../core/faults';
import { Lockstep } from './lockstep';
import { curateTextItem, newTextItemView, type TextItemView } from './text';


export const pauseLaneSignal = defineSignal<[boolean]>('setPaused');
export interface LaneProgress {
  done: number;
  total: number;
  quarantined: number;
  /** The item in progress and its text branch's live state (the first one, with several slots). */
  current?: { itemId: string; text: TextItemView };
  /** Lock-step lanes: items in flight, batches issued and the calls in them so far. */
  inFlight?: string[];
  batches?: number;
  calls?: number;
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
  const { loadShardItems } = proxyActivities<typeof campaignActs>({ startToCloseTimeout: '5 minutes', ...faultPolicy(outageBudgetOf(input.config)) });
  const { curateVisual } = proxyLocalActivities<typeof campaignActs>(visualActivityOptions(input.config));
  const items = await loadShardItems({ manifestKey: input.manifestKey, split: input.split, start: input.start, end: input.end });
  const progress: LaneProgress = { done: 0, total: items.length, quarantined: 0 };
  setHandler(laneProgressQuery, () => progress);
  if (input.laneSlots) return { items: await lockstepLane(input, items, progress, () => paused, curateVisual) };
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
    countItem(progress, out);
    if (progress.done % 5 === 0) showCounts(progress);
  }
  showCounts(progress);
  return { items: results };
}

/**
 * `input.laneSlots` slots, each taking the lane's next item when its last one is done; every branch
 * of every item in flight calls through one lock-step gate. Gate keys: slot × 4 + branch (text,
 * visual, global-noise visual), so a batch is always ordered slot by slot.
 */
async function lockstepLane(input: ShardInput, items: Awaited<ReturnType<typeof campaignActs.loadShardItems>>, progress: LaneProgress, paused: () => boolean, curateVisual: VisualCall): Promise<ItemCuration[]> {
  const lockstep = new Lockstep();
  const results: ItemCuration[] = new Array(items.length);
  // Items in flight with their text branch's live state, oldest first: the query's `inFlight` and
  // `current` (the oldest) are read off it.
  const inFlight = new Map<string, TextItemView>();
  const showInFlight = () => {
    progress.inFlight = [...inFlight.keys()];
    const [oldest] = inFlight;
    progress.current = oldest ? { itemId: oldest[0], text: oldest[1] } : undefined;
  };
  showInFlight();
  let next = 0;
  const slot = async (s: number): Promise<void> => {
    for (;;) {
      if (paused()) await condition(() => !paused());
      if (next >= items.length) return;
      const idx = next++;
      const item = items[idx]!;
      const out = await curateItem(input, item, {
        text: (t) => {
          const view = newTextItemView(t);
          inFlight.set(item.id, view);
          showInFlight();
          return curateTextItem({ ...t, samplesInOneCall: true }, view, lockstep.gate(s * 4));
        },
        visual: (v) => lockstep.gate(s * 4 + 1).one(() => curateVisual(v)),
        visualGlobal: (v) => lockstep.gate(s * 4 + 2).one(() => curateVisual(v)),
      });
      results[idx] = out;
      inFlight.delete(item.id);
      showInFlight();
      countItem(progress, out);
      progress.batches = lockstep.stats.batches;
      progress.calls = lockstep.stats.calls;
      if (progress.done % 5 === 0) showCounts(progress);
    }
  };
  const pump = lockstep.run();
  await Promise.all(Array.from({ length: Math.min(input.laneSlots!, items.length) }, (_, s) => slot(s)));
  lockstep.close();
  await pump;
  showCounts(progress);
  return results;
}
