// Evaluation activity: score a predictions JSONL stored in S3 (rows {id, prediction, reference
// [, answer_type: 'open'|'closed', question]}) with every metric of its format under a convention
// (core/metrics), store the per-item scores and the totals as one JSON document in S3
// (content-addressed: same input → same bytes → same key), return the key and the flat totals
// (percentages: open_recall, closed_accuracy, closed_accuracy_strict, bleu1..bleu4, bleu,
// bleu_avg, rouge_l, meteor, ce_{precision,recall,f1}_{micro,macro}, …). Bad rows fail the
// activity non-retryably naming the line number; empty predictions score 0.
// METEOR under pycoco is METEOR 1.5 (lib/meteor15.ts, one Java process per call, several seconds),
// so a result is remembered under a name derived from its inputs: a retry or a re-run with the same
// predictions reads it back instead of scoring again.
import { ApplicationFailure } from '@temporalio/common';
import { CONVENTIONS, parsePredictionsJsonl, PredictionsError, type Convention } from '../core/metrics';
import { artifactStore } from '../lib/env';
import { hashJson } from '../lib/hash';
import { MeteorUnavailableError } from '../lib/meteor15';
import { scoreItems } from '../lib/scoring';

/** Bump when scoring changes, so remembered results of the old scoring are not reused. */
const SCORING_VERSION = 'scoring.v2 (METEOR 1.5 under pycoco; predictions reader with the loaders\' rules)';

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
  const memoKey = store.namedKey(`eval-scores/by-input/${hashJson({ predictionsKey, format, convention, version: SCORING_VERSION })}.json`);
  const memo = await store.tryGetJson<{ scoresKey: string; totals: Record<string, number> }>(memoKey);
  if (memo && (await store.exists(memo.scoresKey))) return memo;
  const bytes = await store.tryGetBytes(predictionsKey);
  if (!bytes) throw ApplicationFailure.nonRetryable(`artifact not found: ${predictionsKey}`, 'MissingArtifact');
  let items;
  try {
    items = parsePredictionsJsonl(bytes.toString('utf8'));
  } catch (e) {
    if (e instanceof PredictionsError) throw ApplicationFailure.nonRetryable(`${predictionsKey}: ${e.message}`, 'BadPredictions');
    throw e;
  }
  let r;
  try {
    r = await scoreItems(format, items, { convention });
  } catch (e) {
    // Java or the jar missing on this worker: an installation fault, retried (another worker may have it).
    if (e instanceof MeteorUnavailableError) throw ApplicationFailure.retryable(e.message, 'MeteorUnavailable');
    throw e;
  }
  const put = await store.putJson('eval-scores', {
    predictionsKey,
    format,
    convention,
    n: r.n,
    totals: r.totals,
    notes: r.notes,
    items: r.perItem,
  });
  const out = { scoresKey: put.key, totals: r.totals };
  await store.putJsonAt(memoKey, out);
  return out;
}
