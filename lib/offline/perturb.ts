// Clinical perturbation engine (offline hallucinator): turns a ground-truth report or answer into a
// fluent but clinically wrong one — laterality swap, negation flip, finding substitution by a
// plausible neighbour, severity/size change, location change. Short VQA answers get sensible flips
// (yes↔no, left↔right, finding→neighbour, small↔large). Deterministic from the Rng passed in
// (core/rng.ts seededRng(seed, itemId, purpose)).
import type { Rng } from '../../core/rng';
import { FINDINGS, NEIGHBOURS } from './findings';

export interface Perturbation {
  text: string;
  conflicts: string[];
}

const SWAPS: [RegExp, string, string][] = [
  [/\bleft\b/i, 'left', 'right'],
  [/\bright\b/i, 'right', 'left'],
  [/\bsmall\b/i, 'small', 'large'],
  [/\blarge\b/i, 'large', 'small'],
  [/\bmild\b/i, 'mild', 'severe'],
  [/\bmoderate\b/i, 'moderate', 'massive'],
  [/\bsevere\b/i, 'severe', 'mild'],
  [/\btrace\b/i, 'trace', 'large'],
  [/\bminimal\b/i, 'minimal', 'extensive'],
  [/\bupper\b/i, 'upper', 'lower'],
  [/\blower\b/i, 'lower', 'upper'],
  [/\bapical\b/i, 'apical', 'basilar'],
  [/\bbasilar\b/i, 'basilar', 'apical'],
  [/\bnormal\b/i, 'normal', 'enlarged'],
  [/\benlarged\b/i, 'enlarged', 'normal'],
  [/\bincreased\b/i, 'increased', 'decreased'],
  [/\bdecreased\b/i, 'decreased', 'increased'],
];

function matchCase(src: string, word: string): string {
  return src[0] && src[0] === src[0].toUpperCase() ? word[0]!.toUpperCase() + word.slice(1) : word;
}

type Op = (t: string, rng: Rng) => Perturbation | null;

const lateralitySwap: Op = (t) => {
  if (!/\b(left|right)\b/i.test(t)) return null;
  const text = t.replace(/\b(left|right)\b/gi, (m) => matchCase(m, m.toLowerCase() === 'left' ? 'right' : 'left'));
  return { text, conflicts: ['laterality swapped (left ↔ right)'] };
};

const negationFlip: Op = (t, rng) => {
  // "No X" → "There is X" / "X is present" → "No X": flip one sentence.
  const sents = t.split(/(?<=[.!?])\s+/);
  const idx = sents.map((s, i) => [s, i] as const).filter(([s]) => /\b(no|without|negative for|not)\b/i.test(s) || /\b(is|are) (seen|present|noted)\b/i.test(s));
  if (!idx.length) return null;
  const [s, i] = rng.pick(idx);
  let out: string;
  if (/^\s*no\b/i.test(s)) out = s.replace(/^\s*no\s+(evidence of\s+)?/i, 'There is ');
  else if (/\b(no|without|negative for)\b/i.test(s)) out = s.replace(/\b(no|without|negative for)\s+(evidence of\s+)?/i, (m) => (/^without/i.test(m) ? 'with ' : /^negative/i.test(m) ? 'positive for ' : 'a '));
  else if (/\bnot\b/i.test(s)) out = s.replace(/\bnot\s+/i, '');
  else out = s.replace(/\b(is|are) (seen|present|noted)\b/i, '$1 not $2');
  if (out === s) return null;
  sents[i] = out;
  return { text: sents.join(' '), conflicts: [`negation flipped: "${s.trim()}" → "${out.trim()}"`] };
};

const findingSubstitution: Op = (t, rng) => {
  const hits: { f: string; form: string; index: number }[] = [];
  for (const [f, forms] of Object.entries(FINDINGS)) {
    for (const form of forms) {
      const m = new RegExp(`\\b${form}\\b`, 'i').exec(t);
      if (m) {
        hits.push({ f, form: m[0], index: m.index });
        break;
      }
    }
  }
  if (!hits.length) return null;
  hits.sort((a, b) => a.index - b.index);
  const h = rng.pick(hits);
  const to = rng.pick(NEIGHBOURS[h.f] ?? ['mass']);
  const word = FINDINGS[to]?.[0] ?? to;
  const text = t.slice(0, h.index) + matchCase(h.form, word) + t.slice(h.index + h.form.length);
  return { text, conflicts: [`${h.f} replaced by ${to}`] };
};

const wordSwap: Op = (t, rng) => {
  const options = SWAPS.filter(([re]) => re.test(t) && !/^(left|right)$/.test(re.source.replace(/\\b/g, '')));
  if (!options.length) return null;
  const [re, from, to] = rng.pick(options);
  const text = t.replace(re, (m) => matchCase(m, to));
  const kind = ['upper', 'lower', 'apical', 'basilar'].includes(from) ? 'location' : 'severity/size';
  return { text, conflicts: [`${kind} changed: ${from} → ${to}`] };
};

const DIAGNOSES = ['pneumonia', 'pleural effusion', 'pneumothorax', 'cardiomegaly', 'a lung mass', 'pulmonary edema', 'a rib fracture'];

const addFinding: Op = (t, rng) => {
  const side = rng.pick(['left', 'right']);
  const dx = rng.pick(DIAGNOSES);
  return { text: `${t.trim().replace(/[.]?$/, '.')} There is ${dx} in the ${side} ${rng.pick(['lower lobe', 'upper lobe', 'base'])}.`.replace(/There is a /, 'There is a ').replace(/^\./, ''), conflicts: [`adds ${dx} (${side}), absent from the ground truth`] };
};

const SHORT_FLIPS: [RegExp, string][] = [
  [/^yes\b/i, 'no'],
  [/^no\b/i, 'yes'],
  [/^left\b/i, 'right'],
  [/^right\b/i, 'left'],
  [/^small\b/i, 'large'],
  [/^large\b/i, 'small'],
  [/^normal\b/i, 'abnormal'],
  [/^abnormal\b/i, 'normal'],
  [/^true\b/i, 'false'],
  [/^false\b/i, 'true'],
  [/^bilateral\b/i, 'unilateral'],
];
const SHORT_FALLBACK = ['chest', 'abdomen', 'brain', 'CT', 'MRI', 'x-ray', 'axial', 'coronal', 'lung', 'liver', 'kidney'];

/** Short VQA answers: yes↔no, left↔right, finding→neighbour, small↔large, else a plausible wrong term. */
export function perturbShort(answer: string, rng: Rng): Perturbation {
  const a = answer.trim();
  for (const [re, to] of SHORT_FLIPS) {
    if (re.test(a)) {
      const text = a.replace(re, (m) => matchCase(m, to));
      return { text, conflicts: [`answer flipped: "${a}" → "${text}"`] };
    }
  }
  if (/\b(left|right)\b/i.test(a)) return lateralitySwap(a, rng)!;
  const sub = findingSubstitution(a, rng);
  if (sub) return sub;
  const sw = wordSwap(a, rng);
  if (sw) return sw;
  const pool = SHORT_FALLBACK.filter((w) => w.toLowerCase() !== a.toLowerCase());
  const text = rng.pick(pool);
  return { text, conflicts: [`answer replaced: "${a}" → "${text}"`] };
}

/** Whether an answer is short enough for the VQA flips (≤ 4 words). */
export function isShortAnswer(t: string): boolean {
  return t.trim().split(/\s+/).length <= 4;
}

/** One or two clinical perturbations of a report/answer, fluent and deterministic from rng. */
export function perturb(text: string, rng: Rng, maxOps = 2): Perturbation {
  if (isShortAnswer(text)) return perturbShort(text, rng);
  const ops: Op[] = rng.shuffle([lateralitySwap, negationFlip, findingSubstitution, wordSwap]);
  let cur = text;
  const conflicts: string[] = [];
  const n = 1 + rng.int(maxOps);
  for (const op of ops) {
    if (conflicts.length >= n) break;
    const r = op(cur, rng);
    if (r && r.text !== cur) {
      cur = r.text;
      conflicts.push(...r.conflicts);
    }
  }
  if (!conflicts.length) {
    const r = addFinding(cur, rng)!;
    cur = r.text;
    conflicts.push(...r.conflicts);
  }
  return { text: cur, conflicts };
}
