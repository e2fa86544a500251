// Ingest: scan a dataset folder, turn each image into its canonical form once (lib/canonical-image.ts)
// and upload it beside the original (content hash), write the dataset manifest last. The manifest's
// `imageKeys` are the canonical images — what the visual tool, the noise, the trainer, generation and
// the served target read; `originalImageKeys` and `images[]` keep the originals and the transform
// for provenance. Bad rows, bad images and paths leaving the dataset root are quarantined with their
// reason (an unsafe path is never read). A phantom set's ground truth (phantom.json, the question files,
// each image's lesion mask) is stored too (`DatasetManifest.phantom`), so an evaluation on any machine
// can stage the grounding testbed (`python -m trainer ground`) from S3.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { DatasetItem, DatasetProblem, formatProblem, isBlocking, splitOverlap, type SplitOverlap } from '../core/dataset';
import { BadImageError, CANONICAL_ENCODING, CANONICAL_RULE, canonicalize, type CanonicalSource } from '../lib/canonical-image';
import { DatasetError, loadDataset, resolveInside, UnsafePathError } from '../lib/datasets';
import type { ItemText } from '../core/contracts';
import { DEFAULT_MAX_TEXT_BYTES } from '../core/config';
import { artifactStore } from '../lib/env';
import { sha256Hex } from '../lib/hash';

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
  /** A phantom set's ground-truth files (stored by the scan) and each image's mask path (stored by the chunks). */
  phantom?: { files: Record<string, string>; maskOf: Record<string, string> };
}

/**
 * A phantom set's ground truth in S3 (keys only): what `python -m trainer ground` reads from a phantom root,
 * so the training worker (maybe another machine) stages the testbed from S3 instead of trusting a local folder.
 */
export interface PhantomTruth {
  /** phantom.json, trainset.json, testset.json (those present) → S3 key of the file as written. */
  files: Record<string, string>;
  /** Mask path relative to the root (masks/<study>.png, phantom.json items[].mask) → S3 key, for every kept image. */
  masks: Record<string, string>;
}

/** The phantom ground-truth files the grounding metrics read (trainer/grounding.py load_testbed). */
const PHANTOM_TRUTH_FILES = ['phantom.json', 'trainset.json', 'testset.json'] as const;

/** Stores a phantom set's ground-truth files; undefined when the root has no phantom.json (not a generated set). */
async function storePhantomTruth(root: string): Promise<ScanFile['phantom']> {
  const store = artifactStore();
  const read = async (name: string) => {
    try {
      return await fs.readFile(resolveInside(root, name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  };
  const pj = await read('phantom.json');
  if (!pj) return undefined;
  let items: { image?: unknown; mask?: unknown }[];
  try {
    items = (JSON.parse(pj.toString('utf8')) as { items?: { image?: unknown; mask?: unknown }[] }).items ?? [];
  } catch (e) {
    throw ApplicationFailure.nonRetryable(`phantom.json: not valid JSON: ${(e as Error).message}`, 'DatasetError');
  }
  const files: Record<string, string> = {};
  for (const name of PHANTOM_TRUTH_FILES) {
    const bytes = name === 'phantom.json' ? pj : await read(name);
    if (bytes) files[name] = (await store.putBytes('phantom-truth', bytes, { ext: '.json', contentType: 'application/json' })).key;
  }
  const maskOf: Record<string, string> = {};
  for (const it of items) if (typeof it.image === 'string' && typeof it.mask === 'string') maskOf[it.image] = it.mask;
  return { files, maskOf };
}

export interface ManifestItem {
  id: string;
  split: string;
  kind: DatasetItem['kind'];
  question?: string;
  answer: string;
  answerType?: DatasetItem['answerType'];
  /** S3 key of the item's ItemText {id, kind, question, answer}: what workflows pass instead of the words. */
  textKey: string;
  /** Canonical images (8-bit PNG, rule `canonical.rule`): what every consumer reads. */
  imageKeys: string[];
  /** The original files, same order, for provenance only (never decoded downstream). */
  originalImageKeys: string[];
  sourceIds: DatasetItem['sourceIds'];
}

/** One dataset image: its original and canonical objects and what the canonical rule did. */
export interface ManifestImage {
  /** Path relative to the dataset root. */
  path: string;
  original: string;
  canonical: string;
  /** [] when the canonical pixels are the samples as stored. */
  transforms: string[];
  source: CanonicalSource;
}

export interface QuarantinedItem {
  itemId?: string;
  file: string;
  row: number | null;
  stage: string;
  reason: string;
}

export interface DatasetManifest {
  version: 2;
  format: string;
  splits: string[];
  /** The decode rule of every canonical image (lib/canonical-image.ts, trainer/image_io.py). */
  canonical: { rule: string };
  items: ManifestItem[];
  /** Every image of a kept item, in path order. */
  images: ManifestImage[];
  quarantined: QuarantinedItem[];
  /** Images and questions shared between splits (images identified by their canonical key). */
  overlap: SplitOverlap;
  /** Phantom sets only: the ground truth the grounding metrics need (absent for every other format). */
  phantom?: PhantomTruth;
  stats: { items: number; images: number; quarantined: number; transformedImages: number; sharedImages: number; repeatedQuestions: number };
}

interface ChunkFile {
  items: { id: string; textKey: string; imageKeys: string[]; originalImageKeys: string[] }[];
  images: ManifestImage[];
  quarantined: QuarantinedItem[];
  /** Phantom sets: the lesion masks of this chunk's images (path relative to the root → S3 key). */
  masks?: { path: string; key: string }[];
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
  const phantom = d.format === 'phantom' ? await storePhantomTruth(d.root) : undefined;
  const scan: ScanFile = { format: d.format, splits: d.splits, items: d.items, problems: d.problems, ...(phantom ? { phantom } : {}) };
  const put = await artifactStore().putJson('scans', scan);
  return { scanKey: put.key, items: d.items.length, problems: d.problems.length };
}

export interface ChunkInput {
  scanKey: string;
  root: string;
  start: number;
  end: number;
  /** Items whose question + answer exceed this many UTF-8 bytes are quarantined with their size (default DEFAULT_MAX_TEXT_BYTES). */
  maxTextBytes?: number;
}

export interface ChunkResult {
  chunkKey: string;
  ok: number;
  quarantined: number;
}

const EXT_TYPES: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.tif': 'image/tiff', '.tiff': 'image/tiff' };

/**
 * Original + canonical objects of one image file, decoded at most once per rule: an index keyed by
 * the original's content hash (and the rule) lets later chunks, re-ingests and other datasets holding
 * the same file skip the decode and encode.
 */
async function canonicalOnce(bytes: Buffer, ext: string): Promise<Omit<ManifestImage, 'path'>> {
  const store = artifactStore();
  const h = sha256Hex(bytes);
  const indexKey = store.namedKey(`canonical-index/${CANONICAL_RULE}/${CANONICAL_ENCODING}/${h.slice(0, 2)}/${h}.json`);
  const known = await store.tryGetJson<Omit<ManifestImage, 'path'>>(indexKey);
  if (known && (await store.exists(known.canonical)) && (await store.exists(known.original))) return known;
  const { png, image } = await canonicalize(bytes);
  const original = (await store.putBytes('originals', bytes, { ext, contentType: EXT_TYPES[ext] })).key;
  const canonical = (await store.putBytes('images', png, { ext: '.png', contentType: 'image/png' })).key;
  const rec = { original, canonical, transforms: image.transforms, source: image.source };
  await store.putJsonAt(indexKey, rec);
  return rec;
}

/** File-system errors that are the dataset's fault (quarantined); any other error is retried. */
const DATA_FS_ERRORS = new Set(['EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG']);

/** "2.5 MB (2,621,440 bytes)": a size as a person reads it, with the exact count. */
function sizeText(bytes: number): string {
  const mb = bytes / (1 << 20);
  const kb = bytes / 1024;
  return `${mb >= 1 ? `${mb.toFixed(1)} MB` : `${kb.toFixed(1)} KB`} (${bytes.toLocaleString('en-US')} bytes)`;
}

/**
 * Canonicalizes and uploads the images of items [start, end) (original + canonical) and writes each
 * item's text (ItemText) as its own S3 object; heartbeats per item. An item whose text is over the
 * limit is quarantined with its size (a 2.5 MB report of concatenated priors would not fit a model's
 * context, and is almost always an export error).
 */
export async function ingestChunk(input: ChunkInput): Promise<ChunkResult> {
  const store = artifactStore();
  const maxTextBytes = input.maxTextBytes ?? DEFAULT_MAX_TEXT_BYTES;
  const scan = await store.getJson<ScanFile>(input.scanKey);
  const items = scan.items.slice(input.start, input.end);
  const done = new Map<string, ManifestImage | { error: string }>();
  const out: ChunkFile = { items: [], images: [], quarantined: [], ...(scan.phantom ? { masks: [] } : {}) };
  const masksDone = new Set<string>();
  let n = 0;
  for (const it of items) {
    const keys: string[] = [];
    const originals: string[] = [];
    let failure: string | undefined;
    const text: ItemText = { id: it.id, kind: it.kind, ...(it.question !== undefined ? { question: it.question } : {}), answer: it.answer };
    const textBytes = Buffer.byteLength(text.answer) + Buffer.byteLength(text.question ?? '');
    if (textBytes > maxTextBytes) {
      out.quarantined.push({ itemId: it.id, file: it.file, row: it.row, stage: 'ingest', reason: `text too large: ${it.kind === 'report' ? 'report' : 'question + answer'} is ${sizeText(textBytes)}, over dataset.maxTextBytes ${sizeText(maxTextBytes)}` });
      Context.current().heartbeat(++n);
      continue;
    }
    for (const img of it.images) {
      let r = done.get(img);
      if (!r) {
        try {
          // Checked again here, not only at scan time: the folder may have changed in between.
          const bytes = await fs.readFile(resolveInside(input.root, img));
          r = { path: img, ...(await canonicalOnce(bytes, path.extname(img).toLowerCase())) };
          out.images.push(r);
        } catch (e) {
          const err = e as NodeJS.ErrnoException;
          if (e instanceof UnsafePathError) r = { error: `unsafe-path — ${e.message}` };
          else if (e instanceof BadImageError) r = { error: `cannot decode ${img}: ${e.detail}` };
          else if (err.code === 'ENOENT') r = { error: `image file not found: ${img}` };
          else if (err.code && DATA_FS_ERRORS.has(err.code)) r = { error: `cannot read ${img}: ${err.code}` };
          else throw e; // storage or I/O trouble: retried, not the data's fault
        }
        done.set(img, r);
      }
      if ('canonical' in r) {
        keys.push(r.canonical);
        originals.push(r.original);
      } else failure ??= r.error;
    }
    if (failure) out.quarantined.push({ itemId: it.id, file: it.file, row: it.row, stage: 'ingest', reason: failure });
    else {
      out.items.push({ id: it.id, textKey: (await store.putJson('item-texts', text)).key, imageKeys: keys, originalImageKeys: originals });
      // A phantom image's lesion mask, as written (the grounding metrics read it; curation does not).
      for (const img of it.images) {
        const mask = scan.phantom?.maskOf[img];
        if (!mask || masksDone.has(mask)) continue;
        masksDone.add(mask);
        const key = await storeMask(input.root, mask);
        if (key) out.masks!.push({ path: mask, key });
      }
    }
    Context.current().heartbeat(++n);
  }
  const put = await store.putJson('ingest-chunks', out);
  return { chunkKey: put.key, ok: out.items.length, quarantined: out.quarantined.length };
}

/** A mask file's S3 key; undefined when it cannot be read for a reason of the data (no grounding for that study). */
async function storeMask(root: string, mask: string): Promise<string | undefined> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(resolveInside(root, mask));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (e instanceof UnsafePathError || code === 'ENOENT' || (code && DATA_FS_ERRORS.has(code))) return undefined;
    throw e;
  }
  return (await artifactStore().putBytes('masks', bytes, { ext: '.png', contentType: 'image/png' })).key;
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
  const uploaded = new Map<string, ChunkFile['items'][number]>();
  const imagesByPath = new Map<string, ManifestImage>();
  const quarantined: QuarantinedItem[] = [];
  const masks = new Map<string, string>();
  for (const key of input.chunkKeys) {
    const c = await store.getJson<ChunkFile>(key);
    for (const it of c.items) uploaded.set(it.id, it);
    for (const im of c.images) imagesByPath.set(im.path, im);
    for (const mk of c.masks ?? []) masks.set(mk.path, mk.key);
    quarantined.push(...c.quarantined);
  }
  // Row-level problems from the scan: rows without an item (malformed, unsafe paths) are quarantined
  // here; others block their item.
  const scanned = new Set(scan.items.map((i) => i.id));
  const blocked = new Map<string, string>();
  const seen = new Set<string>();
  for (const p of scan.problems) {
    if (p.kind === 'missing-image' || p.kind === 'unreadable-image') continue; // chunk decided
    if (!p.itemId || !scanned.has(p.itemId)) quarantined.push({ ...(p.itemId ? { itemId: p.itemId } : {}), file: p.file, row: p.row, stage: 'ingest', reason: formatProblem(p) });
    else if (isBlocking(p.kind)) blocked.set(p.itemId, formatProblem(p));
  }
  const items: ManifestItem[] = [];
  const used = new Set<string>();
  for (const it of scan.items) {
    if (seen.has(it.id)) continue; // duplicate id: first kept (reported by validate)
    seen.add(it.id);
    const up = uploaded.get(it.id);
    const reason = blocked.get(it.id);
    if (reason) {
      quarantined.push({ itemId: it.id, file: it.file, row: it.row, stage: 'ingest', reason });
      continue;
    }
    if (!up) continue; // quarantined by its chunk
    it.images.forEach((p) => used.add(p));
    items.push({ id: it.id, split: it.split, kind: it.kind, question: it.question, answer: it.answer, answerType: it.answerType, textKey: up.textKey, imageKeys: up.imageKeys, originalImageKeys: up.originalImageKeys, sourceIds: it.sourceIds });
  }
  quarantined.sort((a, b) => a.file.localeCompare(b.file) || (a.row ?? 0) - (b.row ?? 0));
  const images = [...used].sort().map((p) => imagesByPath.get(p)!).filter(Boolean);
  const canonical = new Set(items.flatMap((i) => i.imageKeys));
  // Identity = the canonical key (content hash of the canonical pixels); examples name the path.
  const pathOf = new Map(images.map((i) => [i.canonical, i.path]));
  const overlapRaw = splitOverlap(items.map((i) => ({ id: i.id, split: i.split, images: i.imageKeys, question: i.question })));
  const overlap: SplitOverlap = {
    sharedImages: { ...overlapRaw.sharedImages, examples: overlapRaw.sharedImages.examples.map((e) => ({ ...e, image: pathOf.get(e.image) ?? e.image })) },
    repeatedQuestions: { ...overlapRaw.repeatedQuestions, examples: overlapRaw.repeatedQuestions.examples.map((e) => ({ ...e, image: pathOf.get(e.image) ?? e.image })) },
  };
  const manifest: DatasetManifest = {
    version: 2,
    format: scan.format,
    splits: scan.splits,
    canonical: { rule: CANONICAL_RULE },
    items,
    images,
    quarantined,
    overlap,
    ...(scan.phantom
      ? {
          phantom: {
            files: scan.phantom.files,
            // the masks of the kept items' images
            masks: Object.fromEntries([...used].sort().flatMap((p) => {
              const mask = scan.phantom!.maskOf[p];
              const key = mask ? masks.get(mask) : undefined;
              return mask && key ? [[mask, key]] : [];
            })),
          },
        }
      : {}),
    stats: {
      items: items.length,
      images: canonical.size,
      quarantined: quarantined.length,
      transformedImages: images.filter((i) => i.transforms.length).length,
      sharedImages: overlap.sharedImages.count,
      repeatedQuestions: overlap.repeatedQuestions.count,
    },
  };
  const put = await store.putJson('manifests', manifest);
  return { manifestKey: put.key, items: items.length, images: canonical.size, quarantined: quarantined.length };
}
