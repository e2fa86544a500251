// The training worker's slot pool (activities/training/slots.ts SlotPool): one slot per GPU or --slots CPU slots;
// a multi-GPU run holds gpusPerRun slots of the one worker and waits for them in arrival order.
import { SlotPool } from '../../activities/training';
import { parseSlots } from '../../workers/training';

const tick = () => new Promise((r) => setImmediate(r));

describe('training slots', () => {
  const env = process.env.MMEDPO_GPUS;
  afterEach(() => {
    if (env === undefined) delete process.env.MMEDPO_GPUS;
    else process.env.MMEDPO_GPUS = env;
  });

  it('sizes the pool from the GPUs (MMEDPO_GPUS), else --slots CPU slots (default 1)', async () => {
    process.env.MMEDPO_GPUS = '0,2,3';
    expect(await SlotPool.detect()).toMatchObject({ ids: ['0', '2', '3'], gpus: true, size: 3 });
    expect(await SlotPool.detect(2)).toMatchObject({ ids: ['0', '2'], gpus: true });
    process.env.MMEDPO_GPUS = '';
    expect(await SlotPool.detect()).toMatchObject({ ids: ['cpu0'], gpus: false });
    expect(await SlotPool.detect(3)).toMatchObject({ ids: ['cpu0', 'cpu1', 'cpu2'], gpus: false });
    expect(parseSlots('3')).toBe(3);
    expect(parseSlots(undefined)).toBeUndefined();
    expect(() => parseSlots('0')).toThrow('positive integer');
    expect(() => parseSlots('two')).toThrow('positive integer');
  });

  it('a run takes n slots of the one pool; one that finds too few waits, in arrival order', async () => {
    const pool = new SlotPool(['0', '1', '2', '3'], true);
    const a = await pool.acquire(2);
    expect(a).toEqual(['0', '1']);
    const b = await pool.acquire(1);
    expect(b).toEqual(['2']);
    const order: string[] = [];
    // a 2-GPU run waits (one free); a 1-GPU run that comes after it waits behind it rather than overtaking
    const big = pool.acquire(2).then((ids) => (order.push('big'), ids));
    const small = pool.acquire(1).then((ids) => (order.push('small'), ids));
    await tick();
    expect(order).toEqual([]);
    expect(pool.available).toBe(1);
    pool.release(b);
    expect(await big).toEqual(['2', '3']);
    await tick();
    expect(order).toEqual(['big']);
    pool.release(a);
    expect(await small).toEqual(['0']);
    expect(order).toEqual(['big', 'small']);
  });

  it('a run needing more GPUs than the worker has fails at once, not retryably; on CPU it takes every slot', async () => {
    await expect(new SlotPool(['0'], true).acquire(2)).rejects.toMatchObject({ type: 'TrainingInputError', nonRetryable: true });
    const cpu = new SlotPool(['cpu0', 'cpu1'], false);
    expect(await cpu.acquire(3)).toEqual(['cpu0', 'cpu1']);
    expect(cpu.available).toBe(0);
  });

  it('a waiting run cancelled leaves the line and lets the ones behind it through', async () => {
    const pool = new SlotPool(['0', '1'], true);
    const held = await pool.acquire(1);
    const abort = new AbortController();
    const big = pool.acquire(2, undefined, abort.signal);
    const small = pool.acquire(1);
    abort.abort();
    await expect(big).rejects.toThrow('cancelled while waiting for a training slot');
    expect(await small).toEqual(['1']);
    pool.release(held);
    expect(pool.available).toBe(1);
  });

  it('a run waiting heartbeats while it waits', async () => {
    jest.useFakeTimers();
    try {
      const pool = new SlotPool(['cpu0'], false);
      const held = await pool.acquire(1);
      const beat = jest.fn();
      const waiting = pool.acquire(1, beat);
      jest.advanceTimersByTime(3500);
      expect(beat).toHaveBeenCalledTimes(3);
      pool.release(held);
      expect(await waiting).toEqual(['cpu0']);
      jest.advanceTimersByTime(3000);
      expect(beat).toHaveBeenCalledTimes(3);
    } finally {
      jest.useRealTimers();
    }
  });
});
