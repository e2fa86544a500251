// The one fault classification (core/faults.ts): what quarantines an item and what is retried.
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, RetryState, TimeoutFailure, TimeoutType } from '@temporalio/common';
import { DATA_FAULT_TYPES, faultPolicy, innermostFailure, isDataFault } from '../../core/faults';

const activityFailure = (cause: Error) => new ActivityFailure('activity failed', 'curateVisual', '1', RetryState.NON_RETRYABLE_FAILURE, 'worker', cause);

describe('fault classification', () => {
  it.each(DATA_FAULT_TYPES)('%s, as an activity or a child workflow fails, is a data fault', (type) => {
    const af = activityFailure(ApplicationFailure.nonRetryable('x', type));
    expect(isDataFault(af)).toBe(true);
    expect(isDataFault(new ChildWorkflowFailure('default', { workflowId: 'w', runId: 'r' }, 'textItemWorkflow', RetryState.NON_RETRYABLE_FAILURE, af))).toBe(true);
  });

  it('storage unreachable, 5xx, throttling, timeouts and a misfitting visual tool are not data faults', () => {
    const s3Down = ApplicationFailure.retryable('connect ECONNREFUSED 127.0.0.1:9000', 'Error');
    expect(isDataFault(activityFailure(s3Down))).toBe(false);
    expect(isDataFault(activityFailure(ApplicationFailure.retryable('server error 500', 'EndpointUnavailable')))).toBe(false);
    expect(isDataFault(activityFailure(ApplicationFailure.retryable('429', 'RateLimited')))).toBe(false);
    // Past the outage budget the activity fails with a schedule-to-close timeout: rethrown, never quarantined.
    const timeout = new TimeoutFailure('activity timeout', undefined, TimeoutType.SCHEDULE_TO_CLOSE);
    expect(isDataFault(activityFailure(timeout))).toBe(false);
    expect(innermostFailure(activityFailure(timeout))).toBe(timeout);
    // A configuration fault fails the campaign instead of quarantining every item.
    expect(isDataFault(activityFailure(ApplicationFailure.nonRetryable('tensor "image" is float16', 'BadVisualTool')))).toBe(false);
    expect(isDataFault(new Error('TypeError in workflow code'))).toBe(false);
  });

  it('the policy: no attempt cap, data faults never retried, retrying bounded by the budget', () => {
    const p = faultPolicy(6, ['TrainingInputError']);
    expect(p.scheduleToCloseTimeout).toBe(6 * 3600 * 1000);
    expect(p.retry).not.toHaveProperty('maximumAttempts');
    expect(p.retry.nonRetryableErrorTypes).toEqual([...DATA_FAULT_TYPES, 'TrainingInputError']);
    expect(p.retry.maximumInterval).toBe(60_000);
  });
});
