// What a running campaign is waiting on: the activities of its workflows that Temporal is retrying
// after an infrastructure fault (core/faults.ts), read from the server on the reading side (the
// campaign's own history and its progress query stay free of it). Storage, an endpoint, or a lost
// worker — with since when and the last error, so "the campaign is slow" reads "MinIO has been down
// since 14:02" instead.
import type { Client } from '@temporalio/client';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow';
import { ApplicationFailure, TimeoutFailure } from '@temporalio/common';

/** What a retried activity is waiting on. */
export type WaitingOn = 'storage' | 'endpoint' | 'worker' | 'retry';

export interface Waiting {
  on: WaitingOn;
  /** When the activity was first scheduled (ISO 8601): the wait began at most this long ago. */
  since: string;
  attempt: number;
  workflowId: string;
  activity: string;
  /** First line of the last attempt's failure (decrypted with the client's codec). */
  lastError: string;
}

const MODEL_ACTIVITIES = new Set(['sampleTarget', 'judgeSelect', 'judgeGenerate', 'debateTurn']);
// The AWS SDK's and Node's words for an unreachable or unwell S3 endpoint.
const STORAGE_ERROR = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|socket hang up|ServiceUnavailable|SlowDown|InternalError|RequestTimeout|XMinio/i;

function classify(activity: string, err: Error | undefined): WaitingOn {
  if (MODEL_ACTIVITIES.has(activity)) return 'endpoint';
  if (err instanceof TimeoutFailure) return 'worker';
  if (err && STORAGE_ERROR.test(`${err instanceof ApplicationFailure ? (err.type ?? '') : ''} ${err.message}`)) return 'storage';
  return 'retry';
}

const toMs = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) => (t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : undefined);

/**
 * The retrying activities (attempt > 1) of the campaign's running workflows (its own and every child:
 * their ids start with `<campaign id>/`), oldest first. At most `maxWorkflows` workflows are described.
 */
export async function waitingOf(client: Client, campaignId: string, maxWorkflows = 200): Promise<Waiting[]> {
  const out: Waiting[] = [];
  const converter = client.options.loadedDataConverter;
  let n = 0;
  // The campaign and its children (`<id>/ingest`, `<id>/shard-…`, `<id>/shard-…/text/…`), not a campaign whose id merely starts the same.
  const query = `(WorkflowId = '${campaignId}' OR WorkflowId STARTS_WITH '${campaignId}/') AND ExecutionStatus = 'Running'`;
  for await (const w of client.workflow.list({ query })) {
    if (++n > maxWorkflows) break;
    const d = await client.workflow.getHandle(w.workflowId).describe().catch(() => undefined);
    for (const a of d?.raw.pendingActivities ?? []) {
      if ((a.attempt ?? 1) <= 1 || !a.lastFailure) continue;
      const err = await decodeOptionalFailureToOptionalError(converter, a.lastFailure).catch(() => undefined);
      const activity = a.activityType?.name ?? '?';
      const expires = toMs(a.expirationTime);
      const budget = toMs(a.activityOptions?.scheduleToCloseTimeout as { seconds?: unknown; nanos?: number } | undefined);
      // With a schedule-to-close budget the first schedule is exact; without one (training runs: an attempt
      // cap instead) the earliest time the server still holds (the next attempt's schedule lies ahead).
      const held = [a.scheduledTime, a.lastStartedTime, a.lastAttemptCompleteTime].map(toMs).filter((t): t is number => t !== undefined && t <= Date.now());
      const since = expires !== undefined && budget ? expires - budget : held.length ? Math.min(...held) : Date.now();
      out.push({ on: classify(activity, err), since: new Date(since).toISOString(), attempt: a.attempt ?? 0, workflowId: w.workflowId, activity, lastError: (err?.message ?? 'unknown').split('\n')[0]!.slice(0, 200) });
    }
  }
  return out.sort((x, y) => x.since.localeCompare(y.since));
}

/** One line per kind of wait: "waiting on storage since 14:02:11 (3 activities, attempt 7: connect ECONNREFUSED …)". */
export function renderWaiting(ws: readonly Waiting[]): string[] {
  const by = new Map<WaitingOn, Waiting[]>();
  for (const w of ws) by.set(w.on, [...(by.get(w.on) ?? []), w]);
  const what: Record<WaitingOn, string> = { storage: 'storage', endpoint: 'a model endpoint', worker: 'a worker (timed out)', retry: 'a retried activity' };
  return [...by.entries()].map(([on, list]) => {
    const first = list[0]!;
    const last = list.reduce((a, b) => (b.attempt > a.attempt ? b : a));
    return `waiting   on ${what[on]} since ${first.since.slice(11, 19)} UTC (${list.length} activit${list.length === 1 ? 'y' : 'ies'} retrying, attempt ${last.attempt} of ${last.activity}: ${last.lastError})`;
  });
}
