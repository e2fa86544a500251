import { closedLlavaMed, closedStrict, closedSubstring, normalizeAnswer, openRecall, scoreVqa, scoreReports, clinicalEfficacy, OBSERVATIONS_ZERO } from './metrics-helpers';

describe('LLaVA-Med answer normalization', () => {
  test.each([
    ['Two', '2'],
    ['none', '0'],
    ['The liver.', 'liver'],
    ['3.5 cm', '3.5 cm'],
    ['Yes, there is no effusion', 'yes there is no effusion'],
    ['left-sided', 'left sided'],
    ['It isnt enlarged', "it isn't enlarged"],
    ['1,000', '1000'],
    ['', ''],
  ])('%j → %j', (raw, want) => expect(normalizeAnswer(raw)).toBe(want));
});

describe('open-ended recall (hand-computed)', () => {
  test.each([
    ['two', '2', 1],                        // number word → digit
    ['left left lung', 'left lung', 1],     // repeats: tp = 3, fn = 0
    ['left left left', 'left lower lobe', 0.6], // tp = 3 (prediction count), fn = 2
    ['right lung', 'left lung', 0.5],
    ['The liver', 'liver', 1],              // article dropped
    ['', 'liver', 0],                       // empty prediction
    ['kidney', 'liver', 0],
    ['3.5 cm mass', '3.5 cm', 1],
  ])('pred %j gt %j → %d', (p, g, want) => expect(openRecall(p, g)).toBeCloseTo(want, 12));
});

describe('closed-ended accuracy: LLaVA-Med substring rule vs strict', () => {
  test.each([
    // pred, gt, llava, strict, substring(mmedpo-release)
    ['normal', 'no', 1, 0, 1],                      // "normal" contains "no"
    ['Yes, there is no effusion', 'no', 1, 0, 1],   // both yes and no → always a hit
    ['No.', 'no', 1, 1, 1],
    ['yes', 'no', 0, 0, 0],
    ['no', 'yes', 0, 0, 0],
    ['', 'yes', 0, 0, 0],                           // empty prediction
    ['The answer is not clear', 'no', 1, 0, 1],     // "not" contains "no"
    ['Yes yes yes', 'yes', 1, 1, 1],                // repeated words
    ['left', 'left', 0, 1, 1],                      // non yes/no closed answer: LLaVA-Med needs yes/no present
    ['it is on the left side', 'left', 0, 1, 1],
  ])('pred %j gt %j', (p, g, ll, st, sub) => {
    expect(closedLlavaMed(p, g)).toBe(ll);
    expect(closedStrict(p, g)).toBe(st);
    expect(closedSubstring(p, g)).toBe(sub);
  });
});

describe('scoreVqa totals', () => {
  const items = [
    { id: 'a', prediction: 'normal', reference: 'no', answer_type: 'CLOSED' },
    { id: 'b', prediction: 'No', reference: 'no', answer_type: 'CLOSED' },
    { id: 'c', prediction: '', reference: 'yes' },                      // inferred closed
    { id: 'd', prediction: 'left left left', reference: 'left lower lobe', answer_type: 'OPEN' },
    { id: 'e', prediction: '', reference: 'liver' },                    // inferred open
  ];
  test('pycoco: llava-med rule + strict side by side', () => {
    const r = scoreVqa(items);
    expect(r.totals.n_closed).toBe(3);
    expect(r.totals.n_open).toBe(2);
    expect(r.totals.closed_accuracy).toBeCloseTo((100 + 100 + 0) / 3, 10);
    expect(r.totals.closed_accuracy_strict).toBeCloseTo(100 / 3, 10);
    expect(r.totals.open_recall).toBeCloseTo((60 + 0) / 2, 10);
    expect(r.perItem.map((p) => p.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });
  test('mmedpo-release: substring rule', () => {
    const r = scoreVqa(items, { convention: 'mmedpo-release' });
    expect(r.totals.closed_accuracy).toBeCloseTo(200 / 3, 10);
    expect(r.totals.closed_accuracy_llavamed).toBeCloseTo(200 / 3, 10);
  });
  test('empty set → zeros', () => {
    expect(scoreVqa([]).totals.closed_accuracy).toBe(0);
  });
});

describe('report scoring', () => {
  test('empty predictions score 0 and never throw, both conventions', () => {
    for (const convention of ['pycoco', 'mmedpo-release'] as const) {
      const r = scoreReports([{ id: 'x', prediction: '', reference: 'The heart size is normal.' }, { id: 'y', prediction: '   ', reference: 'No effusion.' }], { convention });
      // pycoco's METEOR is METEOR 1.5 (lib/meteor15.ts), passed in; here a stand-in of zeros.
      for (const p of r.perItem) for (const k of ['bleu1', 'bleu4', 'rouge_l', ...(convention === 'mmedpo-release' ? ['meteor'] : [])]) expect(p.scores[k]).toBe(0);
      expect(r.totals.bleu1).toBeLessThan(1e-6);
    }
    expect(() => scoreReports([])).not.toThrow();
  });
  test('identical reports score 100 on BLEU/ROUGE-L, METEOR near 100 and CE F1 = 100', () => {
    const t = 'Heart size is mildly enlarged. Small left pleural effusion. No pneumothorax.';
    const r = scoreReports([{ id: 'x', prediction: t, reference: t }]);
    expect(r.totals.bleu4).toBeCloseTo(100, 6);
    expect(r.totals.rouge_l).toBeCloseTo(100, 6);
    expect(scoreReports([{ id: 'x', prediction: t, reference: t }], { convention: 'mmedpo-release' }).totals.meteor).toBeGreaterThan(99);
    expect(r.totals.ce_f1_micro).toBeCloseTo(100, 10);
  });
});

describe('clinical efficacy micro/macro (hand-computed)', () => {
  test('two studies', () => {
    const p1 = { ...OBSERVATIONS_ZERO, Cardiomegaly: 1 as const, Edema: 1 as const };
    const r1 = { ...OBSERVATIONS_ZERO, Cardiomegaly: 1 as const };
    const p2 = { ...OBSERVATIONS_ZERO };
    const r2 = { ...OBSERVATIONS_ZERO, Edema: 1 as const };
    const ce = clinicalEfficacy([p1, p2], [r1, r2]);
    // Cardiomegaly tp 1; Edema fp 1, fn 1 → micro P = 1/2, R = 1/2, F1 = 1/2
    expect(ce.microPrecision).toBeCloseTo(0.5, 12);
    expect(ce.microRecall).toBeCloseTo(0.5, 12);
    expect(ce.microF1).toBeCloseTo(0.5, 12);
    // macro: only Cardiomegaly has P = R = F1 = 1; the other 13 are 0
    expect(ce.macroF1).toBeCloseTo(1 / 14, 12);
    expect(ce.macroPrecision).toBeCloseTo(1 / 14, 12);
  });
});
