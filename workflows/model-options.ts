// Activity options for model calls (workflow-safe). Temporal's retry does all retrying: 429/5xx/timeouts
// are retryable (a 429's Retry-After arrives as nextRetryDelay), endpoint rejections are not.
import type { ActivityOptions } from '@temporalio/workflow';
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
