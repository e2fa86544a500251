// One classification of failures, used by every workflow and activity (brief: "infrastructure
// faults are retried, data faults are quarantined").
//
// - A **data fault** is a property of one item and fails the same way every time: a corrupt image,
//   a malformed row, a path escaping the dataset, an endpoint's 4xx refusal of this request, an
//   artifact the item names that does not exist. Activities throw it as a non-retryable
//   ApplicationFailure whose type is one of DATA_FAULT_TYPES; the workflow records the item as
//   quarantined with that reason and goes on.
// - Everything else is an **infrastructure fault**: S3 unreachable, timeouts, 5xx, throttling
//   (429, honouring Retry-After), Temporal unavailable, a worker lost (heartbeat / start-to-close
//   timeout). Temporal retries it with backoff, with no attempt cap, for as long as the outage
//   budget (the activity's schedule-to-close timeout). Past the budget the failure is rethrown, so
//   the workflow fails with the outage as its reason — it never becomes a quarantine entry, and a
//   rerun continues from the content-addressed artifacts already written.
// Pure module: imported by workflow code (deterministic) and by activities.

/**
 * ApplicationFailure types that name a fault of the item's data or of one request for it. Each is
 * thrown non-retryable by the activity that detects it.
 */
export const DATA_FAULT_TYPES = [
  'BadImage', // an image that does not decode (activities/visual.ts, ingest)
  'BadInput', // an item or split that cannot be curated or evaluated as given
  'DatasetError', // a dataset row or file the loaders refuse (malformed row, unsafe path)
  'MissingArtifact', // a key the item names that is not in the store
  'EndpointRejected', // a model endpoint's 4xx refusal of this request (lib/models/client.ts)
] as const;
export type DataFaultType = (typeof DATA_FAULT_TYPES)[number];

/** Default outage budget: how long an infrastructure fault is retried before the workflow fails. */
export const DEFAULT_OUTAGE_BUDGET_HOURS = 6;

/** Backoff between attempts of an infrastructure fault (ms): 1 s doubling to 1 min, then every minute. */
export const INFRASTRUCTURE_BACKOFF = { initialInterval: 1_000, backoffCoefficient: 2, maximumInterval: 60_000 } as const;

/**
 * The retry policy and schedule-to-close timeout of an activity under the classification: no
 * attempt cap, data faults never retried, the whole retrying bounded by `outageBudgetHours`.
 * `extraNonRetryable`: further types this activity treats as final (e.g. TrainingInputError).
 * Durations in ms (Temporal's Duration).
 */
export function faultPolicy(
  outageBudgetHours: number = DEFAULT_OUTAGE_BUDGET_HOURS,
  extraNonRetryable: readonly string[] = [],
): { scheduleToCloseTimeout: number; retry: { initialInterval: number; backoffCoefficient: number; maximumInterval: number; nonRetryableErrorTypes: string[] } } {
  return {
    scheduleToCloseTimeout: Math.round(outageBudgetHours * 3_600_000),
    // No maximumAttempts: unlimited (the SDK refuses 0); the budget bounds the retrying.
    retry: { ...INFRASTRUCTURE_BACKOFF, nonRetryableErrorTypes: [...DATA_FAULT_TYPES, ...extraNonRetryable] },
  };
}

interface FailureLike {
  type?: string | null;
  cause?: unknown;
  message?: string;
}

/** The innermost failure of a chain (ActivityFailure → ApplicationFailure, ChildWorkflowFailure → …). */
export function innermostFailure(e: unknown): FailureLike | undefined {
  let cur = e as FailureLike | undefined;
  for (let depth = 0; cur && typeof cur === 'object' && cur.cause && depth < 16; depth++) cur = cur.cause as FailureLike;
  return cur && typeof cur === 'object' ? cur : undefined;
}

/** True when the innermost failure is a data fault (quarantine the item); false: infrastructure (rethrow). */
export function isDataFault(e: unknown): boolean {
  const t = innermostFailure(e)?.type;
  return typeof t === 'string' && (DATA_FAULT_TYPES as readonly string[]).includes(t);
}
