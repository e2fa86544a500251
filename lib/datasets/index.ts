// Dataset loaders: VQA-RAD (MEVF layout), SLAKE 1.0, R2Gen layout (IU-Xray, MIMIC-CXR),
// and the built-in phantom set (written in the VQA-RAD + R2Gen layouts). Every row
// problem is reported with its file and row; nothing throws for bad rows.
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import type { DatasetItem, DatasetProblem, LoadedDataset, ProblemKind } from '../../core/dataset';

export const FORMATS = ['vqa-rad', 'slake', 'r2gen', 'phantom'] as const;
export type LoaderFormat = (typeof FORMATS)[number];

export interface LoadOptions {
  format: string;
  root: string;
  /** Only this split (train/test/val…); default every split present. */
  split?: string;
  /** SLAKE q_lang filter; default 'en' (as the paper). '' keeps all. */
  language?: string;
  /** Decode every image (catches truncated files); default true. */
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
  const abs = path.join(ctx.root, file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (e) {
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

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);

function answerTypeOf(v: unknown): 'open' | 'closed' | undefined {
  const s = str(v)?.trim().toUpperCase(); // the full VQA-RAD has "CLOSED " rows
  return s === 'OPEN' ? 'open' : s === 'CLOSED' ? 'closed' : undefined;
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
      pushItem(ctx, {
        id: `${format}:${s}:${qid}`,
        format,
        split: s,
        kind: 'vqa',
        images: [path.posix.join('images', image)],
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
      pushItem(ctx, {
        id: `slake:${s}:${qid}`,
        format: 'slake',
        split: s,
        kind: 'vqa',
        images: [path.posix.join('imgs', image)],
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
      pushItem(ctx, {
        id: `${format}:${s}:${id}`,
        format,
        split: s,
        kind: 'report',
        images: (paths as string[]).map((p) => path.posix.join('images', p)),
        answer: str(o.report) ?? '',
        sourceIds,
        row,
        file,
      });
    }
  }
  return splits;
}

async function checkImages(ctx: Ctx, decode: boolean): Promise<void> {
  const byImage = new Map<string, DatasetItem[]>();
  for (const it of ctx.items) for (const img of it.images) byImage.set(img, [...(byImage.get(img) ?? []), it]);
  for (const [img, items] of byImage) {
    const abs = path.join(ctx.root, img);
    let kind: ProblemKind | null = null;
    let message = '';
    if (!fs.existsSync(abs)) {
      kind = 'missing-image';
      message = `image file not found: ${img}`;
    } else if (decode) {
      try {
        // failOn 'truncated' rejects a JPEG/PNG cut short, which a header read would miss.
        await sharp(abs, { failOn: 'truncated' }).raw().toBuffer();
      } catch (e) {
        kind = 'unreadable-image';
        message = `cannot decode ${img}: ${(e as Error).message.split('\n')[0]}`;
      }
    }
    if (kind) for (const it of items) problem(ctx, kind, it.file, it.row, message, { itemId: it.id, image: img });
  }
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
  await checkImages(ctx, o.decodeImages ?? true);
  ctx.problems.sort((a, b) => a.file.localeCompare(b.file) || (a.row ?? 0) - (b.row ?? 0));
  return { format: o.format, root, splits, items: ctx.items, problems: ctx.problems };
}
