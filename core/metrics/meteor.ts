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
//   Parameters: nltk defaults α = 0.9, β = 3, γ = 0.5 (the `mmedpo-release` convention).
//   `METEOR15_EN` = METEOR 1.5 English α = 0.85, β = 0.20, γ = 0.60 with module weights
//   exact 1.0 / stem 0.6 / synonym 0.8 (weighted match counts) and METEOR 1.5's rule that a
//   perfect single-chunk match has no fragmentation penalty; δ = 0.75 (content vs function words)
//   is NOT applied because METEOR's function-word list is not available — all words count as
//   content.
import { porterStem } from './porter';
import type { SynonymSource } from './wordnet';

export interface MeteorParams {
  alpha: number;
  beta: number;
  gamma: number;
  /** Weight of a stem-stage match in P and R (1 in nltk; 0.6 in METEOR 1.5 English). */
  stemWeight: number;
  /** Weight of a synonym-stage match (1 in nltk; 0.8 in METEOR 1.5 English). */
  synonymWeight: number;
  /** METEOR 1.5: fragmentation is 0 when every word of both sides matched in one chunk. */
  perfectNoPenalty: boolean;
}
export const METEOR_NLTK: MeteorParams = { alpha: 0.9, beta: 3.0, gamma: 0.5, stemWeight: 1, synonymWeight: 1, perfectNoPenalty: false };
export const METEOR15_EN: MeteorParams = { alpha: 0.85, beta: 0.2, gamma: 0.6, stemWeight: 0.6, synonymWeight: 0.8, perfectNoPenalty: true };
export function meteorDescription(wordnet?: SynonymSource | null): string {
  return wordnet
    ? `METEOR: exact + Porter-stem + WordNet synonym stages (${wordnet.description}); no paraphrase table (not available offline); nltk greedy alignment`
    : 'METEOR (approximation): exact + Porter-stem matching stages only; no WordNet synonyms (no WordNet data found) and no paraphrase table; nltk greedy alignment';
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
  const weighted = ex.matches.length + p.stemWeight * st.matches.length + p.synonymWeight * sy.length;
  const precision = weighted / hyp.length;
  const recall = weighted / ref.length;
  const fmean = (precision * recall) / (p.alpha * precision + (1 - p.alpha) * recall);
  const chunks = countChunks(all);
  const frag = p.perfectNoPenalty && chunks === 1 && count === hyp.length && count === ref.length ? 0 : chunks / count;
  const penalty = p.gamma * frag ** p.beta;
  return (1 - penalty) * fmean;
}
