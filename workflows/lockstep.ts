// Lock-step activity calls for several items inside one workflow (workflow code).
//
// Why: each local activity that completes on its own costs a workflow activation (~1.6 ms of worker
// CPU in the TS SDK, most of it per activation, not per call); calls that complete together share
// one. Items curated side by side in one workflow batch their calls — but only if the batching is
// replay-safe. On replay the SDK resolves local activities in the order they were scheduled, while a
// live run sees them in completion order, so a workflow whose items schedule their next call as soon
// as their own result arrives issues its commands in a different order on replay (results go to the
// wrong calls). Lock-step removes the dependence on completion order:
//   1. every branch queues its next call(s) with the gate instead of calling the activity;
//   2. when nothing in the workflow can progress (a `condition` is only re-checked once microtasks
//      have drained), the gate issues every queued request, sorted by the branch's fixed key;
//   3. it waits for ALL of them, then hands out the results in key order.
// Nothing is scheduled while a batch is in flight, and what is scheduled next depends only on the
// results, never on which finished first — the same commands live and on replay.
import { condition } from '@temporalio/workflow';

/** How a branch of workflow code issues its activity calls. */
export interface CallGate {
  /** One call. */
  one<T>(call: () => Promise<T>): Promise<T>;
  /** Calls issued together; all of their results, or the first failure in call order. */
  all<T>(calls: (() => Promise<T>)[]): Promise<T[]>;
}

/** Calls go straight to the activity (one item per workflow, or a sequential lane). */
export const directGate: CallGate = {
  one: (call) => call(),
  all: (calls) => Promise.all(calls.map((c) => c())),
};

interface Request {
  key: number;
  calls: (() => Promise<unknown>)[];
  resolve: (values: unknown[]) => void;
  reject: (e: unknown) => void;
}

export class Lockstep {
  private queued: Request[] = [];
  private closed = false;
  /** Batches issued so far and the calls in them (for progress and the benchmark). */
  readonly stats = { batches: 0, calls: 0 };

  /**
   * The gate of one branch. `key` fixes the branch's place in every batch; two branches that can
   * have requests queued at the same time must not share a key.
   */
  gate(key: number): CallGate {
    const all = <T>(calls: (() => Promise<T>)[]): Promise<T[]> => {
      if (this.closed) throw new Error('lockstep: a call after close()');
      if (this.queued.some((r) => r.key === key)) throw new Error(`lockstep: branch ${key} queued a second request before its first was answered`);
      return new Promise<T[]>((resolve, reject) => this.queued.push({ key, calls, resolve: resolve as (v: unknown[]) => void, reject }));
    };
    return { all, one: async <T>(call: () => Promise<T>) => (await all([call]))[0]! };
  }

  /** Issues the queued requests in batches until close(); run it beside the branches. */
  async run(): Promise<void> {
    for (;;) {
      await condition(() => this.queued.length > 0 || this.closed);
      if (!this.queued.length) return;
      const batch = this.queued.sort((a, b) => a.key - b.key);
      this.queued = [];
      this.stats.batches++;
      // Scheduled in key order, synchronously: the command order is a function of the keys alone.
      const started = batch.map((r) => r.calls.map((c) => c()));
      const settled = await Promise.all(started.map((ps) => Promise.allSettled(ps)));
      for (const [i, r] of batch.entries()) {
        this.stats.calls += r.calls.length;
        const s = settled[i]!;
        const failed = s.find((x): x is PromiseRejectedResult => x.status === 'rejected');
        if (failed) r.reject(failed.reason);
        else r.resolve(s.map((x) => (x as PromiseFulfilledResult<unknown>).value));
      }
    }
  }

  /** No more requests: run() returns once the queue is empty. */
  close(): void {
    this.closed = true;
  }
}
