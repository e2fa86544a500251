// Activity options for model calls (workflow-safe). Temporal's retry does all retrying under the one
// fault classification (core/faults.ts): 429/5xx/timeouts/connection errors are infrastructure and
// retried for the outage budget (a 429's Retry-After arrives as nextRetryDelay); an endpoint's 4xx
// refusal (EndpointRejected) is a data fault of that request and is not retried.
import { proxyActivities, proxyLocalActivities, type ActivityOptions } from '@temporalio/workflow';
import type { debateTurn, judgeGenerate, judgeSelect, sampleTarget, sampleTargetN } from '../activities/models';
import type { ModelRole } from '../core/config';
import { DEFAULT_OUTAGE_BUDGET_HOURS, faultPolicy } from '../core/faults';

export interface ModelCallActivities {
  sampleTarget: typeof sampleTarget;
  sampleTargetN: typeof sampleTargetN;
  judgeSelect: typeof judgeSelect;
  judgeGenerate: typeof judgeGenerate;
  debateTurn: typeof debateTurn;
}

export function modelActivityOptions(role: ModelRole, outageBudgetHours: number = DEFAULT_OUTAGE_BUDGET_HOURS): ActivityOptions {
  // Up to two requests per activity (the corrective re-ask), each bounded by the role's timeout.
  // Offline engines answer in milliseconds: a task lost with a killed worker is retried after 30 s,
  // not after the endpoint timeout meant for a remote model.
  const ms = role.baseURL ? 2 * role.timeoutMs + 5_000 : Math.min(30_000, 2 * role.timeoutMs + 5_000);
  return { startToCloseTimeout: ms, ...faultPolicy(outageBudgetHours) };
}

/**
 * The activities for one model role. A remote role (baseURL, or a model the campaign serves) runs on
 * its own task queue: the queue's rate limit is the role's, and the model worker holds its keys and
 * GPUs. An offline role's engine is a few microseconds of CPU in this process: it runs as a local
 * activity on the workflow's own worker — still retried and recorded in history, with no server
 * round trip per call (the difference between 0.15× and near-parity throughput on a small machine).
 */
export function modelActivities(role: ModelRole, taskQueue: string, summary?: string, outageBudgetHours?: number): ModelCallActivities {
  const o = modelActivityOptions(role, outageBudgetHours);
  if (role.baseURL || role.served) return proxyActivities<ModelCallActivities>({ ...o, taskQueue, ...(summary ? { summary } : {}) });
  return proxyLocalActivities<ModelCallActivities>({ startToCloseTimeout: o.startToCloseTimeout, scheduleToCloseTimeout: o.scheduleToCloseTimeout, retry: o.retry, ...(summary ? { summary } : {}) });
}
