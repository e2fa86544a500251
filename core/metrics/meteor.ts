// METEOR — what is implemented, exactly:
//   nltk.translate.meteor_score.single_meteor_score's algorithm: exact stage, Porter-stem stage,
//   then the WordNet synonym stage when a SynonymSource is given (core/metrics/wordnet.ts on the
//   WordNet 3.0 database, loaded by lib/wordnet.ts) — as in nltk, the synonym stage sees the
//   *stemmed* leftovers of the stem stage. Without WordNet data the synonym stage matches nothing,
//   identical to nltk's meteor_score with a WordNet stub that has no synonyms; the description
//   returned by meteorDescription() says which stages ran. No paraphrase stage (METEOR 1.5's
//   paraphrase table is not available). Alignment is nltk's greedy one (each stage matches a
//   hypothesis word, scanning right to left, to the latest unused reference word with the same
//   form/stem/synonym), not METEOR 1.5's beam search.
//
//   m = #matches, P = m/|hyp|, R = m/|ref|, Fmean = P·R / (α·P + (1−α)·R),
//   chunks = fewest runs of adjacent matches in both strings, frag = chunks/m,
//   penalty = γ · frag^β, score = (1 − penalty) · Fmean; 0 when m = 0 or either side is empty.
//   Parameters: nltk defaults α = 0.9, β = 3, γ = 0.5 (the `mmedpo-release` convention). The
//   `pycoco` convention's METEOR is METEOR 1.5 itself (lib/meteor15.ts runs the jar), not this.
import { porterStem } from './porter';
import type { SynonymSource } from './wordnet';

export interface MeteorParams {
  alpha: number;
  beta: number;
  gamma: number;
}
export const METEOR_NLTK: MeteorParams = { alpha: 0.9, beta: 3.0, gamma: 0.5 };
export function meteorDescription(wordnet?: SynonymSource | null): string {
  return wordnet
    ? `METEOR (nltk meteor_score): exact + Porter-stem + WordNet synonym stages (${wordnet.description}); nltk greedy alignment`
    : 'METEOR (nltk meteor_score): exact + Porter-stem matching stages only; no WordNet synonyms (no WordNet data found); nltk greedy alignment';
}
/** Description when no WordNet is loaded. */
export const METEOR_DESCRIPTION = meteorDescription(null);

type Enum = Array<[number, string]>;

function matchEnums(hyp: Enum, ref: Enum): { matches: Array<[number, number]>; hyp: Enum; ref: Enum } {
  const positions = new Map<string, number[]>();
  for (let j = 0; j < ref.length; j++) {
    const w = ref[j][1];
    let a = positions.get(w);
    if (!a) positions.set(w, (a = []));
    a.push(j);
  }
  const matches: Array<[number, number]> = [];
  const mh = new Set<number>();
  const mr = new Set<number>();
  for (let i = hyp.length - 1; i >= 0; i--) {
    const a = positions.get(hyp[i][1]);
    if (a && a.length) {
      const j = a.pop() as number;
      mh.add(i);
      mr.add(j);
      matches.push([hyp[i][0], ref[j][0]]);
    }
  }
  return { matches, hyp: hyp.filter((_, i) => !mh.has(i)), ref: ref.filter((_, j) => !mr.has(j)) };
}

/** nltk _enum_wordnetsyn_match: hypothesis words right to left, each to the highest unused
 * reference position holding one of its synonyms. */
function matchSynonyms(hyp: Enum, ref: Enum, wn: SynonymSource): Array<[number, number]> {
  const positions = new Map<string, number[]>();
  for (let j = 0; j < ref.length; j++) {
    const w = ref[j][1];
    let a = positions.get(w);
    if (!a) positions.set(w, (a = []));
    a.push(j);
  }
  const matches: Array<[number, number]> = [];
  for (let i = hyp.length - 1; i >= 0; i--) {
    let bestJ = -1;
    let best: number[] | undefined;
    for (const syn of wn.synonyms(hyp[i][1])) {
      const a = positions.get(syn);
      if (a && a.length && a[a.length - 1] > bestJ) {
        bestJ = a[a.length - 1];
        best = a;
      }
    }
    if (best) {
      best.pop();
      matches.push([hyp[i][0], ref[bestJ][0]]);
    }
  }
  return matches;
}

function countChunks(m: Array<[number, number]>): number {
  let chunks = 1;
  for (let i = 0; i < m.length - 1; i++) if (!(m[i + 1][0] === m[i][0] + 1 && m[i + 1][1] === m[i][1] + 1)) chunks++;
  return chunks;
}

/** nltk single_meteor_score(reference, hypothesis); synonym stage only when `wordnet` is given. */
export function meteor(hyp: readonly string[], ref: readonly string[], p: MeteorParams = METEOR_NLTK, wordnet?: SynonymSource | null): number {
  const h: Enum = hyp.map((w, i) => [i, w.toLowerCase()]);
  const r: Enum = ref.map((w, i) => [i, w.toLowerCase()]);
  const ex = matchEnums(h, r);
  const st = matchEnums(
    ex.hyp.map(([i, w]) => [i, porterStem(w)]),
    ex.ref.map(([i, w]) => [i, porterStem(w)]),
  );
  const sy = wordnet && st.hyp.length && st.ref.length ? matchSynonyms(st.hyp, st.ref, wordnet) : [];
  const all = [...ex.matches, ...st.matches, ...sy].sort((a, b) => a[0] - b[0]);
  const count = all.length;
  if (count === 0 || hyp.length === 0 || ref.length === 0) return 0;
  const precision = count / hyp.length;
  const recall = count / ref.length;
  const fmean = (precision * recall) / (p.alpha * precision + (1 - p.alpha) * recall);
  const chunks = countChunks(all);
  const frag = chunks / count;
  const penalty = p.gamma * frag ** p.beta;
  return (1 - penalty) * fmean;
}
