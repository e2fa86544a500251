// ROUGE-L, two conventions.
//
// pycoco (pycocoevalcap Rouge()): tokens = split on a single space " " (as pycoco does; an
//   empty string is one empty token); LCS by dynamic programming; P = LCS/|cand|,
//   R = LCS/|ref|; F = (1+β²)·P·R / (R + β²·P) with β = 1.2, 0 when P or R is 0.
//   Corpus score = mean of per-study F.
//
// rouge package (rouge 1.0.1, `Rouge().get_scores(hyp, ref)[0]['rouge-l']['f']`, the
//   authors' release): summary-level union-LCS with `exclusive=True` (sets of words):
//   sentences = pieces of text.split('.') that are non-empty, each whitespace-collapsed;
//   words = per-sentence split(" "); m = #distinct reference words, n = #distinct
//   candidate words; llcs = size of the union (as a set of words) of the LCS word lists
//   reconstructed for every (reference sentence, candidate sentence) pair, with the
//   package's back-tracking tie rule; R = llcs/m, P = llcs/n, F = 2PR/(P + R + 1e-8).
//   The package raises on an empty candidate; here an empty candidate or reference scores 0.

/** LCS length of two token arrays (O(n·m) time, O(min) memory). */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  if (a.length < b.length) [a, b] = [b, a];
  const m = b.length;
  if (m === 0) return 0;
  let prev = new Int32Array(m + 1);
  let cur = new Int32Array(m + 1);
  for (let i = 1; i <= a.length; i++) {
    const ai = a[i - 1];
    for (let j = 1; j <= m; j++) {
      cur[j] = ai === b[j - 1] ? prev[j - 1] + 1 : prev[j] > cur[j - 1] ? prev[j] : cur[j - 1];
    }
    [prev, cur] = [cur, prev];
  }
  return prev[m];
}

export const ROUGE_BETA = 1.2;

/** pycoco Rouge.calc_score for one candidate string and one reference string. */
export function rougeLPycoco(candidate: string, reference: string, beta = ROUGE_BETA): number {
  const c = candidate.split(' ');
  const r = reference.split(' ');
  const lcs = lcsLength(r, c);
  const p = lcs / c.length;
  const rec = lcs / r.length;
  if (p === 0 || rec === 0) return 0;
  return ((1 + beta * beta) * p * rec) / (rec + beta * beta * p);
}

function sentencesOf(text: string): string[] {
  return text
    .split('.')
    .filter((s) => s.length > 0)
    .map((s) => s.split(/\s+/).filter(Boolean).join(' '));
}

/** The words of the LCS of x and y, reconstructed like rouge's _recon_lcs (x = reference). */
function reconLcs(x: readonly string[], y: readonly string[], out: Set<string>): void {
  const n = x.length;
  const m = y.length;
  const w = m + 1;
  const t = new Int32Array((n + 1) * w);
  for (let i = 1; i <= n; i++) {
    for (let j = 1; j <= m; j++) {
      t[i * w + j] = x[i - 1] === y[j - 1] ? t[(i - 1) * w + j - 1] + 1 : Math.max(t[(i - 1) * w + j], t[i * w + j - 1]);
    }
  }
  let i = n;
  let j = m;
  while (i > 0 && j > 0) {
    if (x[i - 1] === y[j - 1]) {
      out.add(x[i - 1]);
      i--;
      j--;
    } else if (t[(i - 1) * w + j] > t[i * w + j - 1]) i--;
    else j--;
  }
}

/** rouge 1.0.1 ROUGE-L F (summary level, exclusive) for one hypothesis/reference pair. */
export function rougeLRougePackage(hyp: string, ref: string): number {
  const hs = sentencesOf(hyp);
  const rs = sentencesOf(ref);
  if (hs.length === 0 || rs.length === 0) return 0;
  const hw = hs.map((s) => s.split(' '));
  const rw = rs.map((s) => s.split(' '));
  const m = new Set(rw.flat()).size;
  const n = new Set(hw.flat()).size;
  const union = new Set<string>();
  for (const r of rw) for (const h of hw) reconLcs(r, h, union);
  const llcs = union.size;
  const R = llcs / m;
  const P = llcs / n;
  return 2.0 * ((P * R) / (P + R + 1e-8));
}
