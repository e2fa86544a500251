// The one trainer-process spawn path (activities/training/supervisor.ts), with /bin/sh standing in for the
// trainer's Python (MMEDPO_PYTHON): progress lines, pinning, exit-code mapping, cancellation and its grace.
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { checkTrainerExit, runTrainer, startTrainer, type TrainerEvent } from '../../activities/training/supervisor';

const sh = (script: string) => ['-c', script];
let saved: string | undefined;
beforeAll(() => {
  saved = process.env.MMEDPO_PYTHON;
  process.env.MMEDPO_PYTHON = '/bin/sh';
});
afterAll(() => {
  if (saved === undefined) delete process.env.MMEDPO_PYTHON;
  else process.env.MMEDPO_PYTHON = saved;
});

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (e) {
    return e as ApplicationFailure;
  }
  throw new Error('expected a failure');
}

describe('trainer process supervisor', () => {
  it('hands JSON progress lines to onEvent, pins CUDA_VISIBLE_DEVICES, tells the child its parent', async () => {
    const events: TrainerEvent[] = [];
    const x = await runTrainer({
      what: 'trainer test',
      args: sh('echo "not json"; echo "{\\"event\\":\\"env\\",\\"cuda\\":\\"$CUDA_VISIBLE_DEVICES\\",\\"parent\\":\\"$MMEDPO_PARENT_PID\\"}"; echo \'{"event":"step","step":3}\''),
      gpus: ['1', '3'],
      onEvent: (ev) => events.push(ev),
    });
    expect(x.code).toBe(0);
    expect(events).toEqual([{ event: 'env', cuda: '1,3', parent: String(process.pid) }, { event: 'step', step: 3 }]);
  });

  it('a CPU slot sees no GPU', async () => {
    const events: TrainerEvent[] = [];
    await runTrainer({ what: 't', args: sh('echo "{\\"event\\":\\"env\\",\\"cuda\\":\\"${CUDA_VISIBLE_DEVICES-unset}\\"}"'), gpus: null, onEvent: (e) => events.push(e) });
    expect(events[0]!.cuda).toBe('');
  });

  it('maps exit codes: 2 bad input (non-retryable), 75 preempted, other TrainerFailed with the stderr tail', async () => {
    const bad = await failureOf(runTrainer({ what: 'trainer t', args: sh('echo "trainer: no such file" >&2; exit 2') }));
    expect(bad).toBeInstanceOf(ApplicationFailure);
    expect([bad.type, bad.nonRetryable]).toEqual(['TrainingInputError', true]);
    expect(bad.message).toContain('no such file');
    const pre = await failureOf(runTrainer({ what: 'trainer t', args: sh('exit 75') }));
    expect([pre.type, pre.nonRetryable]).toEqual(['TrainerPreempted', false]);
    const other = await failureOf(runTrainer({ what: 'trainer t', args: sh('echo boom >&2; echo "" >&2; exit 1') }));
    expect([other.type, other.nonRetryable]).toEqual(['TrainerFailed', false]);
    expect(other.message).toContain('boom');
  });

  it('cancellation: SIGTERM to the group, the trainer checkpoints and exits; the run is cancelled', async () => {
    const ac = new AbortController();
    const events: TrainerEvent[] = [];
    const p = startTrainer({
      what: 't',
      // like the trainer: on SIGTERM write a checkpoint, announce it, exit 75
      args: sh('trap \'echo "{\\"event\\":\\"checkpoint\\",\\"checkpoint\\":\\"/tmp/c\\"}"; exit 75\' TERM; echo \'{"event":"started"}\'; while :; do sleep 0.05; done'),
      signal: ac.signal,
      onEvent: (e) => {
        events.push(e);
        if (e.event === 'started') ac.abort();
      },
    });
    const x = await p.exited;
    expect(x.cancelled).toBe(true);
    expect(x.code).toBe(75);
    expect(events.map((e) => e.event)).toEqual(['started', 'checkpoint']);
    expect(() => checkTrainerExit(x, 't')).toThrow(CancelledFailure);
  });

  it('a trainer that ignores SIGTERM is killed after the grace period', async () => {
    const ac = new AbortController();
    const p = startTrainer({ what: 't', args: sh('trap "" TERM; echo \'{"event":"started"}\'; while :; do sleep 0.05; done'), signal: ac.signal, graceMs: 300, onEvent: () => ac.abort() });
    const x = await p.exited;
    expect(x.code).toBe(128 + 9);
  });

  it('a trainer silent past stallMs is killed as stalled', async () => {
    const x = await startTrainer({ what: 't', args: sh('sleep 30'), stallMs: 200 }).exited;
    expect(x.stalled).toBe(true);
    expect(() => checkTrainerExit(x, 't')).toThrow(expect.objectContaining({ type: 'TrainerStalled' }) as unknown as Error);
  });
});
