// The one scoring path of a predictions set, for `mmedpo eval` and the scorePredictions activity:
// core/metrics does the math; this adds what needs I/O — METEOR 1.5 (a Java process, pycoco
// convention) and the WordNet database (nltk METEOR, mmedpo-release convention).
import { pycocoMeteorPairs, score, type Convention, type EvalFormat, type EvalResult, type PredictionItem, type ReportTokenizer } from '../core/metrics';
import { meteor15 } from './meteor15';
import { loadWordNet } from './wordnet';

export interface ScoreOptions {
  convention: Convention;
  tokenizer?: ReportTokenizer;
  clinical?: boolean;
}

/** Scores items of a format under a convention. Throws MeteorUnavailableError when pycoco report scoring has no Java/jar. */
export async function scoreItems(format: EvalFormat, items: readonly PredictionItem[], o: ScoreOptions): Promise<EvalResult> {
  const report = format === 'report';
  const m15 = report && o.convention === 'pycoco' ? await meteor15(pycocoMeteorPairs(items, o.tokenizer ?? 'whitespace')) : null;
  const wordnet = report && o.convention === 'mmedpo-release' ? loadWordNet() : null;
  return score(format, items, { convention: o.convention, tokenizer: o.tokenizer, clinical: o.clinical, wordnet, meteor15: m15 });
}
