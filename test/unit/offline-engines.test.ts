// Offline engines: finding extraction, clinical perturbations, placeholder target, judge, heuristic agents.
import { seededRng } from '../../core/rng';
import { extractFindings, findConflicts } from '../../lib/offline/findings';
import { perturb, perturbShort } from '../../lib/offline/perturb';
import { offlineAgent, offlineJudgeGenerate, offlineJudgeSelect, offlineTarget } from '../../lib/offline/engines';
import { OFFLINE_GROUND_TRUTHS, playOfflineDebate } from '../helpers/offline-debate';

const REPORT = 'There is a small left pleural effusion. No pneumothorax. The heart size is normal.';

describe('finding extractor', () => {
  test('findings with laterality and negation', () => {
    const f = extractFindings(REPORT);
    expect(f).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ finding: 'effusion', laterality: 'left', negated: false }),
        expect.objectContaining({ finding: 'pneumothorax', negated: true }),
      ]),
    );
  });
  test('conflicts: laterality, negation, yes/no, agreement', () => {
    expect(findConflicts(REPORT, 'There is a small right pleural effusion. No pneumothorax.')).toEqual(['effusion on the right instead of the left']);
    expect(findConflicts(REPORT, 'There is a small left pleural effusion. There is pneumothorax.')).toEqual(['asserts pneumothorax, which the ground truth denies']);
    expect(findConflicts('yes', 'no')).toHaveLength(1);
    expect(findConflicts('yes', 'Yes')).toEqual([]);
    expect(findConflicts(REPORT, REPORT)).toEqual([]);
  });
});

describe('perturbation engine', () => {
  test('short answers flip sensibly', () => {
    const r = seededRng(1, 'x', 'p');
    expect(perturbShort('yes', r).text).toBe('no');
    expect(perturbShort('No', r).text).toBe('Yes');
    expect(perturbShort('left', r).text).toBe('right');
    expect(perturbShort('small', r).text).toBe('large');
    expect(['atelectasis', 'pulmonary edema']).toContain(perturbShort('pneumonia', r).text);
  });
  test('reports change clinically, deterministically from (seed, item, purpose)', () => {
    const a = perturb(REPORT, seededRng(3, 'item-1', 'h'));
    const b = perturb(REPORT, seededRng(3, 'item-1', 'h'));
    expect(a).toEqual(b);
    expect(a.text).not.toBe(REPORT);
    expect(a.conflicts.length).toBeGreaterThan(0);
    // Over many seeds the text changes every time and the conflict checker sees a difference most of the time.
    let seen = 0;
    for (let s = 0; s < 50; s++) {
      const p = perturb(REPORT, seededRng(s, 'item', 'h'));
      expect(p.text).not.toBe(REPORT);
      if (findConflicts(REPORT, p.text).length) seen++;
    }
    expect(seen).toBeGreaterThan(35);
  });
});

describe('offline roles', () => {
  test('placeholder target: ground truth or a perturbation, reproducible per sample index', () => {
    const outs = Array.from({ length: 40 }, (_, k) => offlineTarget({ seed: 0, itemId: 'i', groundTruth: REPORT, sampleIndex: k }));
    expect(outs).toEqual(Array.from({ length: 40 }, (_, k) => offlineTarget({ seed: 0, itemId: 'i', groundTruth: REPORT, sampleIndex: k })));
    const exact = outs.filter((o) => o === REPORT).length;
    expect(exact).toBeGreaterThan(5);
    expect(exact).toBeLessThan(35);
  });
  test('judge selects the most conflicting candidate, or none', () => {
    const cands = [REPORT, 'There is a small right pleural effusion. There is pneumothorax.', 'There is a small right pleural effusion. No pneumothorax.'];
    expect(JSON.parse(offlineJudgeSelect({ groundTruth: REPORT, candidates: cands }))).toMatchObject({ index: 1 });
    expect(JSON.parse(offlineJudgeSelect({ groundTruth: REPORT, candidates: [REPORT] }))).toEqual({ index: null, conflicts: [] });
    const g = JSON.parse(offlineJudgeGenerate({ seed: 0, itemId: 'i', groundTruth: 'yes' }));
    expect(g.response).toBe('no');
  });
  test('heuristic agents differ, and debates both reach consensus and hit the cap', () => {
    const scale = { min: 1, max: 10 };
    const models = ['offline-heuristic-entity', 'offline-heuristic-anatomy', 'offline-heuristic-distance'];
    const firstScores = models.map((m) => JSON.parse(offlineAgent({ model: m, yl: 'There is a large right pneumothorax.', groundTruth: REPORT, scale })).score);
    expect(new Set(firstScores).size).toBeGreaterThan(1);
    // Agreement within tolerance adopts the previous score.
    const agree = JSON.parse(offlineAgent({ model: models[1]!, yl: 'There is a large right pneumothorax.', groundTruth: REPORT, previous: { score: firstScores[1]! + 1 }, scale }));
    expect(agree).toMatchObject({ agree: true, score: firstScores[1]! + 1 });
  });
  test('offline debates over judge-written hallucinations: some reach consensus in a later round, some hit the cap', () => {
    const models = ['offline-heuristic-entity', 'offline-heuristic-anatomy', 'offline-heuristic-distance'];
    const outs = OFFLINE_GROUND_TRUTHS.map((gt, i) => {
      const yl = JSON.parse(offlineJudgeGenerate({ seed: 1, itemId: `i${i}`, groundTruth: gt })).response as string;
      return playOfflineDebate({ yl, groundTruth: gt, models, rounds: 5, scale: { min: 1, max: 10 } }).outcome;
    });
    expect(outs.filter((o) => o.consensus && o.rounds > 1).length).toBeGreaterThan(0);
    const capped = outs.filter((o) => o.atCap);
    expect(capped.length).toBeGreaterThan(0);
    for (const o of capped) expect(o.turns).toBe(15);
  });
});
