// Offline engines for roles without a baseURL. They produce reply TEXT in exactly the format a real
// endpoint is asked for, and are reached through the same activity code path (cache, validation,
// corrective re-ask, transcripts), so a campaign without endpoints exercises the whole pipeline.
//  - target: a deterministic PLACEHOLDER (not a model): answers the ground truth or a perturbation of it.
//  - judge: selection by the rule-based conflict check, generation by the clinical perturbation engine.
//  - agents: HEURISTIC scorers of clinical relevance (offline-heuristic-entity | -anatomy | -distance),
//    different by design so debates both reach consensus and hit the round cap. The distance heuristic
//    is given the ground truth by the activity (offline only; a real agent never sees it).
import { seededRng } from '../../core/rng';
import { entities, findConflicts, lateralityOf } from './findings';
import { perturb } from './perturb';

/** Probability the placeholder target returns the ground truth unchanged for a sample. */
export const OFFLINE_TARGET_EXACT_P = 0.4;

export function offlineTarget(o: { seed: number; itemId: string; groundTruth: string; sampleIndex: number }): string {
  const rng = seededRng(o.seed, o.itemId, `offline-target-${o.sampleIndex}`);
  if (rng.next() < OFFLINE_TARGET_EXACT_P) return o.groundTruth;
  return perturb(o.groundTruth, rng, 1).text;
}

export function offlineJudgeSelect(o: { groundTruth: string; candidates: string[] }): string {
  let best = -1;
  let bestConflicts: string[] = [];
  o.candidates.forEach((c, i) => {
    const conf = findConflicts(o.groundTruth, c);
    if (conf.length > bestConflicts.length) {
      best = i;
      bestConflicts = conf;
    }
  });
  return JSON.stringify(best < 0 ? { index: null, conflicts: [] } : { index: best, conflicts: bestConflicts });
}

export function offlineJudgeGenerate(o: { seed: number; itemId: string; groundTruth: string }): string {
  const rng = seededRng(o.seed, o.itemId, 'offline-judge-generate');
  let p = perturb(o.groundTruth, rng);
  for (let i = 0; i < 3 && p.text.trim() === o.groundTruth.trim(); i++) p = perturb(o.groundTruth, rng);
  return JSON.stringify({ response: p.text, conflicts: p.conflicts });
}

function tokens(t: string): Set<string> {
  return new Set(t.toLowerCase().replace(/[^a-z0-9 ]/g, ' ').split(/\s+/).filter((w) => w.length > 2));
}

/** Raw relevance in [0, 1] by each heuristic. */
export const HEURISTICS: Record<string, { raw: (yl: string, gt: string) => number; tolerance: number; describe: string }> = {
  entity: {
    raw: (yl) => {
      const e = entities(yl);
      return Math.min(1, (2 * e.findings.length + e.anatomy.length) / 6);
    },
    tolerance: 1,
    describe: 'clinical entities named',
  },
  anatomy: {
    raw: (yl) => {
      const e = entities(yl);
      let r = 0.3;
      if (e.anatomy.length) r += 0.3;
      if (lateralityOf(yl)) r += 0.2;
      if (e.findings.length) r += 0.2;
      return Math.min(1, r);
    },
    tolerance: 2,
    describe: 'anatomical plausibility',
  },
  distance: {
    raw: (yl, gt) => {
      const a = tokens(yl), b = tokens(gt);
      if (!a.size && !b.size) return 0;
      let inter = 0;
      for (const w of a) if (b.has(w)) inter++;
      return inter / (a.size + b.size - inter);
    },
    tolerance: 0,
    describe: 'closeness to the ground truth (a near-miss is clinically relevant)',
  },
};

export function heuristicFor(model: string): string {
  const m = /offline-heuristic-(\w+)/.exec(model);
  return m && HEURISTICS[m[1]!] ? m[1]! : 'distance';
}

/**
 * A heuristic agent's reply. It agrees (adopts the previous score) when its own estimate is within its
 * tolerance of it; the tolerance widens by one every two rounds (a panel member conceding over time),
 * so close disagreements settle in a later round and wide ones run to the cap.
 */
export function offlineAgent(o: { model: string; yl: string; groundTruth?: string; previous?: { score: number }; scale: { min: number; max: number }; round?: number }): string {
  const name = heuristicFor(o.model);
  const h = HEURISTICS[name]!;
  const own = Math.round(o.scale.min + (o.scale.max - o.scale.min) * h.raw(o.yl, o.groundTruth ?? ''));
  const tolerance = h.tolerance + Math.floor((o.round ?? 0) / 2);
  if (o.previous && Math.abs(own - o.previous.score) <= tolerance) {
    return JSON.stringify({ agree: true, score: o.previous.score, reason: `heuristic ${name}: own estimate ${own} is within ${tolerance} of ${o.previous.score}` });
  }
  return JSON.stringify({ agree: false, score: own, reason: `heuristic ${name}: ${h.describe}` });
}
