// The small phantom campaign the integration tests run on the real stack (test/integration/campaign.test.ts,
// campaign-grounding.test.ts): 10 studies, 16 train items curated, tiny LoRA runs on CPU. `prefix` keeps each
// test file's task queues apart; `overrides` replace whole top-level sections.
import * as os from 'node:os';
import * as path from 'node:path';
import { parseCampaignConfig } from '../../core/config';

export function smallCampaignConfig(prefix: string, overrides: Record<string, unknown> = {}) {
  return parseCampaignConfig({
    name: 'it',
    seed: 3,
    dataset: { format: 'phantom', root: path.join(os.tmpdir(), `mmedpo-phantom-it-${process.pid}`), phantom: { studies: 10, size: 128, testFraction: 0.3 }, limit: 16 },
    curation: { shardSize: 6, concurrency: 4 },
    training: { learningRate: 1e-3, batchSize: 8, epochs: 1, maxLength: 96, lora: { enabled: true, r: 4, alpha: 8, dropout: 0 }, device: 'cpu', variants: ['base', 'sft', 'dpo', 'mmedpo'] },
    evaluation: { maxNewTokensVqa: 4, maxNewTokensReport: 16 },
    temporal: { queuePrefix: prefix },
    ...overrides,
  });
}
