// Ingest: scan a dataset folder, upload each image once (content hash), write the
// dataset manifest last. Bad rows and bad images are quarantined with their reason.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import sharp from 'sharp';
import { DatasetItem, DatasetProblem, formatProblem, isBlocking } from '../core/dataset';
import { DatasetError, loadDataset } from '../lib/datasets';
import { artifactStore } from '../lib/env';

export interface ScanInput {
  format: string;
  root: string;
  split?: string;
  language?: string;
}

export interface ScanResult {
  scanKey: string;
  items: number;
  problems: number;
}

interface ScanFile {
  format: string;
  splits: string[];
  items: DatasetItem[];
  problems: DatasetProblem[];
}

export interface ManifestItem {
  id: string;
  split: string;
  kind: DatasetItem['kind'];
  question?: string;
  answer: string;
  answerType?: DatasetItem['answerType'];
  imageKeys: string[];
  sourceIds: DatasetItem['sourceIds'];
}

export interface QuarantinedItem {
  itemId?: string;
  file: string;
  row: number | null;
  stage: string;
  reason: string;
}

export interface DatasetManifest {
  version: 1;
  format: string;
  splits: string[];
  items: ManifestItem[];
  quarantined: QuarantinedItem[];
  stats: { items: number; images: number; quarantined: number };
}

/** Reads the folder without decoding images (chunks decode them, durably and in parallel). */
export async function scanDataset(input: ScanInput): Promise<ScanResult> {
  let d;
  try {
    d = await loadDataset({ ...input, decodeImages: false });
  } catch (e) {
    if (e instanceof DatasetError) throw ApplicationFailure.nonRetryable(e.message, 'DatasetError');
    throw e;
  }
  const scan: ScanFile = { format: d.format, splits: d.splits, items: d.items, problems: d.problems };
  const put = await artifactStore().putJson('scans', scan);
  return { scanKey: put.key, items: d.items.length, problems: d.problems.length };
}

export interface ChunkInput {
  scanKey: string;
  root: string;
  start: number;
  end: number;
}

export interface ChunkResult {
  chunkKey: string;
  ok: number;
  quarantined: number;
}

const EXT_TYPES: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg' };

/** Decodes and uploads the images of items [start, end); heartbeats per image. */
export async function ingestChunk(input: ChunkInput): Promise<ChunkResult> {
  const store = artifactStore();
  const scan = await store.getJson<ScanFile>(input.scanKey);
  const items = scan.items.slice(input.start, input.end);
  const imageKeys = new Map<string, string | { error: string }>();
  const out: { items: { id: string; imageKeys: string[] }[]; quarantined: QuarantinedItem[] } = { items: [], quarantined: [] };
  let n = 0;
  for (const it of items) {
    const keys: string[] = [];
    let failure: string | undefined;
    for (const img of it.images) {
      let r = imageKeys.get(img);
      if (!r) {
        try {
          const bytes = await fs.readFile(path.join(input.root, img));
          await sharp(bytes, { failOn: 'truncated' }).raw().toBuffer();
          const ext = path.extname(img).toLowerCase();
          r = (await store.putBytes('images', bytes, { ext, contentType: EXT_TYPES[ext] })).key;
        } catch (e) {
          const err = e as NodeJS.ErrnoException;
          r = { error: err.code === 'ENOENT' ? `image file not found: ${img}` : `cannot decode ${img}: ${err.message.split('\n')[0]}` };
        }
        imageKeys.set(img, r);
      }
      if (typeof r === 'string') keys.push(r);
      else failure ??= r.error;
    }
    if (failure) out.quarantined.push({ itemId: it.id, file: it.file, row: it.row, stage: 'ingest', reason: failure });
    else out.items.push({ id: it.id, imageKeys: keys });
    Context.current().heartbeat(++n);
  }
  const put = await store.putJson('ingest-chunks', out);
  return { chunkKey: put.key, ok: out.items.length, quarantined: out.quarantined.length };
}

export interface ManifestInput {
  scanKey: string;
  chunkKeys: string[];
}

export interface ManifestResult {
  manifestKey: string;
  items: number;
  images: number;
  quarantined: number;
}

/** Merges the chunk results into the dataset manifest; written last, content-addressed. */
export async function writeManifest(input: ManifestInput): Promise<ManifestResult> {
  const store = artifactStore();
  const scan = await store.getJson<ScanFile>(input.scanKey);
  const uploaded = new Map<string, string[]>();
  const quarantined: QuarantinedItem[] = [];
  for (const key of input.chunkKeys) {
    const c = await store.getJson<{ items: { id: string; imageKeys: string[] }[]; quarantined: QuarantinedItem[] }>(key);
    for (const it of c.items) uploaded.set(it.id, it.imageKeys);
    quarantined.push(...c.quarantined);
  }
  // Row-level problems from the scan: malformed rows have no item; others block their item.
  const blocked = new Map<string, string>();
  const seen = new Set<string>();
  for (const p of scan.problems) {
    if (p.kind === 'missing-image' || p.kind === 'unreadable-image') continue; // chunk decided
    if (!p.itemId) quarantined.push({ file: p.file, row: p.row, stage: 'ingest', reason: formatProblem(p) });
    else if (isBlocking(p.kind)) blocked.set(p.itemId, formatProblem(p));
  }
  const items: ManifestItem[] = [];
  const images = new Set<string>();
  for (const it of scan.items) {
    if (seen.has(it.id)) continue; // duplicate id: first kept (reported by validate)
    seen.add(it.id);
    const keys = uploaded.get(it.id);
    const reason = blocked.get(it.id);
    if (reason) {
      quarantined.push({ itemId: it.id, file: it.file, row: it.row, stage: 'ingest', reason });
      continue;
    }
    if (!keys) continue; // quarantined by its chunk
    keys.forEach((k) => images.add(k));
    items.push({ id: it.id, split: it.split, kind: it.kind, question: it.question, answer: it.answer, answerType: it.answerType, imageKeys: keys, sourceIds: it.sourceIds });
  }
  quarantined.sort((a, b) => a.file.localeCompare(b.file) || (a.row ?? 0) - (b.row ?? 0));
  const manifest: DatasetManifest = {
    version: 1,
    format: scan.format,
    splits: scan.splits,
    items,
    quarantined,
    stats: { items: items.length, images: images.size, quarantined: quarantined.length },
  };
  const put = await store.putJson('manifests', manifest);
  return { manifestKey: put.key, items: items.length, images: images.size, quarantined: quarantined.length };
}
