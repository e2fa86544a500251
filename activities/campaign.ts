// Campaign-level activities: dataset preparation, shard planning, shard results,
// the merge of D_t ∪ D_v into per-variant preference sets, and the report + manifest.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type { CampaignConfig, VariantName } from '../core/config';
import type { EvalOutcome, ItemCuration, MergeResult, PreferenceSetInfo, QuarantineRecord, ShardItem, ShardResult, TrainOutcome } from '../core/contracts';
import { buildVariantSet, CuratedPair, promptOf, toJsonl, toLlavaJson } from '../core/preference';
import { artifactStore } from '../lib/env';
import { ensurePhantomDataset } from '../lib/phantom-dataset';
import type { DatasetManifest, ManifestItem } from './ingest';
import type { IngestResult } from '../workflows/ingest';

const PROJECT_ROOT = path.resolve(__dirname, '..');

// ---------------------------------------------------------------- prepare
export interface PrepareInput {
  campaignId: string;
  dataset: CampaignConfig['dataset'];
  seed: number;
}

/** Real datasets are used where they are; the phantom set is generated once per (seed, size, studies, test fraction, text prior). */
export async function prepareDataset(input: PrepareInput): Promise<{ format: string; root: string }> {
  const d = input.dataset;
  const root = path.resolve(PROJECT_ROOT, d.root);
  if (d.format !== 'phantom') {
    if (!fs.existsSync(root)) throw ApplicationFailure.nonRetryable(`dataset root ${root} does not exist`, 'BadInput');
    return { format: d.format, root };
  }
  // A campaign started before textPrior existed carries no such field: no prior, the set as it was.
  const textPrior = d.phantom.textPrior;
  await ensurePhantomDataset({ out: root, studies: d.phantom.studies, size: d.phantom.size, seed: input.seed, testFraction: d.phantom.testFraction, ...(textPrior !== undefined ? { textPrior: { strength: textPrior } } : {}) });
  return { format: 'phantom', root };
}

// ---------------------------------------------------------------- plan / shards
function splitItems(m: DatasetManifest, split: string, limit: number): ManifestItem[] {
  const items = m.items.filter((i) => i.split === split);
  return limit > 0 ? items.slice(0, limit) : items;
}

const manifestCache = new Map<string, DatasetManifest>();
async function manifest(key: string): Promise<DatasetManifest> {
  let m = manifestCache.get(key);
  if (!m) {
    m = await artifactStore().getJson<DatasetManifest>(key);
    manifestCache.set(key, m); // content-addressed: a key never changes meaning
    if (manifestCache.size > 8) manifestCache.delete(manifestCache.keys().next().value!);
  }
  return m;
}

export async function planCuration(input: { manifestKey: string; split: string; limit: number; shardSize: number }): Promise<{ items: number; shards: [number, number][] }> {
  const items = splitItems(await manifest(input.manifestKey), input.split, input.limit);
  if (!items.length) throw ApplicationFailure.nonRetryable(`no items in split "${input.split}" of the dataset`, 'BadInput');
  const shards: [number, number][] = [];
  for (let s = 0; s < items.length; s += input.shardSize) shards.push([s, Math.min(items.length, s + input.shardSize)]);
  return { items: items.length, shards };
}

/** The shard's items as ids and keys (the words stay in S3 under each `textKey`). */
export async function loadShardItems(input: { manifestKey: string; split: string; start: number; end: number }): Promise<ShardItem[]> {
  const items = splitItems(await manifest(input.manifestKey), input.split, 0).slice(input.start, input.end);
  return items.map((i) => ({ id: i.id, kind: i.kind, textKey: i.textKey, imageKeys: i.imageKeys }));
}

export async function writeShardResult(input: { campaignId: string; shardStart: number; items: ItemCuration[] }): Promise<ShardResult> {
  // The campaign id stays out of the content so a rerun lands on the same key.
  const put = await artifactStore().putJson('shards', { shardStart: input.shardStart, items: input.items });
  const items = input.items;
  return {
    shardKey: put.key,
    items: items.length,
    textPairs: items.filter((i) => i.text).length,
    visualPairs: items.filter((i) => i.visual).length,
    quarantined: items.filter((i) => i.quarantined.length).length,
    debatesAtCap: items.filter((i) => i.text?.atCap).length,
    consensus: items.filter((i) => i.text?.consensus).length,
    turns: items.reduce((a, i) => a + (i.text?.turns ?? 0), 0),
  };
}

// ---------------------------------------------------------------- visual branch adapter
export { curateVisual } from './visual-adapter';

// ---------------------------------------------------------------- merge
export interface MergeInput {
  campaignId: string;
  manifestKey: string;
  trainSplit: string;
  limit: number;
  shardKeys: string[];
  variants: VariantName[];
  normalization: CampaignConfig['normalization'];
  debateScale: { min: number; max: number };
}

interface TextPairRecord {
  item?: string;
  itemId?: string;
  y_w: string;
  y_l: string;
}
interface VisualPairRecord {
  imageKey: string;
  noisedImageKey: string;
}

export async function buildPreferenceSets(input: MergeInput): Promise<MergeResult> {
  const store = artifactStore();
  const m = await manifest(input.manifestKey);
  const byId = new Map(m.items.map((i) => [i.id, i]));
  const text: CuratedPair[] = [];
  const visual: CuratedPair[] = [];
  const visualGlobal: CuratedPair[] = [];
  const quarantined: QuarantineRecord[] = m.quarantined.map((q) => ({ itemId: q.itemId ?? `${q.file}#${q.row}`, stage: q.stage, reason: q.reason }));
  for (const key of input.shardKeys) {
    const shard = await store.getJson<{ items: ItemCuration[] }>(key);
    for (const c of shard.items) {
      quarantined.push(...c.quarantined);
      const item = byId.get(c.itemId);
      if (!item) continue;
      if (c.text) {
        const r = await store.getJson<TextPairRecord>(c.text.pairKey);
        text.push({ id: c.itemId, branch: 'text', image: item.imageKeys[0]!, prompt: promptOf(item), chosen: r.y_w, rejected: r.y_l, score: c.text.score, singleScore: c.text.singleScore });
      }
      for (const [v, list] of [
        [c.visual, visual],
        [c.visualGlobal, visualGlobal],
      ] as const) {
        if (!v) continue;
        const r = await store.getJson<VisualPairRecord>(v.pairKey);
        list.push({ id: c.itemId, branch: 'visual', image: r.imageKey, rejectedImage: r.noisedImageKey, prompt: promptOf(item), chosen: item.answer, rejected: item.answer, score: v.confidence });
      }
    }
  }
  const sets: PreferenceSetInfo[] = [];
  for (const v of input.variants) {
    if (v === 'base' || v === 'sft') continue;
    const set = buildVariantSet(v, text, visual, visualGlobal, input.normalization, input.debateScale);
    const datasetKey = (await store.putBytes('preference-sets', Buffer.from(toJsonl(set.pairs)), { ext: '.jsonl', contentType: 'application/x-ndjson' })).key;
    const llavaKey = (await store.putJson('preference-sets-llava', toLlavaJson(set.pairs))).key;
    sets.push({ variant: v, datasetKey, llavaKey, pairs: set.pairs.length, stats: set.stats });
  }
  const quarantinedIds = new Set(quarantined.filter((q) => q.stage === 'ingest').map((q) => q.itemId));
  const { sftKey, sftItems } = await putSftSet(m, input.trainSplit, input.limit, quarantinedIds);
  const quarantineKey = (await store.putJson('quarantine', quarantined)).key;
  return { sets, sftKey, sftItems, quarantineKey, quarantined: quarantined.length };
}

/** The SFT set: every usable train item with its ground truth (content-addressed: same items → same key). */
async function putSftSet(m: DatasetManifest, trainSplit: string, limit: number, skip: ReadonlySet<string>): Promise<{ sftKey: string; sftItems: number }> {
  const rows = splitItems(m, trainSplit, limit)
    .filter((i) => !skip.has(i.id))
    .map((i) => ({ id: i.id, image: i.imageKeys[0], prompt: promptOf(i), response: i.answer }));
  const sftKey = (await artifactStore().putBytes('sft-sets', Buffer.from(toJsonl(rows)), { ext: '.jsonl', contentType: 'application/x-ndjson' })).key;
  return { sftKey, sftItems: rows.length };
}

/** The SFT set before curation (the served-target path); the merge writes the same bytes, so the same key. */
export async function buildSftSet(input: { manifestKey: string; trainSplit: string; limit: number }): Promise<{ sftKey: string; sftItems: number }> {
  const m = await manifest(input.manifestKey);
  return putSftSet(m, input.trainSplit, input.limit, new Set(m.quarantined.filter((q) => q.stage === 'ingest' && q.itemId).map((q) => q.itemId!)));
}

// ---------------------------------------------------------------- train / evaluate (training queue)
export { trainVariant, evaluateVariant } from './campaign-training';

// ---------------------------------------------------------------- report + manifest
export interface ReportInput {
  campaignId: string;
  config: CampaignConfig;
  configHash: string;
  rerunOf?: string;
  workflowId: string;
  ingest: IngestResult;
  shards: ShardResult[];
  merge: MergeResult;
  trains: TrainOutcome[];
  evals: EvalOutcome[];
}

export { writeCampaignReport } from './campaign-report';
