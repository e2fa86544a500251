// Scoring entry points: one call per metric lives in the sibling modules; these functions
// score a whole predictions set under a named convention and return per-item scores + totals.
//
// Conventions
//   pycoco          BLEU-1..4 corpus (pycocoevalcap Bleu(4), 'closest'), ROUGE-L (pycoco, β = 1.2,
//                   mean over studies), METEOR = METEOR 1.5 itself (the jar pycocoevalcap runs;
//                   computed by lib/meteor15.ts and passed in as `meteor15`, since core does no I/O);
//                   text as given, or R2Gen-cleaned with tokenizer 'r2gen'. VQA: LLaVA-Med open
//                   recall + closed accuracy (published substring rule) and the strict variant side by side.
//   mmedpo-release  the authors' released evaluation: per item, on lowercased whitespace-normalized
//                   tokens, nltk sentence_bleu + SmoothingFunction().method7 (BLEU-1..4 with
//                   single-n-gram weights (1,0,0,0)…(0,0,0,1); "BLEU" with (¼,¼,¼,¼)), rouge-package
//                   ROUGE-L F, nltk meteor_score (exact + stem + WordNet synonyms when available), averaged over items.
//                   VQA closed accuracy = normalized answer ⊂ normalized prediction.
// All totals are percentages (×100), flat keys: VQA open_recall, closed_accuracy,
// closed_accuracy_strict (+ closed_accuracy_llavamed under mmedpo-release), n_open, n_closed;
// report bleu1..bleu4, bleu, bleu_avg, rouge_l, meteor, ce_{precision,recall,f1}_{micro,macro}.
// Clinical efficacy (report format) is added in both conventions, by the rule-based clinical-efficacy
// labeler (core/chexpert.ts: CheXpert's 14 observations and mention phrases, NegEx-style rules — not
// the CheXpert or CheXbert labelers); its keys are ce_*, never chexpert_* or chexbert_*.
// Empty predictions score 0 and never throw.
import { NLTK_CUMULATIVE_WEIGHTS, NLTK_SINGLE_WEIGHTS, pycocoBleuStats, pycocoCorpusBleu, sentenceBleuMethod7, type PycocoBleuStats } from './bleu';
import { binaryLabels, clinicalEfficacy } from './clinical';
import { METEOR_NLTK, meteor, meteorDescription } from './meteor';
import type { SynonymSource } from './wordnet';
import { rougeLPycoco, rougeLRougePackage } from './rouge';
import { normalizeWhitespace, pycocoText, whitespaceTokens, type ReportTokenizer } from './tokenize';
import { closedLlavaMed, closedStrict, closedSubstring, normalizeAnswer, openRecall } from './vqa';

export * from './bleu';
export * from './rouge';
export * from './meteor';
export * from './wordnet';
export * from './vqa';
export * from './tokenize';
export * from './clinical';
export { porterStem } from './porter';

export type Convention = 'pycoco' | 'mmedpo-release';
export const CONVENTIONS: readonly Convention[] = ['pycoco', 'mmedpo-release'];
export type EvalFormat = 'vqa' | 'report';

export interface PredictionItem {
  id: string;
  prediction: string;
  reference: string;
  answer_type?: string;
  question?: string;
}

export interface ItemScores {
  id: string;
  scores: Record<string, number>;
}

export interface EvalResult {
  format: EvalFormat;
  convention: Convention;
  n: number;
  totals: Record<string, number>;
  perItem: ItemScores[];
  notes: string[];
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const pct = (x: number) => 100 * x;

export interface ReportOptions {
  convention?: Convention;
  tokenizer?: ReportTokenizer;
  /** Skip the rule-based clinical-efficacy labeler (faster; for benches). */
  clinical?: boolean;
  /** WordNet for the mmedpo-release (nltk) METEOR's synonym stage (lib/wordnet.ts loadWordNet()); absent → exact + stem only. */
  wordnet?: SynonymSource | null;
  /**
   * pycoco convention: METEOR 1.5 of these items, same order (lib/meteor15.ts meteor15 on the texts
   * pycocoText gives; fractions in [0, 1]). Absent → no `meteor` under pycoco, and the notes say why.
   */
  meteor15?: { score: number; scores: readonly number[]; description: string } | null;
}

/** The hypothesis/reference texts METEOR 1.5 must score for `scoreReports` under pycoco (same tokenization as BLEU). */
export function pycocoMeteorPairs(items: readonly PredictionItem[], tokenizer: ReportTokenizer = 'whitespace'): { hypothesis: string; references: string[] }[] {
  return items.map((it) => ({ hypothesis: pycocoText(it.prediction ?? '', tokenizer), references: [pycocoText(it.reference ?? '', tokenizer)] }));
}

export function scoreReports(items: readonly PredictionItem[], opts: ReportOptions = {}): EvalResult {
  const convention = opts.convention ?? 'pycoco';
  const tokenizer = opts.tokenizer ?? 'whitespace';
  const perItem: ItemScores[] = [];
  const totals: Record<string, number> = {};
  const notes: string[] = [];
  if (convention === 'pycoco') {
    const m15 = opts.meteor15;
    if (m15 && m15.scores.length !== items.length) throw new Error(`meteor15 has ${m15.scores.length} scores for ${items.length} items`);
    notes.push(m15 ? m15.description : 'METEOR not computed: the pycoco convention uses METEOR 1.5 itself (lib/meteor15.ts), which was not run');
    const stats: PycocoBleuStats[] = [];
    const rouge: number[] = [];
    for (const [i, it] of items.entries()) {
      const hyp = pycocoText(it.prediction ?? '', tokenizer);
      const ref = pycocoText(it.reference ?? '', tokenizer);
      const s = pycocoBleuStats(whitespaceTokens(hyp), whitespaceTokens(ref));
      stats.push(s);
      const r = (it.prediction ?? '').trim() === '' ? 0 : rougeLPycoco(hyp, ref);
      rouge.push(r);
      const b = pycocoCorpusBleu([s]);
      perItem.push({ id: it.id, scores: { bleu1: pct(b[0]), bleu2: pct(b[1]), bleu3: pct(b[2]), bleu4: pct(b[3]), bleu: pct(mean(b)), rouge_l: pct(r), ...(m15 ? { meteor: pct(m15.scores[i]!) } : {}) } });
    }
    const bleu = items.length ? pycocoCorpusBleu(stats) : [0, 0, 0, 0];
    bleu.forEach((b, k) => (totals[`bleu${k + 1}`] = pct(b)));
    totals.bleu = pct(mean(bleu));
    totals.bleu_avg = totals.bleu;
    totals.rouge_l = pct(mean(rouge));
    if (m15) totals.meteor = pct(m15.score);
    notes.push('bleu1..bleu4: pycocoevalcap corpus BLEU (closest reference length); bleu = bleu_avg = mean of bleu1..bleu4; per-item BLEU is the same formula on one study');
    if (tokenizer === 'r2gen') notes.push('text cleaned with R2Gen clean_report_iu_xray before scoring');
  } else {
    const keys = ['bleu1', 'bleu2', 'bleu3', 'bleu4', 'bleu', 'bleu_avg', 'rouge_l', 'meteor'];
    const acc: Record<string, number[]> = Object.fromEntries(keys.map((k) => [k, []]));
    for (const it of items) {
      const hypS = normalizeWhitespace(it.prediction ?? '');
      const refS = normalizeWhitespace(it.reference ?? '');
      const hyp = hypS ? hypS.split(' ') : [];
      const ref = refS ? refS.split(' ') : [];
      const b = hyp.length && ref.length ? sentenceBleuMethod7(hyp, ref, [...NLTK_SINGLE_WEIGHTS, NLTK_CUMULATIVE_WEIGHTS]) : [0, 0, 0, 0, 0];
      const r = rougeLRougePackage(hypS, refS);
      const m = meteor(hyp, ref, METEOR_NLTK, opts.wordnet);
      const row = { bleu1: pct(b[0]), bleu2: pct(b[1]), bleu3: pct(b[2]), bleu4: pct(b[3]), bleu: pct(b[4]), bleu_avg: pct((b[0] + b[1] + b[2] + b[3]) / 4), rouge_l: pct(r), meteor: pct(m) };
      for (const k of keys) acc[k].push(row[k as keyof typeof row]);
      perItem.push({ id: it.id, scores: row });
    }
    for (const k of keys) totals[k] = mean(acc[k]);
    notes.push(meteorDescription(opts.wordnet));
    notes.push('mmedpo-release: per-item nltk sentence_bleu (SmoothingFunction().method7; bleu1..bleu4 single-n-gram weights, bleu cumulative (1/4,1/4,1/4,1/4), bleu_avg = mean of bleu1..bleu4), rouge-package ROUGE-L F, nltk meteor_score, averaged over items x100 on lowercased whitespace-normalized tokens');
  }
  if (opts.clinical !== false) {
    const pl = items.map((it) => binaryLabels(it.prediction ?? ''));
    const rl = items.map((it) => binaryLabels(it.reference ?? ''));
    const ce = clinicalEfficacy(pl, rl);
    totals.ce_precision_micro = pct(ce.microPrecision);
    totals.ce_recall_micro = pct(ce.microRecall);
    totals.ce_f1_micro = pct(ce.microF1);
    totals.ce_precision_macro = pct(ce.macroPrecision);
    totals.ce_recall_macro = pct(ce.macroRecall);
    totals.ce_f1_macro = pct(ce.macroF1);
    perItem.forEach((p, i) => {
      p.scores.ce_pred_positive = Object.values(pl[i]).reduce<number>((a, b) => a + b, 0);
      p.scores.ce_ref_positive = Object.values(rl[i]).reduce<number>((a, b) => a + b, 0);
    });
    notes.push('clinical efficacy (ce_*): the rule-based clinical-efficacy labeler (core/chexpert.ts: CheXpert\'s 14 observations, mention phrases and a NegEx-style window; not the CheXpert or CheXbert labeler); uncertain and blank -> negative');
  }
  return { format: 'report', convention, n: items.length, totals, perItem, notes };
}

/** OPEN / CLOSED from answer_type, else CLOSED when the normalized reference is yes/no. */
export function questionType(it: PredictionItem): 'open' | 'closed' {
  const t = (it.answer_type ?? '').trim().toLowerCase();
  if (t === 'open') return 'open';
  if (t === 'closed') return 'closed';
  const r = normalizeAnswer(it.reference ?? '');
  return r === 'yes' || r === 'no' ? 'closed' : 'open';
}

export function scoreVqa(items: readonly PredictionItem[], opts: { convention?: Convention } = {}): EvalResult {
  const convention = opts.convention ?? 'pycoco';
  const open: number[] = [];
  const closedMain: number[] = [];
  const closedStr: number[] = [];
  const closedLl: number[] = [];
  const perItem: ItemScores[] = [];
  for (const it of items) {
    const pred = it.prediction ?? '';
    const ref = it.reference ?? '';
    if (questionType(it) === 'open') {
      const r = pct(openRecall(pred, ref));
      open.push(r);
      perItem.push({ id: it.id, scores: { open_recall: r } });
    } else {
      const ll = pct(closedLlavaMed(pred, ref));
      const st = pct(closedStrict(pred, ref));
      const main = convention === 'pycoco' ? ll : pct(closedSubstring(pred, ref));
      closedMain.push(main);
      closedStr.push(st);
      closedLl.push(ll);
      perItem.push({ id: it.id, scores: convention === 'pycoco' ? { closed_accuracy: main, closed_accuracy_strict: st } : { closed_accuracy: main, closed_accuracy_llavamed: ll, closed_accuracy_strict: st } });
    }
  }
  const totals: Record<string, number> = {
    open_recall: mean(open),
    closed_accuracy: mean(closedMain),
    closed_accuracy_strict: mean(closedStr),
    n_open: open.length,
    n_closed: closedMain.length,
  };
  if (convention !== 'pycoco') totals.closed_accuracy_llavamed = mean(closedLl);
  const notes =
    convention === 'pycoco'
      ? ['closed_accuracy: LLaVA-Med rule as published (yes/no substring present and answer substring; "normal" counts as containing "no"); closed_accuracy_strict: first yes/no token must equal the answer']
      : ['closed_accuracy (mmedpo-release): normalized answer is a substring of the normalized prediction; closed_accuracy_llavamed and closed_accuracy_strict shown beside it'];
  notes.push('open_recall: LLaVA-Med recall (prediction counts of shared words; repeated words inflate it)');
  return { format: 'vqa', convention, n: items.length, totals, perItem, notes };
}

export function score(format: EvalFormat, items: readonly PredictionItem[], opts: ReportOptions = {}): EvalResult {
  return format === 'vqa' ? scoreVqa(items, opts) : scoreReports(items, opts);
}

export { parsePredictionsJsonl, PredictionsError } from './predictions';
