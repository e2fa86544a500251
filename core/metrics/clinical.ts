// Clinical efficacy (CE), R2Gen-style: label prediction and reference with the rule-based
// CheXpert-style labeler (core/chexpert.ts — an APPROXIMATION of the CheXpert labeler),
// binarize (1 → 1; 0, uncertain −1 and blank → 0), then over the 14 observations:
//   micro: P = ΣTP / (ΣTP + ΣFP), R = ΣTP / (ΣTP + ΣFN), F1 = 2PR/(P+R);
//   macro: per-observation P, R, F1 (0 when undefined, sklearn zero_division=0), averaged.
import { OBSERVATIONS, binarize, labelReport, type Observation } from '../chexpert';

export interface ClinicalEfficacy {
  microPrecision: number;
  microRecall: number;
  microF1: number;
  macroPrecision: number;
  macroRecall: number;
  macroF1: number;
  perObservation: Record<Observation, { tp: number; fp: number; fn: number; precision: number; recall: number; f1: number }>;
}

const div = (a: number, b: number) => (b === 0 ? 0 : a / b);
const f1 = (p: number, r: number) => (p + r === 0 ? 0 : (2 * p * r) / (p + r));

export type BinaryLabels = Record<Observation, 0 | 1>;

export function binaryLabels(text: string): BinaryLabels {
  return binarize(labelReport(text));
}

export function clinicalEfficacy(preds: readonly BinaryLabels[], refs: readonly BinaryLabels[]): ClinicalEfficacy {
  const per = {} as ClinicalEfficacy['perObservation'];
  let TP = 0;
  let FP = 0;
  let FN = 0;
  let mp = 0;
  let mr = 0;
  let mf = 0;
  for (const o of OBSERVATIONS) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let i = 0; i < preds.length; i++) {
      const p = preds[i][o];
      const r = refs[i][o];
      if (p && r) tp++;
      else if (p && !r) fp++;
      else if (!p && r) fn++;
    }
    const precision = div(tp, tp + fp);
    const recall = div(tp, tp + fn);
    per[o] = { tp, fp, fn, precision, recall, f1: f1(precision, recall) };
    TP += tp;
    FP += fp;
    FN += fn;
    mp += precision;
    mr += recall;
    mf += per[o].f1;
  }
  const n = OBSERVATIONS.length;
  const P = div(TP, TP + FP);
  const R = div(TP, TP + FN);
  return { microPrecision: P, microRecall: R, microF1: f1(P, R), macroPrecision: mp / n, macroRecall: mr / n, macroF1: mf / n, perObservation: per };
}
