// BLEU, two conventions.
//
// pycoco (pycocoevalcap Bleu(4), as R2Gen uses it) — corpus level:
//   tokens = whitespace split; for each study and n = 1..4:
//     correct_n += Σ_g min(count_hyp(g), count_ref(g))   (clipped n-gram matches)
//     guess_n   += max(0, len_hyp − n + 1)
//   reflen = the reference length closest to len_hyp (ties → shorter), summed over studies.
//   BLEU-N = ( Π_{n≤N} (correct_n + 1e-15) / (guess_n + 1e-9) )^(1/N)
//            × exp(1 − 1/ratio) when ratio = (Σlen_hyp + 1e-15)/(Σreflen + 1e-9) < 1.
//
// nltk (per item, `sentence_bleu(..., smoothing_function=SmoothingFunction().method7)`):
//   p_n = clipped matches / max(1, hyp n-grams) for n = 1..4 (5 for method 5's look-ahead);
//   returns 0 when there is no unigram match; method 4: for each p_n with 0 matches (and
//   len_hyp > 1), p_n = (1 / (2^c · k / ln len_hyp)) / denom_n with c = 1, 2, … and k = 5;
//   method 5: p_n ← (m_{n−1} + p_n + p_{n+1}) / 3 with m_0 = p_1 + 1 and p_5 = unsmoothed
//   5-gram precision; score = BP · exp(Σ w_n ln p_n) over p_n > 0, BP = 1 if len_hyp > r,
//   0 if len_hyp = 0, else exp(1 − r/len_hyp).

export interface NgramCounts { len: number; counts: Map<string, number>[] }

const SEP = '\u0001';

/** n-gram counts for n = 1..maxN (keys are tokens joined by U+0001). */
export function ngramCounts(tokens: readonly string[], maxN: number): NgramCounts {
  const counts: Map<string, number>[] = [];
  for (let n = 1; n <= maxN; n++) {
    const m = new Map<string, number>();
    for (let i = 0; i + n <= tokens.length; i++) {
      const key = n === 1 ? tokens[i] : tokens.slice(i, i + n).join(SEP);
      m.set(key, (m.get(key) ?? 0) + 1);
    }
    counts.push(m);
  }
  return { len: tokens.length, counts };
}

function clipped(hyp: Map<string, number>, ref: Map<string, number>): number {
  let c = 0;
  for (const [g, k] of hyp) {
    const r = ref.get(g);
    if (r) c += Math.min(k, r);
  }
  return c;
}

export interface PycocoBleuStats { correct: number[]; guess: number[]; testlen: number; reflen: number }

/**
 * Σ_g min(count_hyp(g), count_ref(g)) for n = 1..maxN, by interning the pair's tokens to small
 * integers and keying n-grams by a base-L number (L = local vocabulary size); falls back to
 * string keys when L^maxN would exceed 2^53.
 */
export function clippedMatches(hyp: readonly string[], ref: readonly string[], maxN: number): number[] {
  const ids = new Map<string, number>();
  const h = new Int32Array(hyp.length);
  const r = new Int32Array(ref.length);
  for (let i = 0; i < ref.length; i++) {
    let id = ids.get(ref[i]);
    if (id === undefined) ids.set(ref[i], (id = ids.size));
    r[i] = id;
  }
  for (let i = 0; i < hyp.length; i++) {
    let id = ids.get(hyp[i]);
    if (id === undefined) ids.set(hyp[i], (id = ids.size));
    h[i] = id;
  }
  const L = ids.size + 1;
  const out: number[] = [];
  if (L ** maxN > 2 ** 53) {
    const hc = ngramCounts(hyp, maxN);
    const rc = ngramCounts(ref, maxN);
    for (let k = 0; k < maxN; k++) out.push(clipped(hc.counts[k], rc.counts[k]));
    return out;
  }
  // keys of n-grams starting at i, extended in place from n−1 to n; sorted copies merged.
  const kh = Float64Array.from(h);
  const kr = Float64Array.from(r);
  for (let n = 1; n <= maxN; n++) {
    const nh = Math.max(0, h.length - n + 1);
    const nr = Math.max(0, r.length - n + 1);
    if (n > 1) {
      for (let i = 0; i < nh; i++) kh[i] = kh[i] * L + h[i + n - 1];
      for (let i = 0; i < nr; i++) kr[i] = kr[i] * L + r[i + n - 1];
    }
    if (nh === 0 || nr === 0) {
      out.push(0);
      continue;
    }
    const sh = kh.slice(0, nh).sort();
    const sr = kr.slice(0, nr).sort();
    let i = 0;
    let j = 0;
    let c = 0;
    while (i < nh && j < nr) {
      if (sh[i] < sr[j]) i++;
      else if (sh[i] > sr[j]) j++;
      else {
        c++;
        i++;
        j++;
      }
    }
    out.push(c);
  }
  return out;
}

export interface PycocoBleuStats { correct: number[]; guess: number[]; testlen: number; reflen: number }

/** Per-study sufficient statistics for pycoco corpus BLEU (one reference per study). */
export function pycocoBleuStats(hyp: readonly string[], ref: readonly string[], n = 4): PycocoBleuStats {
  const correct = clippedMatches(hyp, ref, n);
  const guess: number[] = [];
  for (let k = 0; k < n; k++) guess.push(Math.max(0, hyp.length - k));
  return { correct, guess, testlen: hyp.length, reflen: ref.length };
}

/** pycocoevalcap Bleu(n).compute_score(option='closest') → [BLEU-1, …, BLEU-n]. */
export function pycocoCorpusBleu(stats: readonly PycocoBleuStats[], n = 4): number[] {
  const tiny = 1e-15;
  const small = 1e-9;
  const correct = new Array<number>(n).fill(0);
  const guess = new Array<number>(n).fill(0);
  let testlen = 0;
  let reflen = 0;
  for (const s of stats) {
    testlen += s.testlen;
    reflen += s.reflen; // one reference: the closest length is its length
    for (let k = 0; k < n; k++) {
      correct[k] += s.correct[k];
      guess[k] += s.guess[k];
    }
  }
  const out: number[] = [];
  let b = 1;
  for (let k = 0; k < n; k++) {
    b *= (correct[k] + tiny) / (guess[k] + small);
    out.push(b ** (1 / (k + 1)));
  }
  const ratio = (testlen + tiny) / (reflen + small);
  if (ratio < 1) for (let k = 0; k < n; k++) out[k] *= Math.exp(1 - 1 / ratio);
  return out;
}

/** Convenience: pycoco corpus BLEU-1..4 from token lists. */
export function bleuPycoco(hyps: readonly (readonly string[])[], refs: readonly (readonly string[])[]): number[] {
  return pycocoCorpusBleu(hyps.map((h, i) => pycocoBleuStats(h, refs[i])));
}

export const NLTK_SINGLE_WEIGHTS: readonly (readonly number[])[] = [
  [1, 0, 0, 0],
  [0, 1, 0, 0],
  [0, 0, 1, 0],
  [0, 0, 0, 1],
];
export const NLTK_CUMULATIVE_WEIGHTS: readonly number[] = [0.25, 0.25, 0.25, 0.25];

/**
 * nltk.translate.bleu_score.sentence_bleu([ref], hyp, weights, SmoothingFunction().method7)
 * for several weight vectors of the same length at once (as nltk does for a list of weights).
 */
export function sentenceBleuMethod7(hyp: readonly string[], ref: readonly string[], weightsList: readonly (readonly number[])[]): number[] {
  const maxN = Math.max(...weightsList.map((w) => w.length));
  const num: number[] = clippedMatches(hyp, ref, maxN + 1);
  const den: number[] = [];
  for (let k = 0; k <= maxN; k++) {
    den.push(Math.max(1, Math.max(0, hyp.length - k)));
  }
  if (num[0] === 0) return weightsList.map(() => 0);
  const hypLen = hyp.length;
  const refLen = ref.length;
  const bp = hypLen > refLen ? 1 : hypLen === 0 ? 0 : Math.exp(1 - refLen / hypLen);
  // method 4 (k = 5) on orders 1..maxN
  const p: number[] = [];
  let incvnt = 1;
  for (let k = 0; k < maxN; k++) {
    if (num[k] === 0 && hypLen > 1) {
      const numerator = 1 / ((2 ** incvnt * 5) / Math.log(hypLen));
      p.push(numerator / den[k]);
      incvnt++;
    } else p.push(num[k] / den[k]);
  }
  // method 5 (uses the unsmoothed (maxN+1)-gram precision as look-ahead)
  const plus = [...p, num[maxN] / den[maxN]];
  let prev = p[0] + 1;
  for (let k = 0; k < maxN; k++) {
    p[k] = (prev + plus[k] + plus[k + 1]) / 3;
    prev = p[k];
  }
  return weightsList.map((w) => {
    let s = 0;
    for (let k = 0; k < w.length; k++) if (p[k] > 0) s += w[k] * Math.log(p[k]);
    return bp * Math.exp(s);
  });
}
