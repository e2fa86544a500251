// The evaluation activity against the real MinIO of the test stack (called as a function:
// it needs no workflow context).
import { ApplicationFailure } from '@temporalio/common';
import { evaluatePredictions } from '../../activities/evaluation';
import { scoreReports, scoreVqa } from '../../core/metrics';
import { artifactStore } from '../../lib/env';

const reportRows = [
  { id: 'r1', prediction: 'The heart size is normal. No pleural effusion.', reference: 'Heart size is normal. No pleural effusion or pneumothorax.' },
  { id: 'r2', prediction: '', reference: 'Small left pleural effusion.' },
  { id: 'r3', prediction: 'Cardiomegaly with mild pulmonary edema.', reference: 'Stable cardiomegaly. Mild pulmonary edema.' },
];
const vqaRows = [
  { id: 'v1', prediction: 'normal', reference: 'no', answer_type: 'CLOSED' },
  { id: 'v2', prediction: 'left lung', reference: 'left lung', answer_type: 'OPEN' },
];
const jsonl = (rows: object[]) => Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n') + '\n');

describe('evaluatePredictions activity (real MinIO)', () => {
  const store = artifactStore();

  it('scores a report file, stores per-item scores + totals, same keys on re-run', async () => {
    const put = await store.putBytes('test-predictions', jsonl(reportRows), { ext: '.jsonl' });
    const a = await evaluatePredictions({ predictionsKey: put.key, format: 'report', convention: 'pycoco', labels: { variant: 'base' } });
    expect(a.n).toBe(3);
    expect(a.totals).toEqual(scoreReports(reportRows, { convention: 'pycoco' }).totals);
    const lines = (await store.getBytes(a.scoresKey)).toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.id)).toEqual(['r1', 'r2', 'r3']);
    expect(lines[1].scores.BLEU_1).toBe(0);
    const totals = (await store.getJson(a.totalsKey)) as { totals: Record<string, number>; labels: Record<string, string>; scoresKey: string };
    expect(totals.totals.BLEU_4).toBeCloseTo(a.totals.BLEU_4, 12);
    expect(totals.labels.variant).toBe('base');
    expect(totals.scoresKey).toBe(a.scoresKey);
    const b = await evaluatePredictions({ predictionsKey: put.key, format: 'report', convention: 'pycoco', labels: { variant: 'base' } });
    expect([b.scoresKey, b.totalsKey]).toEqual([a.scoresKey, a.totalsKey]);
    const rel = await evaluatePredictions({ predictionsKey: put.key, format: 'report', convention: 'mmedpo-release' });
    expect(rel.totals.BLEU).toBeGreaterThan(0);
    expect(rel.totalsKey).not.toBe(a.totalsKey);
  });

  it('scores a VQA file', async () => {
    const put = await store.putBytes('test-predictions', jsonl(vqaRows), { ext: '.jsonl' });
    const r = await evaluatePredictions({ predictionsKey: put.key, format: 'vqa' });
    expect(r.totals).toEqual(scoreVqa(vqaRows).totals);
    expect(r.totals.closed_acc).toBe(100);
    expect(r.totals.closed_acc_strict).toBe(0);
  });

  it('bad rows and missing keys fail non-retryably with a reason', async () => {
    const put = await store.putBytes('test-predictions', Buffer.from('{"id":"a","prediction":"x","reference":"y"}\n{"id":"b","prediction":"x"}\n'), { ext: '.jsonl' });
    const err = await evaluatePredictions({ predictionsKey: put.key, format: 'report' }).catch((e) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as Error).message).toContain('line 2');
    const missing = await evaluatePredictions({ predictionsKey: 'test-predictions/none/such.jsonl', format: 'vqa' }).catch((e) => e);
    expect((missing as ApplicationFailure).type).toBe('MissingArtifact');
  });
});
