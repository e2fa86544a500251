// Evaluation activity: score a predictions JSONL stored in S3 (id, prediction, reference
// [, answer_type, question]) with every metric of its format under a convention, store the
// per-item scores (JSONL) and the totals (JSON) content-addressed in S3, return the keys and
// the totals. Same input → same bytes → same keys. Bad rows fail the activity non-retryably
// with the line number; generation of predictions is not done here (trainer `generate`).
import { ApplicationFailure } from '@temporalio/common';
import { parsePredictionsJsonl, PredictionsError, score, type Convention, type EvalFormat, type ReportTokenizer } from '../core/metrics';
import { artifactStore } from '../lib/env';

export interface EvaluateInput {
  predictionsKey: string;
  format: EvalFormat;
  convention?: Convention;
  /** pycoco convention only: 'r2gen' applies R2Gen's report cleaning first. */
  tokenizer?: ReportTokenizer;
  /** Free labels carried into the totals record (variant, dataset, campaign…). */
  labels?: Record<string, string>;
}

export interface EvaluateOutput {
  predictionsKey: string;
  format: EvalFormat;
  convention: Convention;
  n: number;
  totals: Record<string, number>;
  scoresKey: string;
  totalsKey: string;
  notes: string[];
}

export async function evaluatePredictions(input: EvaluateInput): Promise<EvaluateOutput> {
  const { predictionsKey, format } = input;
  const convention = input.convention ?? 'pycoco';
  if (format !== 'vqa' && format !== 'report') throw ApplicationFailure.nonRetryable(`unknown format "${String(format)}": use vqa or report`, 'BadEvalInput');
  if (convention !== 'pycoco' && convention !== 'mmedpo-release') throw ApplicationFailure.nonRetryable(`unknown convention "${String(convention)}"`, 'BadEvalInput');
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
  const r = score(format, items, { convention, tokenizer: input.tokenizer });
  const scoresJsonl = r.perItem.map((p) => JSON.stringify(p)).join('\n') + (r.perItem.length ? '\n' : '');
  const scores = await store.putBytes('eval-scores', Buffer.from(scoresJsonl), { ext: '.jsonl', contentType: 'application/x-ndjson' });
  const totals = await store.putJson('eval-totals', {
    predictionsKey,
    format,
    convention,
    tokenizer: input.tokenizer ?? 'whitespace',
    labels: input.labels ?? {},
    n: r.n,
    totals: r.totals,
    notes: r.notes,
    scoresKey: scores.key,
  });
  return { predictionsKey, format, convention, n: r.n, totals: r.totals, scoresKey: scores.key, totalsKey: totals.key, notes: r.notes };
}
