// Task queues. Workflows and CPU curation activities run on `curation`; model
// calls run on one queue per role so each role's rate limit is a task-queue
// limit (maxTaskQueueActivitiesPerSecond), not sleeps in code; training runs on
// `training`, served by the GPU worker pool (one slot per GPU).
export const TASK_QUEUES = {
  curation: 'curation',
  training: 'training',
  evaluation: 'evaluation',
} as const;

/** Model-call queue for a role: model-target, model-judge, model-agent-0, … */
export function modelQueue(role: 'target' | 'judge' | `agent-${number}`): string {
  return `model-${role}`;
}

/** A task queue with the deployment's prefix (config.temporal.queuePrefix). */
export function queueOf(prefix: string, base: keyof typeof TASK_QUEUES): string {
  return `${prefix}${TASK_QUEUES[base]}`;
}
