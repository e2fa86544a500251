// Starting a workflow from the CLI, optionally with an in-process worker so a
// single command works on a laptop with nothing else running.
import { WorkflowIdReusePolicy, WorkflowIdConflictPolicy } from '@temporalio/common';
import type { SearchAttributePair } from '@temporalio/common';
import { TASK_QUEUES } from '../core/queues';
import { checkS3, resolveRuntime, workflowUrl } from '../lib/env';
import { connectClient } from '../lib/temporal';
import { createCurationWorker } from '../workers/curation';

export interface RunOptions {
  workflowId: string;
  args: unknown[];
  searchAttributes?: SearchAttributePair[];
  staticSummary?: string;
  embeddedWorker: boolean;
  onStarted?: (url: string | null, runId: string) => void;
}

export async function runWorkflow<R>(workflowType: string, o: RunOptions): Promise<{ result: R; url: string | null; runId: string }> {
  const rt = resolveRuntime();
  const client = await connectClient(rt);
  await checkS3(rt).catch(async (e) => {
    await client.connection.close();
    throw e;
  });
  try {
    const handle = await client.workflow.start(workflowType, {
      taskQueue: TASK_QUEUES.curation,
      workflowId: o.workflowId,
      args: o.args,
      typedSearchAttributes: o.searchAttributes,
      staticSummary: o.staticSummary,
      // Same id again: a finished run may be repeated, a running one is joined (resume).
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    });
    const runId = handle.firstExecutionRunId;
    const url = workflowUrl(rt, o.workflowId, runId);
    o.onStarted?.(url, runId);
    let result: R;
    if (o.embeddedWorker) {
      const worker = await createCurationWorker();
      result = await worker.runUntil(handle.result() as Promise<R>);
    } else {
      result = (await handle.result()) as R;
    }
    return { result, url, runId };
  } finally {
    await client.connection.close();
  }
}
