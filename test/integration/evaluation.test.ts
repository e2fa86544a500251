// The scorePredictions activity against the real MinIO of the test stack (called as a function:
// it needs no workflow context).
import { ApplicationFailure } from '@temporalio/common';
import { scorePredictions } from '../../activities';
import { scoreReports, scoreVqa } from '../../core/metrics';
import { artifactStore } from '../../lib/env';
import { loadWordNet } from '../../lib/wordnet';

const reportRows = [
  { id: 'r1', prediction: 'The heart size is normal. No pleural effusion.', reference: 'Heart size is normal. No pleural effusion or pneumothorax.' },
  { id: 'r2', prediction: '', reference: 'Small left pleural effusion.' },
  { id: 'r3', prediction: 'Cardiomegaly with mild pulmonary edema.', reference: 'Stable cardiomegaly. Mild pulmonary edema.' },
];
const vqaRows = [
  { id: 'v1', prediction: 'normal', reference: 'no', answer_type: 'closed' },
  { id: 'v2', prediction: 'left lung', reference: 'left lung', answer_type: 'open' },
  { id: 'v3', prediction: '', reference: 'two', answer_type: 'open' },
];
const jsonl = (rows: object[]) => Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n') + '\n');

interface Stored {
  predictionsKey: string;
  format: string;
  convention: string;
  n: number;
  totals: Record<string, number>;
  notes: string[];
  items: { id: string; scores: Record<string, number> }[];
}

describe('scorePredictions activity (real MinIO)', () => {
  const store = artifactStore();

  it('scores a report file, stores per-item scores + totals, same key on re-run', async () => {
    // A unique row per run, so the remembered results of an earlier run of this test are not reused.
    const rows = [...reportRows, { id: `run-${process.pid}-${Date.now()}`, prediction: 'No acute process.', reference: 'No acute cardiopulmonary process.' }];
    const put = await store.putBytes('test-predictions', jsonl(rows), { ext: '.jsonl' });
    const a = await scorePredictions({ predictionsKey: put.key, format: 'report', convention: 'pycoco' });
    // BLEU, ROUGE-L and CE as the library computes them; METEOR is METEOR 1.5 (the jar, one Java process).
    const { meteor, ...rest } = a.totals;
    expect(rest).toEqual(scoreReports(rows, { convention: 'pycoco' }).totals);
    expect(meteor).toBeGreaterThan(0);
    expect(meteor).toBeLessThan(100);
    for (const k of ['bleu1', 'bleu2', 'bleu3', 'bleu4', 'bleu', 'rouge_l', 'meteor', 'ce_f1_micro', 'ce_f1_macro']) expect(Number.isFinite(a.totals[k])).toBe(true);
    expect(a.totals.bleu1).toBeGreaterThan(0);
    const stored = (await store.getJson(a.scoresKey)) as Stored;
    expect(stored.predictionsKey).toBe(put.key);
    expect(stored.n).toBe(4);
    expect(stored.items.map((l) => l.id)).toEqual(['r1', 'r2', 'r3', rows[3]!.id]);
    expect(stored.items[1].scores.bleu1).toBe(0);
    expect(stored.items[1].scores.rouge_l).toBe(0);
    expect(stored.totals.bleu4).toBeCloseTo(a.totals.bleu4, 12);
    expect(stored.notes.join(' ')).toMatch(/METEOR 1\.5/);
    expect(stored.items[1].scores.meteor).toBe(0);
    // A retry or re-run with the same predictions reads the remembered result (no second Java run).
    const t0 = Date.now();
    const b = await scorePredictions({ predictionsKey: put.key, format: 'report', convention: 'pycoco' });
    expect(b).toEqual(a);
    expect(Date.now() - t0).toBeLessThan(2000);
    const rel = await scorePredictions({ predictionsKey: put.key, format: 'report', convention: 'mmedpo-release' });
    expect(rel.totals).toEqual(scoreReports(rows, { convention: 'mmedpo-release', wordnet: loadWordNet() }).totals);
    expect(rel.totals.bleu).toBeGreaterThan(0);
    expect(rel.scoresKey).not.toBe(a.scoresKey);
  });

  it('scores a VQA file (published vs strict closed rule side by side; empty prediction → 0)', async () => {
    const put = await store.putBytes('test-predictions', jsonl(vqaRows), { ext: '.jsonl' });
    const r = await scorePredictions({ predictionsKey: put.key, format: 'vqa', convention: 'pycoco' });
    expect(r.totals).toEqual(scoreVqa(vqaRows).totals);
    expect(r.totals.closed_accuracy).toBe(100); // "normal" contains "no" under the published rule
    expect(r.totals.closed_accuracy_strict).toBe(0);
    expect(r.totals.open_recall).toBe(50);
    const stored = (await store.getJson(r.scoresKey)) as Stored;
    expect(stored.items.find((x) => x.id === 'v3')?.scores.open_recall).toBe(0);
  });

  it('bad rows and missing keys fail non-retryably with a reason', async () => {
    const put = await store.putBytes('test-predictions', Buffer.from('{"id":"a","prediction":"x","reference":"y"}\n{"id":"b","prediction":"x"}\n'), { ext: '.jsonl' });
    const err = await scorePredictions({ predictionsKey: put.key, format: 'report', convention: 'pycoco' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as Error).message).toContain('line 2');
    const missing = await scorePredictions({ predictionsKey: 'test-predictions/none/such.jsonl', format: 'vqa', convention: 'pycoco' }).catch((e: unknown) => e);
    expect((missing as ApplicationFailure).type).toBe('MissingArtifact');
  });
});
