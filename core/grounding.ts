// Grounding metrics of a phantom-set evaluation (pure): the document `python -m trainer ground` writes
// (trainer/grounding.py: per-question records `items`, `totals`), read on the Node side, and the metrics
// recomputed from any multiset of its records exactly as grounding.py's grounding_totals computes them, so
// core/stats.ts can resample them with the other metrics (the full set gives the trainer's totals).
//
// Keys: the results table's GROUNDING_COLUMNS (core/report.ts) name the metrics an evaluation's totals carry
// (counter_prior_accuracy, blind_gap, lesion_sensitivity, hallucination_rate); grounding_totals' other values
// (closed/presence accuracy with the image and with a blank image) stay in the document only.
import { GROUNDING_COLUMNS } from './report';

/** The grounding metrics an evaluation's totals carry, in the results table's column order. */
export const GROUNDING_KEYS: readonly string[] = GROUNDING_COLUMNS.map((c) => c.key);

/** One question's record (trainer/grounding.py evaluate_grounding), plus the dataset item id the campaign adds. */
export interface GroundingRecord {
  /** The manifest item id (`phantom:test:<qid>`), added when the campaign stores the document. */
  id?: string;
  qid: number;
  questionType: string;
  answerType: string;
  prior: 'aligned' | 'counter' | null;
  /** Closed questions: the greedy answer with the image (and with a blank image) is the reference. */
  correct?: boolean;
  correctBlank?: boolean;
  /** Questions on studies without findings that ask about findings: the answer states one. */
  hallucinated?: boolean;
  /** Lesion items: [log π(a|x) − log π(a|x̃_lesion)] − [log π(a|x) − log π(a|x̃_control)] (nats). */
  lesionDelta?: number;
  prediction?: string;
  [field: string]: unknown;
}

/** The stored grounding document (S3, content-addressed under `grounding/`). */
export interface GroundingDocument {
  /** What produced it. */
  what: 'trainer ground';
  split: string;
  /** Seed of the lesion/control noise (the campaign seed: the same ε for every variant and training seed). */
  noiseSeed: number;
  /** grounding_totals of every record; a metric no record qualifies for is null (the trainer writes standard JSON: grounding.py json_ready). */
  totals: Record<string, number | null>;
  items: GroundingRecord[];
}

/** The finite GROUNDING_KEYS values of a grounding document's totals (what an evaluation's totals get). */
export function groundingTotalsForResults(totals: Record<string, number | null | undefined>): Record<string, number> {
  return Object.fromEntries(GROUNDING_KEYS.flatMap((k) => (typeof totals[k] === 'number' && Number.isFinite(totals[k]) ? [[k, totals[k]]] : [])));
}

/**
 * grounding_totals (trainer/grounding.py) of a multiset of records (a record listed twice counts twice):
 * percentages, lesion_sensitivity in nats, NaN where no record qualifies, blind_gap = image − blank accuracy.
 */
export function groundingTotals(records: Iterable<GroundingRecord>): Record<string, number> {
  const acc = { closed: [0, 0], blank: [0, 0], pres: [0, 0], presBlank: [0, 0], counter: [0, 0], lesion: [0, 0], halluc: [0, 0] };
  const add = (a: number[], x: number) => {
    a[0]! += x;
    a[1]!++;
  };
  for (const r of records) {
    if ('correct' in r && r.correct !== undefined) {
      add(acc.closed, r.correct ? 1 : 0);
      add(acc.blank, r.correctBlank ? 1 : 0);
      if (r.questionType === 'PRES') {
        add(acc.pres, r.correct ? 1 : 0);
        add(acc.presBlank, r.correctBlank ? 1 : 0);
      }
      if (r.prior === 'counter') add(acc.counter, r.correct ? 1 : 0);
    }
    if (typeof r.lesionDelta === 'number') add(acc.lesion, r.lesionDelta);
    if (typeof r.hallucinated === 'boolean') add(acc.halluc, r.hallucinated ? 1 : 0);
  }
  const mean = (a: number[]) => (a[1] ? a[0]! / a[1] : Number.NaN);
  const t: Record<string, number> = {
    closed_accuracy_image: 100 * mean(acc.closed),
    closed_accuracy_blank: 100 * mean(acc.blank),
    presence_accuracy_image: 100 * mean(acc.pres),
    presence_accuracy_blank: 100 * mean(acc.presBlank),
    counter_prior_accuracy: 100 * mean(acc.counter),
    lesion_sensitivity: mean(acc.lesion),
    hallucination_rate: 100 * mean(acc.halluc),
  };
  t.blind_gap = t.closed_accuracy_image! - t.closed_accuracy_blank!;
  return t;
}

/**
 * The grounding metrics (GROUNDING_KEYS) as a statistic of the test items' positions: `records[i]` is
 * position i's record (undefined: the item has none, e.g. an open question that asks nothing of findings).
 * On every position it gives the trainer's totals for those keys.
 */
export function groundingStatistic(records: readonly (GroundingRecord | undefined)[]): (idx: ArrayLike<number>) => Record<string, number> {
  return (idx) => {
    const picked: GroundingRecord[] = [];
    for (let j = 0; j < idx.length; j++) {
      const r = records[idx[j]!];
      if (r) picked.push(r);
    }
    const t = groundingTotals(picked);
    return Object.fromEntries(GROUNDING_KEYS.map((k) => [k, t[k]!]));
  };
}
