// Activity options for model calls (workflow-safe). Temporal's retry does all retrying under the one
// fault classification (core/faults.ts): 429/5xx/timeouts/connection errors are infrastructure and
// retried for the outage budget (a 429's Retry-After arrives as nextRetryDelay); an endpoint's 4xx
// refusal (EndpointRejected) is a data fault of that request and is not retried.
import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { debateTurn, judgeGenerate, judgeSelect, sampleTarget } from '../activities/models';
import type { ModelRole } from '../core/config';
import { DEFAULT_OUTAGE_BUDGET_HOURS, faultPolicy } from '../core/faults';

export interface ModelCallActivities {
  sampleTarget: typeof sampleTarget;
  judgeSelect: typeof judgeSelect;
  judgeGenerate: typeof judgeGenerate;
  debateTurn: typeof debateTurn;
}

export function modelActivityOptions(role: ModelRole, outageBudgetHours: number = DEFAULT_OUTAGE_BUDGET_HOURS): ActivityOptions {
  // Up to two requests per activity (the corrective re-ask), each bounded by the role's timeout.
  // Offline engines (and the served SFT target on this machine) answer in seconds: a task lost with a killed worker is retried after 30 s,
  // not after the endpoint timeout meant for a remote model.
  const ms = role.baseURL ? 2 * role.timeoutMs + 5_000 : Math.min(30_000, 2 * role.timeoutMs + 5_000);
  return { startToCloseTimeout: ms, ...faultPolicy(outageBudgetHours) };
}

/**
 * The activities for one model role, on its own task queue: the queue's rate limit is the role's,
 * and the model worker holds its keys and GPUs. Built-in offline engines take the same path (one
 * activity per call on the role's queue), so what a test or the demo exercises is what a campaign
 * against real endpoints runs.
 */
export function modelActivities(role: ModelRole, taskQueue: string, summary?: string, outageBudgetHours?: number): ModelCallActivities {
  return proxyActivities<ModelCallActivities>({ ...modelActivityOptions(role, outageBudgetHours), taskQueue, ...(summary ? { summary } : {}) });
}
