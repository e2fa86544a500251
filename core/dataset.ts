// One item model for every dataset the product reads (VQA-RAD, SLAKE, IU-Xray /
// MIMIC-CXR in R2Gen layout, the built-in phantom set). Pure types and checks.

export type ItemKind = 'vqa' | 'report';
export type AnswerType = 'open' | 'closed';

export interface DatasetItem {
  /** Stable across runs and machines: `<format>:<split>:<source id>`. */
  id: string;
  format: string;
  split: string;
  kind: ItemKind;
  /** Image paths relative to the dataset root (several per study for R2Gen). */
  images: string[];
  question?: string;
  /** Ground truth: the answer (VQA) or the report (report generation). */
  answer: string;
  answerType?: AnswerType;
  /** The ids of the source dataset (qid, img_id, study id, …). */
  sourceIds: Record<string, string | number>;
  /** 1-based row in the source file, for error messages. */
  row: number;
  /** The file the row came from, relative to the root. */
  file: string;
}

export type ProblemKind =
  | 'malformed-row'
  | 'missing-image'
  | 'unreadable-image'
  | 'empty-answer'
  | 'empty-question'
  | 'duplicate-id'
  | 'unreadable-file'
  /** An image or annotation path that leaves the dataset root (`..`, absolute, a symlink pointing out). */
  | 'unsafe-path';

export interface DatasetProblem {
  kind: ProblemKind;
  file: string;
  /** 1-based row, null for file-level problems. */
  row: number | null;
  itemId?: string;
  image?: string;
  message: string;
}

/** One decoded image of a dataset (when the loader decodes them) and what the canonical rule did to it. */
export interface ImageReport {
  /** Path relative to the dataset root. */
  image: string;
  /** sha256 of the file's bytes: the image's identity across splits. */
  sha256: string;
  width: number;
  height: number;
  channels: number;
  /** Steps of the canonical decode (lib/canonical-image.ts) that changed the samples; [] = none. */
  transforms: string[];
}

export interface LoadedDataset {
  format: string;
  root: string;
  splits: string[];
  items: DatasetItem[];
  problems: DatasetProblem[];
  /** Every decoded image, in path order ([] when images were not decoded). */
  images: ImageReport[];
  /** Images and questions shared between splits (by content when decoded, else by path). */
  overlap: SplitOverlap;
}

/** A scalar text field as the loaders read it: strings as they are, numbers as their decimal string. */
export function scalarText(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;
}

/** OPEN / CLOSED in any case, surrounding whitespace ignored (VQA-RAD's public release has "CLOSED "). */
export function parseAnswerType(v: unknown): AnswerType | undefined {
  const s = scalarText(v)?.trim().toUpperCase();
  return s === 'OPEN' ? 'open' : s === 'CLOSED' ? 'closed' : undefined;
}

export function formatProblem(p: DatasetProblem): string {
  const where = p.row === null ? p.file : `${p.file} row ${p.row}`;
  return `${where}: ${p.kind}${p.image ? ` (${p.image})` : ''} — ${p.message}`;
}

/** Problems that make an item unusable (it gets quarantined, with this reason). */
export function isBlocking(kind: ProblemKind): boolean {
  return kind !== 'duplicate-id';
}

export interface DatasetSummary {
  format: string;
  splits: string[];
  items: number;
  images: number;
  answerTypes: Record<string, number>;
  kinds: Record<string, number>;
  problems: number;
  /** Images the canonical decode changed (16-bit, orientation, CMYK, palette, alpha, profile). */
  transformedImages: number;
  sharedImages: number;
  repeatedQuestions: number;
}

export function summarize(d: LoadedDataset): DatasetSummary {
  const images = new Set<string>();
  const answerTypes: Record<string, number> = {};
  const kinds: Record<string, number> = {};
  for (const it of d.items) {
    it.images.forEach((i) => images.add(i));
    if (it.answerType) answerTypes[it.answerType] = (answerTypes[it.answerType] ?? 0) + 1;
    kinds[it.kind] = (kinds[it.kind] ?? 0) + 1;
  }
  return {
    format: d.format,
    splits: d.splits,
    items: d.items.length,
    images: images.size,
    answerTypes,
    kinds,
    problems: d.problems.length,
    transformedImages: d.images.filter((i) => i.transforms.length).length,
    sharedImages: d.overlap.sharedImages.count,
    repeatedQuestions: d.overlap.repeatedQuestions.count,
  };
}

// ---------------------------------------------------------------- split hygiene
/**
 * Leakage between splits. `sharedImages`: distinct images (by identity: content hash or canonical
 * key) present in more than one split; `bySplit[s]` = images of split s also in another split.
 * `repeatedQuestions`: distinct (image, question) pairs asked in more than one split — the question
 * compared verbatim up to case and whitespace, on the same image (on the real VQA-RAD MEVF split every
 * test image is also a training image, and 14 test questions repeat a training question on it).
 */
export interface SplitOverlap {
  sharedImages: { count: number; bySplit: Record<string, number>; examples: { image: string; splits: string[] }[] };
  repeatedQuestions: { count: number; examples: { question: string; image: string; ids: string[] }[] };
}

export const OVERLAP_EXAMPLES = 5;

export function normalizeQuestion(q: string): string {
  return q.trim().toLowerCase().replace(/\s+/g, ' ');
}

/**
 * Counts images and questions shared between splits. `identity(image)` names an image (default:
 * the path); items with several images (reports) count each image. Examples are the first few in
 * item order, naming the image by its path (`display`).
 */
export function splitOverlap(
  items: readonly { id: string; split: string; images: readonly string[]; question?: string }[],
  identity: (image: string) => string = (i) => i,
): SplitOverlap {
  const splitsOf = new Map<string, { splits: Set<string>; image: string }>();
  const questions = new Map<string, { splits: Set<string>; ids: string[]; question: string; image: string }>();
  for (const it of items) {
    for (const img of it.images) {
      const id = identity(img);
      let e = splitsOf.get(id);
      if (!e) splitsOf.set(id, (e = { splits: new Set(), image: img }));
      e.splits.add(it.split);
      if (it.question?.trim()) {
        const k = `${id}\u0000${normalizeQuestion(it.question)}`;
        let q = questions.get(k);
        if (!q) questions.set(k, (q = { splits: new Set(), ids: [], question: it.question.trim(), image: img }));
        q.splits.add(it.split);
        q.ids.push(it.id);
      }
    }
  }
  const bySplit: Record<string, number> = {};
  const shared: { image: string; splits: string[] }[] = [];
  for (const e of splitsOf.values()) {
    if (e.splits.size < 2) continue;
    shared.push({ image: e.image, splits: [...e.splits] });
    for (const s of e.splits) bySplit[s] = (bySplit[s] ?? 0) + 1;
  }
  const repeated = [...questions.values()].filter((q) => q.splits.size > 1);
  return {
    sharedImages: { count: shared.length, bySplit, examples: shared.slice(0, OVERLAP_EXAMPLES) },
    repeatedQuestions: { count: repeated.length, examples: repeated.slice(0, OVERLAP_EXAMPLES).map((q) => ({ question: q.question, image: q.image, ids: q.ids })) },
  };
}

/** One-line warnings for `dataset validate` and the campaign report ([] when the splits are clean). */
export function overlapWarnings(o: SplitOverlap): string[] {
  const out: string[] = [];
  const s = o.sharedImages;
  if (s.count) {
    const by = Object.entries(s.bySplit).map(([k, v]) => `${k} ${v}`).join(', ');
    const ex = s.examples.map((e) => `${e.image} (${e.splits.join(', ')})`).join('; ');
    out.push(`${s.count} image(s) appear in more than one split (${by}); e.g. ${ex}`);
  }
  const r = o.repeatedQuestions;
  if (r.count) {
    const ex = r.examples.map((e) => `${JSON.stringify(e.question)} on ${e.image} (${e.ids.join(', ')})`).join('; ');
    out.push(`${r.count} question(s) on the same image repeat across splits; e.g. ${ex}`);
  }
  return out;
}
