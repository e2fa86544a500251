// Dataset loaders: VQA-RAD (MEVF layout), SLAKE 1.0, R2Gen layout (IU-Xray, MIMIC-CXR),
// and the built-in phantom set (written in the VQA-RAD + R2Gen layouts). Every row
// problem is reported with its file and row; nothing throws for bad rows.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAnswerType, scalarText, splitOverlap, type DatasetItem, type DatasetProblem, type ImageReport, type LoadedDataset, type ProblemKind } from '../../core/dataset';
import { BadImageError, decodeCanonical } from '../canonical-image';
import { resolveInside, UnsafePathError } from './paths';

export { resolveInside, UnsafePathError } from './paths';

export const FORMATS = ['vqa-rad', 'slake', 'r2gen', 'phantom'] as const;
export type LoaderFormat = (typeof FORMATS)[number];

export interface LoadOptions {
  format: string;
  root: string;
  /** Only this split (train/test/val…); default every split present. */
  split?: string;
  /** SLAKE q_lang filter; default 'en' (as the paper). '' keeps all. */
  language?: string;
  /** Decode every image by the canonical rule (catches truncated files, lists transforms, identifies
   * images by content for the split-overlap check); default true. */
  decodeImages?: boolean;
}

export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

interface Ctx {
  root: string;
  items: DatasetItem[];
  problems: DatasetProblem[];
}

function problem(ctx: Ctx, kind: ProblemKind, file: string, row: number | null, message: string, extra: Partial<DatasetProblem> = {}): void {
  ctx.problems.push({ kind, file, row, message, ...extra });
}

/** Reads a JSON array file; a parse error is one file-level problem, not a crash. */
function readRows(ctx: Ctx, file: string): unknown[] | null {
  let text: string;
  try {
    text = fs.readFileSync(resolveInside(ctx.root, file), 'utf8');
  } catch (e) {
    if (e instanceof UnsafePathError) {
      problem(ctx, 'unsafe-path', file, null, e.message);
      return null;
    }
    problem(ctx, 'unreadable-file', file, null, (e as Error).message);
    return null;
  }
  try {
    const v = JSON.parse(text) as unknown;
    return v as unknown[];
  } catch (e) {
    problem(ctx, 'unreadable-file', file, null, `not valid JSON: ${(e as Error).message}`);
    return null;
  }
}

const str = scalarText;
const answerTypeOf = parseAnswerType; // the full VQA-RAD has "CLOSED " rows

/**
 * `dir/name` relative to the root, or null (and an `unsafe-path` problem naming the row and the path
 * as written) when it leaves the root: the row's item is then never created, so nothing reads the file.
 */
function imagePath(ctx: Ctx, dir: string, name: string, file: string, row: number, itemId: string): string | null {
  try {
    if (path.isAbsolute(name) || path.win32.isAbsolute(name)) throw new UnsafePathError(name, 'absolute path');
    const rel = path.posix.join(dir, name);
    resolveInside(ctx.root, rel);
    return rel;
  } catch (e) {
    if (!(e instanceof UnsafePathError)) throw e;
    problem(ctx, 'unsafe-path', file, row, `${e.message}; the row is not used`, { itemId, image: name });
    return null;
  }
}

function pushItem(ctx: Ctx, item: DatasetItem): void {
  if (!item.answer.trim()) {
    problem(ctx, 'empty-answer', item.file, item.row, 'the ground-truth answer/report is empty', { itemId: item.id });
  }
  if (item.kind === 'vqa' && !item.question?.trim()) {
    problem(ctx, 'empty-question', item.file, item.row, 'the question is empty', { itemId: item.id });
  }
  ctx.items.push(item);
}

function loadVqaRad(ctx: Ctx, format: string, split?: string): string[] {
  const files: Record<string, string> = { train: 'trainset.json', test: 'testset.json' };
  const splits = Object.keys(files).filter((s) => (!split || s === split) && fs.existsSync(path.join(ctx.root, files[s]!)));
  if (split && !files[split]) throw new DatasetError(`${format} has splits train and test, not "${split}"`);
  if (!splits.length) throw new DatasetError(`no ${split ? files[split] : 'trainset.json or testset.json'} in ${ctx.root}: is this a VQA-RAD (MEVF layout) folder?`);
  for (const s of splits) {
    const rows = readRows(ctx, files[s]!);
    if (!rows) continue;
    if (!Array.isArray(rows)) {
      problem(ctx, 'unreadable-file', files[s]!, null, 'expected a JSON array of rows');
      continue;
    }
    rows.forEach((r, i) => {
      const row = i + 1;
      const o = r as Record<string, unknown>;
      const qid = str(o?.qid);
      const image = str(o?.image_name);
      const type = answerTypeOf(o?.answer_type);
      if (!o || typeof o !== 'object' || qid === undefined || !image || o.answer === undefined || !type) {
        const missing = ['qid', 'image_name', 'answer', 'answer_type'].filter((k) => !o || o[k] === undefined || o[k] === null);
        problem(ctx, 'malformed-row', files[s]!, row, missing.length ? `missing ${missing.join(', ')}` : `answer_type must be OPEN or CLOSED, got ${JSON.stringify(o?.answer_type)}`);
        return;
      }
      const id = `${format}:${s}:${qid}`;
      const rel = imagePath(ctx, 'images', image, files[s]!, row, id);
      if (rel === null) return;
      pushItem(ctx, {
        id,
        format,
        split: s,
        kind: 'vqa',
        images: [rel],
        question: str(o.question) ?? '',
        answer: str(o.answer) ?? '',
        answerType: type,
        sourceIds: { qid: o.qid as string | number, image_name: image },
        row,
        file: files[s]!,
      });
    });
  }
  return splits;
}

function loadSlake(ctx: Ctx, split?: string, language = 'en'): string[] {
  const files: Record<string, string> = { train: 'train.json', validate: 'validate.json', test: 'test.json' };
  const want = split === 'val' ? 'validate' : split;
  if (want && !files[want]) throw new DatasetError(`slake has splits train, validate and test, not "${split}"`);
  const splits = Object.keys(files).filter((s) => (!want || s === want) && fs.existsSync(path.join(ctx.root, files[s]!)));
  if (!splits.length) throw new DatasetError(`no train.json/validate.json/test.json in ${ctx.root}: is this a SLAKE 1.0 folder?`);
  for (const s of splits) {
    const rows = readRows(ctx, files[s]!);
    if (!rows || !Array.isArray(rows)) continue;
    rows.forEach((r, i) => {
      const row = i + 1;
      const o = r as Record<string, unknown>;
      const qid = str(o?.qid);
      const image = str(o?.img_name);
      const type = answerTypeOf(o?.answer_type);
      if (!o || typeof o !== 'object' || qid === undefined || !image || o.answer === undefined || !type) {
        problem(ctx, 'malformed-row', files[s]!, row, 'needs qid, img_name, answer and answer_type (OPEN|CLOSED)');
        return;
      }
      if (language && str(o.q_lang) !== language) return;
      const id = `slake:${s}:${qid}`;
      const rel = imagePath(ctx, 'imgs', image, files[s]!, row, id);
      if (rel === null) return;
      pushItem(ctx, {
        id,
        format: 'slake',
        split: s,
        kind: 'vqa',
        images: [rel],
        question: str(o.question) ?? '',
        answer: str(o.answer) ?? '',
        answerType: type,
        sourceIds: { qid: o.qid as string | number, img_id: (o.img_id as number) ?? '', img_name: image },
        row,
        file: files[s]!,
      });
    });
  }
  return splits;
}

function loadR2Gen(ctx: Ctx, format: string, split?: string): string[] {
  const file = 'annotation.json';
  if (!fs.existsSync(path.join(ctx.root, file))) throw new DatasetError(`no annotation.json in ${ctx.root}: is this an R2Gen-layout folder (IU-Xray / MIMIC-CXR)?`);
  const ann = readRows(ctx, file) as unknown as Record<string, unknown> | null;
  if (!ann) return [];
  if (typeof ann !== 'object' || Array.isArray(ann)) {
    problem(ctx, 'unreadable-file', file, null, 'expected an object with train/val/test arrays');
    return [];
  }
  const splits = Object.keys(ann).filter((s) => Array.isArray(ann[s]) && (!split || s === split));
  if (split && !splits.length) throw new DatasetError(`annotation.json has no split "${split}" (has ${Object.keys(ann).join(', ')})`);
  let row = 0;
  for (const s of Object.keys(ann)) {
    const rows = ann[s];
    if (!Array.isArray(rows)) continue;
    for (const r of rows) {
      row++; // rows are numbered across the file, in file order
      if (!splits.includes(s)) continue;
      const o = r as Record<string, unknown>;
      const id = str(o?.id);
      const paths = Array.isArray(o?.image_path) ? (o.image_path as unknown[]).map(str) : [];
      if (!o || typeof o !== 'object' || id === undefined || !paths.length || paths.some((p) => !p) || o.report === undefined) {
        problem(ctx, 'malformed-row', file, row, `split ${s}: needs id, report and a non-empty image_path list`);
        continue;
      }
      const sourceIds: Record<string, string | number> = { id };
      for (const k of ['study_id', 'subject_id']) if (o[k] !== undefined) sourceIds[k] = o[k] as string | number;
      const itemId = `${format}:${s}:${id}`;
      const rels = (paths as string[]).map((p) => imagePath(ctx, 'images', p, file, row, itemId));
      if (rels.some((r) => r === null)) continue;
      pushItem(ctx, {
        id: itemId,
        format,
        split: s,
        kind: 'report',
        images: rels as string[],
        answer: str(o.report) ?? '',
        sourceIds,
        row,
        file,
      });
    }
  }
  return splits;
}

/** Existence (and, with `decode`, the canonical decode) of every image; returns the decoded images. */
async function checkImages(ctx: Ctx, decode: boolean): Promise<ImageReport[]> {
  const byImage = new Map<string, DatasetItem[]>();
  for (const it of ctx.items) for (const img of it.images) byImage.set(img, [...(byImage.get(img) ?? []), it]);
  const reports: ImageReport[] = [];
  for (const [img, items] of byImage) {
    let kind: ProblemKind | null = null;
    let message = '';
    let abs: string;
    try {
      abs = resolveInside(ctx.root, img); // re-checked: the folder may have changed since the rows were read
    } catch (e) {
      if (!(e instanceof UnsafePathError)) throw e;
      for (const it of items) problem(ctx, 'unsafe-path', it.file, it.row, e.message, { itemId: it.id, image: img });
      continue;
    }
    if (!fs.existsSync(abs)) {
      kind = 'missing-image';
      message = `image file not found: ${img}`;
    } else if (decode) {
      try {
        const bytes = fs.readFileSync(abs);
        // failOn 'truncated' (inside) rejects a JPEG/PNG cut short, which a header read would miss.
        const c = await decodeCanonical(bytes);
        reports.push({ image: img, sha256: createHash('sha256').update(bytes).digest('hex'), width: c.width, height: c.height, channels: c.channels, transforms: c.transforms });
      } catch (e) {
        kind = 'unreadable-image';
        message = e instanceof BadImageError ? `cannot decode ${img}: ${e.detail}` : `cannot read ${img}: ${(e as Error).message.split('\n')[0]}`;
      }
    }
    if (kind) for (const it of items) problem(ctx, kind, it.file, it.row, message, { itemId: it.id, image: img });
  }
  return reports.sort((a, b) => a.image.localeCompare(b.image));
}

function markDuplicates(ctx: Ctx): void {
  const seen = new Map<string, DatasetItem>();
  for (const it of ctx.items) {
    const first = seen.get(it.id);
    if (first) problem(ctx, 'duplicate-id', it.file, it.row, `id ${it.id} also at ${first.file} row ${first.row}; the first is kept`, { itemId: it.id });
    else seen.set(it.id, it);
  }
}

export async function loadDataset(o: LoadOptions): Promise<LoadedDataset> {
  if (!(FORMATS as readonly string[]).includes(o.format)) throw new DatasetError(`unknown format "${o.format}": use one of ${FORMATS.join(', ')}`);
  const root = path.resolve(o.root);
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new DatasetError(`dataset root ${o.root} is not a directory`);
  const ctx: Ctx = { root, items: [], problems: [] };
  let splits: string[];
  switch (o.format as LoaderFormat) {
    case 'vqa-rad':
      splits = loadVqaRad(ctx, 'vqa-rad', o.split);
      break;
    case 'phantom':
      // The phantom set is written in the VQA-RAD layout (questions) beside an R2Gen annotation.json (reports).
      splits = loadVqaRad(ctx, 'phantom', o.split);
      break;
    case 'slake':
      splits = loadSlake(ctx, o.split, o.language ?? 'en');
      break;
    case 'r2gen':
      splits = loadR2Gen(ctx, 'r2gen', o.split);
      break;
  }
  markDuplicates(ctx);
  const images = await checkImages(ctx, o.decodeImages ?? true);
  ctx.problems.sort((a, b) => a.file.localeCompare(b.file) || (a.row ?? 0) - (b.row ?? 0));
  const hashOf = new Map(images.map((i) => [i.image, i.sha256]));
  const overlap = splitOverlap(ctx.items, (img) => hashOf.get(img) ?? `path:${img}`);
  return { format: o.format, root, splits, items: ctx.items, problems: ctx.problems, images, overlap };
}
