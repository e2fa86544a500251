// Activity options for model calls (workflow-safe). Temporal's retry does all retrying: 429/5xx/timeouts
// are retryable (a 429's Retry-After arrives as nextRetryDelay), endpoint rejections are not.
import { proxyActivities, proxyLocalActivities, type ActivityOptions } from '@temporalio/workflow';
import type { debateTurn, judgeGenerate, judgeSelect, sampleTarget, sampleTargetN } from '../activities/models';

export interface ModelCallActivities {
  sampleTarget: typeof sampleTarget;
  sampleTargetN: typeof sampleTargetN;
  judgeSelect: typeof judgeSelect;
  judgeGenerate: typeof judgeGenerate;
  debateTurn: typeof debateTurn;
}
import type { ModelRole } from '../core/config';

export const MODEL_RETRY = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '60s',
  maximumAttempts: 8,
  nonRetryableErrorTypes: ['EndpointRejected'],
} as const;

export function modelActivityOptions(role: ModelRole): ActivityOptions {
  // Up to two requests per activity (the corrective re-ask), each bounded by the role's timeout.
  // Offline engines answer in milliseconds: a task lost with a killed worker is retried after 30 s,
  // not after the endpoint timeout meant for a remote model.
  const ms = role.baseURL ? 2 * role.timeoutMs + 5_000 : Math.min(30_000, 2 * role.timeoutMs + 5_000);
  return { startToCloseTimeout: ms, retry: { ...MODEL_RETRY, nonRetryableErrorTypes: [...MODEL_RETRY.nonRetryableErrorTypes] } };
}

/**
 * The activities for one model role. A remote role (baseURL, or a model the campaign serves) runs on
 * its own task queue: the queue's rate limit is the role's, and the model worker holds its keys and
 * GPUs. An offline role's engine is a few microseconds of CPU in this process: it runs as a local
 * activity on the workflow's own worker — still retried and recorded in history, with no server
 * round trip per call (the difference between 0.15× and near-parity throughput on a small machine).
 */
export function modelActivities(role: ModelRole, taskQueue: string, summary?: string): ModelCallActivities {
  const o = modelActivityOptions(role);
  if (role.baseURL || role.served) return proxyActivities<ModelCallActivities>({ ...o, taskQueue, ...(summary ? { summary } : {}) });
  return proxyLocalActivities<ModelCallActivities>({ startToCloseTimeout: o.startToCloseTimeout, retry: o.retry, ...(summary ? { summary } : {}) });
}
