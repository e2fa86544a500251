// A training run as its own workflow (the campaign starts it as a child per variant): one activity on
// the training queue, long heartbeat-driven attempts, retries that resume from the last checkpoint,
// and cancellation that waits for the trainer's final checkpoint.
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type * as training from '../activities/training';
import { TASK_QUEUES } from '../core/queues';

export interface TrainingRunInput extends training.TrainingInput {
  /** Default TASK_QUEUES.training. */
  taskQueue?: string;
  /** How long a silent trainer is trusted (default 5 min; a step of a 7B model can take a while). */
  heartbeatTimeoutMs?: number;
  /** Attempts before the run fails (default 10: each retry resumes from the last checkpoint). */
  maximumAttempts?: number;
}

export async function trainingRun(input: TrainingRunInput): Promise<training.TrainingOutput> {
  const { taskQueue, heartbeatTimeoutMs, maximumAttempts, ...activityInput } = input;
  const { runTraining } = proxyActivities<typeof training>({
    taskQueue: taskQueue ?? TASK_QUEUES.training,
    startToCloseTimeout: '72h',
    heartbeatTimeout: heartbeatTimeoutMs ?? 300_000,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: maximumAttempts ?? 10, nonRetryableErrorTypes: ['TrainingInputError'] },
    summary: `${input.mode} ${input.variant}`,
  });
  return runTraining(activityInput);
}
