// Test-only workflows entry for "build B" of test/integration/versioning.test.ts: every workflow of
// workflows/index.ts, but campaignWorkflow starts with a timer, so B's code would not replay a
// campaign history of build A (its first command differs: a non-determinism error if B ever ran one).
import { sleep } from '@temporalio/workflow';
import type { CampaignInput } from '../../core/contracts';
import { campaignWorkflow as campaignWorkflowOfA } from '../../workflows/campaign';

export * from '../../workflows';

export async function campaignWorkflow(input: CampaignInput): ReturnType<typeof campaignWorkflowOfA> {
  await sleep('10ms');
  return campaignWorkflowOfA(input);
}
