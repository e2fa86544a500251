// Porter stemmer, a line-by-line port of nltk.stem.porter.PorterStemmer in its default
// NLTK_EXTENSIONS mode (nltk 3.10), so that METEOR's stem stage matches nltk exactly.

const VOWELS = new Set(['a', 'e', 'i', 'o', 'u']);
const POOL: Record<string, string> = {};
for (const [k, vs] of Object.entries({
  sky: ['sky', 'skies'], die: ['dying'], lie: ['lying'], tie: ['tying'], news: ['news'],
  inning: ['innings', 'inning'], outing: ['outings', 'outing'], canning: ['cannings', 'canning'],
  howe: ['howe'], proceed: ['proceed'], exceed: ['exceed'], succeed: ['succeed'],
})) for (const v of vs) POOL[v] = k;

function isConsonant(word: string, i: number): boolean {
  if (VOWELS.has(word[i])) return false;
  if (word[i] === 'y') {
    let negate = false;
    while (i > 0 && word[i] === 'y') {
      negate = !negate;
      i--;
    }
    return !VOWELS.has(word[i]) !== negate;
  }
  return true;
}

function consonantFlags(word: string): boolean[] {
  const f: boolean[] = [];
  for (let i = 0; i < word.length; i++) {
    const ch = word[i];
    if (VOWELS.has(ch)) f.push(false);
    else if (ch === 'y') f.push(i === 0 ? true : !f[i - 1]);
    else f.push(true);
  }
  return f;
}

function measure(stem: string): number {
  const f = consonantFlags(stem);
  let c = 0;
  for (let i = 0; i + 1 < f.length; i++) if (!f[i] && f[i + 1]) c++;
  return c;
}
const posMeasure = (s: string) => measure(s) > 0;
const containsVowel = (s: string) => !consonantFlags(s).every(Boolean);
const endsDoubleConsonant = (w: string) => w.length >= 2 && w[w.length - 1] === w[w.length - 2] && isConsonant(w, w.length - 1);
function endsCvc(w: string): boolean {
  const n = w.length;
  return (
    (n >= 3 && isConsonant(w, n - 3) && !isConsonant(w, n - 2) && isConsonant(w, n - 1) && !['w', 'x', 'y'].includes(w[n - 1])) ||
    (n === 2 && !isConsonant(w, 0) && isConsonant(w, 1))
  );
}

type Rule = [string, string, ((stem: string) => boolean) | null];

function applyRules(word: string, rules: Rule[]): string {
  for (const [suffix, repl, cond] of rules) {
    if (suffix === '*d' && endsDoubleConsonant(word)) {
      const stem = word.slice(0, -2);
      return cond === null || cond(stem) ? stem + repl : word;
    }
    if (word.endsWith(suffix)) {
      const stem = suffix === '' ? word : word.slice(0, word.length - suffix.length);
      return cond === null || cond(stem) ? stem + repl : word;
    }
  }
  return word;
}

function step1a(w: string): string {
  if (w.endsWith('ies') && w.length === 4) return w.slice(0, -3) + 'ie';
  return applyRules(w, [['sses', 'ss', null], ['ies', 'i', null], ['ss', 'ss', null], ['s', '', null]]);
}

function step1b(w: string): string {
  if (w.endsWith('ied')) return w.slice(0, -3) + (w.length === 4 ? 'ie' : 'i');
  if (w.endsWith('eed')) {
    const stem = w.slice(0, -3);
    return measure(stem) > 0 ? stem + 'ee' : w;
  }
  let inter: string | null = null;
  for (const suf of ['ed', 'ing']) {
    if (w.endsWith(suf)) {
      const s = w.slice(0, w.length - suf.length);
      if (containsVowel(s)) {
        inter = s;
        break;
      }
    }
  }
  if (inter === null) return w;
  const last = inter[inter.length - 1];
  return applyRules(inter, [
    ['at', 'ate', null],
    ['bl', 'ble', null],
    ['iz', 'ize', null],
    ['*d', last, () => !['l', 's', 'z'].includes(last)],
    ['', 'e', (stem) => measure(stem) === 1 && endsCvc(stem)],
  ]);
}

const step1c = (w: string) => applyRules(w, [['y', 'i', (stem) => stem.length > 1 && isConsonant(stem, stem.length - 1)]]);

function step2(w: string): string {
  if (w.endsWith('alli') && posMeasure(w.slice(0, -4))) return step2(w.slice(0, -4) + 'al');
  const rules: Rule[] = [
    ['ational', 'ate', posMeasure], ['tional', 'tion', posMeasure], ['enci', 'ence', posMeasure],
    ['anci', 'ance', posMeasure], ['izer', 'ize', posMeasure], ['bli', 'ble', posMeasure],
    ['alli', 'al', posMeasure], ['entli', 'ent', posMeasure], ['eli', 'e', posMeasure],
    ['ousli', 'ous', posMeasure], ['ization', 'ize', posMeasure], ['ation', 'ate', posMeasure],
    ['ator', 'ate', posMeasure], ['alism', 'al', posMeasure], ['iveness', 'ive', posMeasure],
    ['fulness', 'ful', posMeasure], ['ousness', 'ous', posMeasure], ['aliti', 'al', posMeasure],
    ['iviti', 'ive', posMeasure], ['biliti', 'ble', posMeasure], ['fulli', 'ful', posMeasure],
    ['logi', 'log', () => posMeasure(w.slice(0, -3))],
  ];
  return applyRules(w, rules);
}

const step3 = (w: string) =>
  applyRules(w, [
    ['icate', 'ic', posMeasure], ['ative', '', posMeasure], ['alize', 'al', posMeasure],
    ['iciti', 'ic', posMeasure], ['ical', 'ic', posMeasure], ['ful', '', posMeasure], ['ness', '', posMeasure],
  ]);

function step4(w: string): string {
  const gt1 = (s: string) => measure(s) > 1;
  return applyRules(w, [
    ['al', '', gt1], ['ance', '', gt1], ['ence', '', gt1], ['er', '', gt1], ['ic', '', gt1],
    ['able', '', gt1], ['ible', '', gt1], ['ant', '', gt1], ['ement', '', gt1], ['ment', '', gt1],
    ['ent', '', gt1], ['ion', '', (s) => measure(s) > 1 && (s[s.length - 1] === 's' || s[s.length - 1] === 't')],
    ['ou', '', gt1], ['ism', '', gt1], ['ate', '', gt1], ['iti', '', gt1], ['ous', '', gt1],
    ['ive', '', gt1], ['ize', '', gt1],
  ]);
}

function step5a(w: string): string {
  if (w.endsWith('e')) {
    const stem = w.slice(0, -1);
    if (measure(stem) > 1) return stem;
    if (measure(stem) === 1 && !endsCvc(stem)) return stem;
  }
  return w;
}

const step5b = (w: string) => applyRules(w, [['ll', 'l', () => measure(w.slice(0, -1)) > 1]]);

const cache = new Map<string, string>();

/** nltk PorterStemmer().stem(word) (lowercases first). */
export function porterStem(word: string): string {
  const hit = cache.get(word);
  if (hit !== undefined) return hit;
  let s = word.toLowerCase();
  let out: string;
  if (Object.prototype.hasOwnProperty.call(POOL, s)) out = POOL[s];
  else if (word.length <= 2) out = s;
  else {
    s = step1a(s);
    s = step1b(s);
    s = step1c(s);
    s = step2(s);
    s = step3(s);
    s = step4(s);
    s = step5a(s);
    s = step5b(s);
    out = s;
  }
  if (cache.size < 100000) cache.set(word, out);
  return out;
}
