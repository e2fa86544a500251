// phantom-cxr: a deterministic synthetic chest X-ray set whose lesions are known exactly.
// Pure (no I/O): studies are generated as arrays and text; lib/phantom.ts writes them.
import { drawAnatomy, drawFindings, Finding } from './catalogue';
import { renderStudy } from './render';
import { PhantomQuestion, questionsFor, reportFor } from './text';

export * from './catalogue';
export { renderStudy } from './render';
export { reportFor, questionsFor } from './text';
export type { PhantomQuestion } from './text';

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
}

export function studyId(index: number): string {
  return `phantom-${String(index).padStart(6, '0')}`;
}

/** Studies [0, nTrain) are train, the rest test. */
export function trainCount(o: Pick<PhantomOptions, 'studies' | 'testFraction'>): number {
  return o.studies - Math.round(o.studies * o.testFraction);
}

export function generateStudy(o: PhantomOptions, index: number): PhantomStudy {
  const id = studyId(index);
  const anatomy = drawAnatomy(o.seed, id);
  const findings = drawFindings(o.seed, id);
  const r = renderStudy(o.seed, id, anatomy, findings, o.size);
  return {
    id,
    index,
    split: index < trainCount(o) ? 'train' : 'test',
    image: `${id}.png`,
    mask: `${id}.png`,
    size: o.size,
    pixels: r.pixels,
    maskPixels: r.mask,
    findings: findings.map(({ geom: _g, ...f }, k) => ({ ...f, bit: 1 << k, box: r.boxes[k]!, areaPx: r.areas[k]! })),
    report: reportFor(o.seed, id, findings),
    questions: questionsFor(o.seed, id, findings),
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
    for (const q of s.questions) {
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
    this.entries.push({ id: s.id, split: s.split, image: `images/${s.image}`, mask: `masks/${s.mask}`, normal: s.findings.length === 0, findings: s.findings });
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
      items: this.entries,
    };
  }
}
