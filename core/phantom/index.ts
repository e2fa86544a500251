// phantom-cxr: a deterministic synthetic chest X-ray set whose lesions are known exactly.
// Pure (no I/O): studies are generated as arrays and text; lib/phantom.ts writes them.
import { drawAnatomy, drawFindings, Finding } from './catalogue';
import { renderStudy } from './render';
import { PhantomQuestion, questionsFor, reportFor, TextPrior } from './text';

export * from './catalogue';
export { renderStudy } from './render';
export { reportFor, questionsFor } from './text';
export type { PhantomQuestion, TextPrior } from './text';

export interface PhantomStudy {
  id: string;
  index: number;
  split: 'train' | 'test';
  image: string;
  mask: string;
  size: number;
  pixels: Uint8Array;
  maskPixels: Uint8Array;
  findings: (Omit<Finding, 'geom'> & { bit: number; box: [number, number, number, number] | null; areaPx: number })[];
  report: string;
  questions: PhantomQuestion[];
}

export interface PhantomOptions {
  seed: number;
  studies: number;
  size: number;
  testFraction: number;
  /** A planted text prior (train split) and the counter-prior test split (TextPrior); absent: none. */
  textPrior?: TextPrior;
}

export function studyId(index: number): string {
  return `phantom-${String(index).padStart(6, '0')}`;
}

/** Studies [0, nTrain) are train, the rest test. */
export function trainCount(o: Pick<PhantomOptions, 'studies' | 'testFraction'>): number {
  return o.studies - Math.round(o.studies * o.testFraction);
}

/** Checks a TextPrior's strength (in [0.5, 1]); throws naming the value. */
export function checkTextPrior(p: TextPrior | undefined): void {
  if (p && !(p.strength >= 0.5 && p.strength <= 1)) throw new Error(`text prior strength must be in [0.5, 1], got ${p.strength}`);
}

export function generateStudy(o: PhantomOptions, index: number): PhantomStudy {
  checkTextPrior(o.textPrior);
  const id = studyId(index);
  const split = index < trainCount(o) ? 'train' : 'test';
  const anatomy = drawAnatomy(o.seed, id);
  const findings = drawFindings(o.seed, id);
  const r = renderStudy(o.seed, id, anatomy, findings, o.size);
  return {
    id,
    index,
    split,
    image: `${id}.png`,
    mask: `${id}.png`,
    size: o.size,
    pixels: r.pixels,
    maskPixels: r.mask,
    findings: findings.map(({ geom: _g, ...f }, k) => ({ ...f, bit: 1 << k, box: r.boxes[k]!, areaPx: r.areas[k]! })),
    report: reportFor(o.seed, id, findings),
    questions: questionsFor(o.seed, id, findings, o.textPrior ? { textPrior: o.textPrior, split } : undefined),
  };
}

export interface VqaRadRow {
  qid: number;
  image_name: string;
  image_organ: 'CHEST';
  answer: string;
  answer_type: 'OPEN' | 'CLOSED';
  question_type: string;
  question: string;
  phrase_type: string;
}

export interface R2GenRow {
  id: string;
  report: string;
  image_path: string[];
  split: 'train' | 'val' | 'test';
}

export interface PhantomIndexEntry {
  id: string;
  split: 'train' | 'test';
  image: string;
  mask: string;
  normal: boolean;
  findings: PhantomStudy['findings'];
  /** Under a text prior: the VQA rows (qid) of the study whose wording carries it, and how (PhantomQuestion.prior). */
  priors?: { qid: number; questionType: string; prior: 'aligned' | 'counter' }[];
}

/** Accumulates the JSON side of the set (VQA-RAD MEVF rows, R2Gen annotation, phantom.json). */
export class PhantomLayout {
  readonly trainset: VqaRadRow[] = [];
  readonly testset: VqaRadRow[] = [];
  readonly annotation: { train: R2GenRow[]; val: R2GenRow[]; test: R2GenRow[] } = { train: [], val: [], test: [] };
  readonly entries: PhantomIndexEntry[] = [];
  private qid = 0;

  constructor(readonly o: PhantomOptions) {}

  add(s: PhantomStudy): void {
    const rows = s.split === 'train' ? this.trainset : this.testset;
    const priors: NonNullable<PhantomIndexEntry['priors']> = [];
    for (const q of s.questions) {
      if (q.prior) priors.push({ qid: this.qid + 1, questionType: q.questionType, prior: q.prior });
      rows.push({
        qid: ++this.qid,
        image_name: s.image,
        image_organ: 'CHEST',
        answer: q.answer,
        answer_type: q.answerType,
        question_type: q.questionType,
        question: q.question,
        phrase_type: s.split === 'train' ? 'freeform' : 'test_freeform',
      });
    }
    this.annotation[s.split].push({ id: s.id, report: s.report, image_path: [s.image], split: s.split });
    this.entries.push({ id: s.id, split: s.split, image: `images/${s.image}`, mask: `masks/${s.mask}`, normal: s.findings.length === 0, findings: s.findings, ...(this.o.textPrior ? { priors } : {}) });
  }

  phantomJson(): unknown {
    return {
      name: 'phantom-cxr',
      version: 1,
      seed: this.o.seed,
      size: this.o.size,
      studies: this.o.studies,
      testFraction: this.o.testFraction,
      maskEncoding: 'bit k of a mask pixel is set where finding k of the study covers it; boxes are [x0, y0, x1, y1) in pixels',
      orientation: 'frontal PA; the patient right is on the image left',
      ...(this.o.textPrior
        ? {
            textPrior: {
              strength: this.o.textPrior.strength,
              rule: 'closed questions (PRES, ABN) have two wordings, the first cueing "yes", the second "no"; train: the wording cueing the answer with probability strength; test: always the wording cueing the other answer (counter-prior). items[].priors lists each question and whether its wording is aligned with its answer or counter to it',
            },
          }
        : {}),
      items: this.entries,
    };
  }
}
