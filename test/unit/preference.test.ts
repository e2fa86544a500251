import { buildVariantSet, CuratedPair, toLlavaJson } from '../../core/preference';

const norm = { mode: 'zscore' as const, mean: 1, variance: 0.1, alpha: 0.75, beta: 1.25 };
const scale = { min: 1, max: 10 };
const tp = (id: string, score: number, singleScore?: number): CuratedPair => ({ id, branch: 'text', image: `img/${id}`, prompt: 'Q?', chosen: 'yes', rejected: 'no', score, singleScore });
const vp = (id: string, score: number, tag = 'local'): CuratedPair => ({ id, branch: 'visual', image: `img/${id}`, rejectedImage: `noised-${tag}/${id}`, prompt: 'Q?', chosen: 'yes', rejected: 'yes', score });

describe('variant preference sets', () => {
  const text = [tp('a', 2, 5), tp('b', 8, 5)];
  const visual = [vp('a', 0.2), vp('b', 0.9)];
  const global = [vp('a', 0.2, 'global'), vp('b', 0.9, 'global')];

  it('mmedpo: D_t ∪ D_v with per-branch normalized weights', () => {
    const s = buildVariantSet('mmedpo', text, visual, global, norm, scale);
    expect(s.pairs.map((p) => p.id)).toEqual(['a#text', 'b#text', 'a#visual', 'b#visual']);
    // two scores per branch: z = ∓1 → 1 ∓ sqrt(0.1) = 0.6838 / 1.3162 → clipped
    expect(s.pairs.map((p) => p.weight)).toEqual([0.75, 1.25, 0.75, 1.25]);
    expect(s.stats.text).toMatchObject({ n: 2, mean: 5, clippedLow: 1, clippedHigh: 1 });
    expect(s.pairs[2]!.rejected_image).toBe('noised-local/a');
  });

  it('dpo: text pairs only, all weights 1; no-crs: both branches, weights 1', () => {
    expect(buildVariantSet('dpo', text, visual, global, norm, scale).pairs.map((p) => [p.id, p.weight])).toEqual([
      ['a#text', 1],
      ['b#text', 1],
    ]);
    expect(buildVariantSet('no-crs', text, visual, global, norm, scale).pairs.every((p) => p.weight === 1)).toBe(true);
  });

  it('stage ablations, single-LLM scores and global noise pick the right pairs and scores', () => {
    expect(buildVariantSet('stage1-only', text, visual, global, norm, scale).pairs.every((p) => p.branch === 'text')).toBe(true);
    expect(buildVariantSet('stage2-only', text, visual, global, norm, scale).pairs.every((p) => p.branch === 'visual')).toBe(true);
    const single = buildVariantSet('single-llm', text, visual, global, norm, scale);
    expect(single.pairs.filter((p) => p.branch === 'text').map((p) => p.weight)).toEqual([1, 1]); // equal single scores → μ
    const g = buildVariantSet('global-noise', text, visual, global, norm, scale);
    expect(g.pairs.filter((p) => p.branch === 'visual').map((p) => p.rejected_image)).toEqual(['noised-global/a', 'noised-global/b']);
    expect(buildVariantSet('base', text, visual, global, norm, scale).pairs).toEqual([]);
  });

  it('exports the authors’ LLaVA JSON layout', () => {
    const [row] = toLlavaJson(buildVariantSet('mmedpo', text, visual, global, norm, scale).pairs.slice(2, 3)) as Record<string, unknown>[];
    expect(row).toEqual({
      id: 'a#visual',
      image: 'img/a',
      conversations: [
        { from: 'human', value: '<image>\nQ?' },
        { from: 'gpt', value: 'yes' },
      ],
      rejected_conversations: [
        { from: 'human', value: '<image>\nQ?' },
        { from: 'gpt', value: 'yes' },
      ],
      rejected_image: 'noised-local/a',
      weighted_score: 0.75,
    });
  });
});
