// Evaluation activity: score a predictions JSONL stored in S3 (rows {id, prediction, reference
// [, answer_type: 'open'|'closed', question]}) with every metric of its format under a convention
// (core/metrics), store the per-item scores and the totals as one JSON document in S3
// (content-addressed: same input → same bytes → same key), return the key and the flat totals
// (percentages: open_recall, closed_accuracy, closed_accuracy_strict, bleu1..bleu4, bleu,
// bleu_avg, rouge_l, meteor, ce_{precision,recall,f1}_{micro,macro}, …). Bad rows fail the
// activity non-retryably naming the line number; empty predictions score 0.
import { ApplicationFailure } from '@temporalio/common';
import { CONVENTIONS, parsePredictionsJsonl, PredictionsError, score, type Convention } from '../core/metrics';
import { artifactStore } from '../lib/env';
import { loadWordNet } from '../lib/wordnet';

export async function scorePredictions(input: {
  predictionsKey: string;
  format: 'vqa' | 'report';
  convention: 'pycoco' | 'mmedpo-release';
}): Promise<{ scoresKey: string; totals: Record<string, number> }> {
  const { predictionsKey, format } = input;
  const convention: Convention = input.convention ?? 'pycoco';
  if (format !== 'vqa' && format !== 'report') throw ApplicationFailure.nonRetryable(`unknown format "${String(format)}": use vqa or report`, 'BadEvalInput');
  if (!CONVENTIONS.includes(convention)) throw ApplicationFailure.nonRetryable(`unknown convention "${String(convention)}": use pycoco or mmedpo-release`, 'BadEvalInput');
  const store = artifactStore();
  const bytes = await store.tryGetBytes(predictionsKey);
  if (!bytes) throw ApplicationFailure.nonRetryable(`artifact not found: ${predictionsKey}`, 'MissingArtifact');
  let items;
  try {
    items = parsePredictionsJsonl(bytes.toString('utf8'));
  } catch (e) {
    if (e instanceof PredictionsError) throw ApplicationFailure.nonRetryable(`${predictionsKey}: ${e.message}`, 'BadPredictions');
    throw e;
  }
  const r = score(format, items, { convention, wordnet: format === 'report' ? loadWordNet() : null });
  const put = await store.putJson('eval-scores', {
    predictionsKey,
    format,
    convention,
    n: r.n,
    totals: r.totals,
    notes: r.notes,
    items: r.perItem,
  });
  return { scoresKey: put.key, totals: r.totals };
}
