// Ingest workflow: scan → chunked image upload (bounded concurrency; each chunk's
// result is one S3 key, so 20k items cost a few hundred history events) → manifest.
import { proxyActivities, upsertSearchAttributes, setHandler, defineQuery } from '@temporalio/workflow';
import type * as ingest from '../activities/ingest';
import { faultPolicy } from '../core/faults';
import { CampaignIdKey, DatasetKey, StageKey } from '../core/search-attributes';

// S3 or a worker lost mid-ingest is retried for the outage budget; rows and images the loaders
// refuse are quarantined by the activities themselves (core/faults.ts).
const ingestActivities = (outageBudgetHours: number | undefined) => {
  // (An activity proxy is a Proxy: take its functions by name, never by spreading it.)
  const { scanDataset, writeManifest } = proxyActivities<typeof ingest>({ startToCloseTimeout: '10 minutes', ...faultPolicy(outageBudgetHours) });
  const { ingestChunk } = proxyActivities<typeof ingest>({ startToCloseTimeout: '30 minutes', heartbeatTimeout: '2 minutes', ...faultPolicy(outageBudgetHours) });
  return { scanDataset, writeManifest, ingestChunk };
};

export interface IngestInput {
  format: string;
  root: string;
  split?: string;
  language?: string;
  campaignId?: string;
  chunkSize?: number;
  maxConcurrentChunks?: number;
  /** faults.outageBudgetHours of the campaign; absent: the default. */
  outageBudgetHours?: number;
  /** dataset.maxTextBytes: an item whose question + answer is longer is quarantined with its size; absent: the default. */
  maxTextBytes?: number;
}

export interface IngestResult {
  manifestKey: string;
  scanKey: string;
  items: number;
  images: number;
  quarantined: number;
}

export const ingestProgressQuery = defineQuery<{ chunksDone: number; chunks: number; quarantined: number }>('ingestProgress');

export async function ingestWorkflow(input: IngestInput): Promise<IngestResult> {
  const { scanDataset, writeManifest, ingestChunk } = ingestActivities(input.outageBudgetHours);
  upsertSearchAttributes([
    { key: StageKey, value: 'ingest' },
    { key: DatasetKey, value: input.format },
    ...(input.campaignId ? [{ key: CampaignIdKey, value: input.campaignId }] : []),
  ]);
  const progress = { chunksDone: 0, chunks: 0, quarantined: 0 };
  setHandler(ingestProgressQuery, () => progress);
  const scan = await scanDataset({ format: input.format, root: input.root, split: input.split, language: input.language });
  const size = input.chunkSize ?? 250;
  const ranges: [number, number][] = [];
  for (let s = 0; s < scan.items; s += size) ranges.push([s, Math.min(scan.items, s + size)]);
  progress.chunks = ranges.length;
  const chunkKeys: string[] = new Array(ranges.length);
  let next = 0;
  const lane = async () => {
    while (next < ranges.length) {
      const i = next++;
      const [start, end] = ranges[i]!;
      const r = await ingestChunk({ scanKey: scan.scanKey, root: input.root, start, end, ...(input.maxTextBytes !== undefined ? { maxTextBytes: input.maxTextBytes } : {}) });
      chunkKeys[i] = r.chunkKey;
      progress.chunksDone++;
      progress.quarantined += r.quarantined;
    }
  };
  await Promise.all(Array.from({ length: Math.min(input.maxConcurrentChunks ?? 4, ranges.length) }, lane));
  const m = await writeManifest({ scanKey: scan.scanKey, chunkKeys });
  return { manifestKey: m.manifestKey, scanKey: scan.scanKey, items: m.items, images: m.images, quarantined: m.quarantined };
}
