// The campaign's view of the visual branch: one D_v pair per item, the tool's
// confidence s_v as its clinical-relevance score. A corrupt image surfaces as a
// non-retryable BadImage failure, which the shard turns into a quarantine record.
import type { CampaignConfig } from '../core/config';
import { curateVisualItem } from './visual';

export async function curateVisual(input: {
  seed: number;
  itemId: string;
  imageKey: string;
  noise: CampaignConfig['noise'];
  visualTool: CampaignConfig['visualTool'];
}): Promise<{ pairKey: string; confidence: number }> {
  const r = await curateVisualItem(input);
  return { pairKey: r.pairKey, confidence: r.summary.s_v };
}
