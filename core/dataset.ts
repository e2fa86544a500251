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
  | 'unreadable-file';

export interface DatasetProblem {
  kind: ProblemKind;
  file: string;
  /** 1-based row, null for file-level problems. */
  row: number | null;
  itemId?: string;
  image?: string;
  message: string;
}

export interface LoadedDataset {
  format: string;
  root: string;
  splits: string[];
  items: DatasetItem[];
  problems: DatasetProblem[];
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
  return { format: d.format, splits: d.splits, items: d.items.length, images: images.size, answerTypes, kinds, problems: d.problems.length };
}
