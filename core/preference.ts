// Building preference sets from curated pairs: which pairs each variant uses and
// with which weight, plus the authors' LLaVA JSON layout. Pure.
import type { VariantName } from './config';
import { VARIANT_SPECS } from './contracts';
import { normalizeScores, NormalizationParams, NormalizationStats } from './normalize';

/** The prompt for report items (the paper's report generation task). */
export const REPORT_PROMPT = 'Describe the findings of this chest X-ray and give an impression.';

/** What the model is asked for an item: the question, or the report prompt (SFT, preference sets, evaluation, the served target). */
export function promptOf(item: { kind: 'vqa' | 'report'; question?: string }): string {
  return item.kind === 'report' ? REPORT_PROMPT : (item.question ?? '');
}

export interface CuratedPair {
  id: string;
  branch: 'text' | 'visual';
  /** S3 key of the image the chosen response is conditioned on. */
  image: string;
  /** S3 key of the noised image (visual pairs): the rejected response's image. */
  rejectedImage?: string;
  prompt: string;
  chosen: string;
  rejected: string;
  /** Raw clinical-relevance score (text: debate score on its scale; visual: tool confidence in [0,1]). */
  score: number;
  /** Single-LLM score (text pairs, when curated for that ablation). */
  singleScore?: number;
}

export interface TrainerPair {
  id: string;
  image: string;
  rejected_image?: string;
  prompt: string;
  chosen: string;
  rejected: string;
  weight: number;
  branch: 'text' | 'visual';
}

export interface VariantSet {
  pairs: TrainerPair[];
  stats: { text?: NormalizationStats; visual?: NormalizationStats };
}

/**
 * Weights are normalized per branch: text scores (debate, e.g. 1–10) and visual
 * confidences ([0, 1]) live on different scales, so each branch is standardized
 * on its own before the rescale to mean μ / variance σ² and the [α, β] clip.
 */
export function buildVariantSet(
  variant: VariantName,
  text: CuratedPair[],
  visual: CuratedPair[],
  visualGlobal: CuratedPair[],
  norm: NormalizationParams,
  debateScale: { min: number; max: number },
): VariantSet {
  const spec = VARIANT_SPECS[variant];
  if (!spec) return { pairs: [], stats: {} };
  const out: TrainerPair[] = [];
  const stats: VariantSet['stats'] = {};
  const add = (pairs: CuratedPair[], branch: 'text' | 'visual') => {
    const scores = pairs.map((p) => (spec.weights === 'single' && branch === 'text' ? (p.singleScore ?? p.score) : p.score));
    const scale = branch === 'text' ? debateScale : { min: 0, max: 1 };
    const { weights, stats: st } = spec.weights === 'one' ? { weights: pairs.map(() => 1), stats: undefined } : normalizeScores(scores, norm, scale);
    if (st) stats[branch] = st;
    pairs.forEach((p, i) =>
      out.push({
        id: `${p.id}#${branch}`,
        image: p.image,
        ...(p.rejectedImage ? { rejected_image: p.rejectedImage } : {}),
        prompt: p.prompt,
        chosen: p.chosen,
        rejected: p.rejected,
        weight: weights[i]!,
        branch,
      }),
    );
  };
  if (spec.text) add(text, 'text');
  if (spec.visual) add(spec.globalNoise ? visualGlobal : visual, 'visual');
  return { pairs: out, stats };
}

/** The authors' released layout: {id, image, conversations, rejected_conversations, rejected_image?, weighted_score}. */
export function toLlavaJson(pairs: TrainerPair[]): unknown[] {
  return pairs.map((p) => ({
    id: p.id,
    image: p.image,
    conversations: [
      { from: 'human', value: `<image>\n${p.prompt}` },
      { from: 'gpt', value: p.chosen },
    ],
    rejected_conversations: [
      { from: 'human', value: `<image>\n${p.prompt}` },
      { from: 'gpt', value: p.rejected },
    ],
    ...(p.rejected_image ? { rejected_image: p.rejected_image } : {}),
    weighted_score: p.weight,
  }));
}

export function toJsonl(rows: unknown[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
}
