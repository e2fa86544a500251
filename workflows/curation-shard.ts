// One curation shard: a contiguous range of the train split. Per item, the text
// branch (a child workflow: sampling, judge, debate — each turn an activity) runs
// beside the visual branch (heatmap + lesion noise activity). When every text role
// is an offline engine the shard instead runs `curation.concurrency` lane workflows
// (workflows/curation-lane.ts) that curate items one after another with local
// activities: the same activity calls and keys, without a child per item. A failing item is
// quarantined with its reason; the shard always completes. The shard's outcome is
// written to S3 and only its key goes back to the campaign.
import {
  condition,
  defineQuery,
  defineSignal,
  executeChild,
  ParentClosePolicy,
  patched,
  startChild,
  type ChildWorkflowHandle,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type * as campaignActs from '../activities/campaign';
import type { ItemCuration, ShardInput, ShardResult } from '../core/contracts';
import { queueOf } from '../core/queues';
import { countItem, curateItem, outageBudgetOf, showCounts, visualActivityOptions } from './curate-item';
import { faultPolicy } from '../core/faults';
import { pauseLaneSignal, type LaneResult } from './curation-lane';
import { textRolesOffline, type TextItemResult } from './text';


/** Items in one lock-step lane at most (~20 history events per item). */
export const MAX_LANE_ITEMS = 200;

export const pauseShardSignal = defineSignal<[boolean]>('setPaused');
export interface ShardProgress {
  done: number;
  total: number;
  quarantined: number;
  /** Running lane workflows (lane mode); their `laneProgress` queries count the items not yet in `done`. */
  lanes?: string[];
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

  // Lanes when every text role is offline (histories from before lanes existed have no marker and
  // keep the per-item path). See workflows/curation-lane.ts for why lanes and not local activities here.
  if (cfg.curation.textBranch && cfg.curation.textBranchIn === 'auto' && textRolesOffline(cfg.models) && patched('curation-lanes')) {
    // Lock-step lanes (from 'lane-lockstep' on): `laneSlots` items side by side in each lane, a lane
    // at most MAX_LANE_ITEMS items (its history stays far below 10,000 events). Before: one item at a
    // time in `concurrency` lanes.
    const lockstep = patched('lane-lockstep');
    // `?? 8`: a campaign started before laneSlots existed carries a config parsed without it.
    const laneSlotsCfg = cfg.curation.laneSlots ?? 8;
    const laneCount = lockstep
      ? Math.min(items.length, Math.max(Math.ceil(cfg.curation.concurrency / laneSlotsCfg), Math.ceil(items.length / MAX_LANE_ITEMS)))
      : Math.min(cfg.curation.concurrency, items.length);
    const laneSlots = lockstep ? Math.max(1, Math.ceil(cfg.curation.concurrency / laneCount)) : undefined;
    const lanes: ChildWorkflowHandle<(i: ShardInput) => Promise<LaneResult>>[] = [];
    setHandler(pauseShardSignal, (p) => {
      paused = p;
      for (const h of lanes) void h.signal(pauseLaneSignal, p);
    });
    for (let j = 0; j < laneCount; j++) {
      // Contiguous, near-equal ranges: lane j takes items [a, b) of this shard.
      const a = Math.floor((j * items.length) / laneCount);
      const b = Math.floor(((j + 1) * items.length) / laneCount);
      lanes.push(
        await startChild('curationLaneWorkflow', {
          workflowId: `${workflowInfo().workflowId}/lane-${String(j).padStart(3, '0')}`,
          taskQueue: queueOf(cfg.temporal.queuePrefix, 'curation'),
          parentClosePolicy: ParentClosePolicy.TERMINATE,
          staticSummary: `curation lane ${j}: items ${input.start + a}–${input.start + b - 1}`,
          args: [{ ...input, start: input.start + a, end: input.start + b, ...(laneSlots ? { laneSlots } : {}) }],
        }),
      );
      if (paused) void lanes[j]!.signal(pauseLaneSignal, true);
    }
    progress.lanes = lanes.map((h) => h.workflowId);
    const laneResults = await Promise.all(
      lanes.map(async (h) => {
        const r = await h.result();
        progress.lanes = progress.lanes!.filter((id) => id !== h.workflowId);
        for (const item of r.items) countItem(progress, item);
        showCounts(progress);
        return r;
      }),
    );
    return writeShardResult({ campaignId: input.campaignId, shardStart: input.start, items: laneResults.flatMap((r) => r.items) });
  }

  const curateOne = async (idx: number): Promise<void> => {
    const item = items[idx]!;
    const out = await curateItem(input, item, {
      text: (t) =>
        executeChild('textItemWorkflow', {
          workflowId: `${workflowInfo().workflowId}/text/${item.id}`,
          taskQueue: queueOf(cfg.temporal.queuePrefix, 'curation'),
          parentClosePolicy: ParentClosePolicy.TERMINATE,
          staticSummary: `text branch ${item.id}`,
          args: [t],
        }) as Promise<TextItemResult>,
      visual: curateVisual,
    });
    results[idx] = out;
    countItem(progress, out);
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
      if (progress.done % 10 === 0) showCounts(progress);
    }
  };
  await Promise.all(Array.from({ length: Math.min(cfg.curation.concurrency, items.length) }, lane));
  showCounts(progress);
  return writeShardResult({ campaignId: input.campaignId, shardStart: input.start, items: results });
}
