// What `campaign status` prints for activities Temporal is retrying (lib/waiting.ts).
import { renderWaiting, type Waiting } from '../../lib/waiting';

const w = (o: Partial<Waiting>): Waiting => ({ on: 'storage', since: '2026-12-03T07:31:02.000Z', attempt: 2, workflowId: 'c/shard-0000', activity: 'curateVisual', lastError: 'connect ECONNREFUSED 127.0.0.1:9000', ...o });

describe('renderWaiting', () => {
  it('one line per kind of wait: the oldest start, how many, the furthest attempt and its error', () => {
    const lines = renderWaiting([
      w({}),
      w({ since: '2026-12-03T07:31:09.000Z', attempt: 6, activity: 'writeShardResult' }),
      w({ on: 'endpoint', since: '2026-12-03T07:40:00.000Z', attempt: 3, activity: 'debateTurn', lastError: 'server error 503: overloaded' }),
    ]);
    expect(lines).toEqual([
      'waiting   on storage since 07:31:02 UTC (2 activities retrying, attempt 6 of writeShardResult: connect ECONNREFUSED 127.0.0.1:9000)',
      'waiting   on a model endpoint since 07:40:00 UTC (1 activity retrying, attempt 3 of debateTurn: server error 503: overloaded)',
    ]);
  });
  it('nothing retrying: no line', () => expect(renderWaiting([])).toEqual([]));
});
