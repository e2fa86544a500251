// The one way this project starts a trainer process (`python -m trainer …`, or `python -m trainer.launch …`
// under accelerate): training runs, evaluations' generation, served models and the small helper commands
// (init-tiny, log-metrics) all go through startTrainer, so every trainer child gets the same guarantees:
//   - its own process group (detached), so a signal reaches the launcher and every process it started;
//   - CUDA_VISIBLE_DEVICES from the slots it holds ('' on a CPU slot), so runs side by side never share a GPU;
//   - JSON progress lines on stdout handed to a callback (their meaning is the trainer's: trainer/__init__.py
//     emit), the stderr tail kept for error messages;
//   - cancellation: SIGTERM to the group (the trainer checkpoints and exits 75), SIGKILL after a grace period;
//   - parent death: MMEDPO_PARENT_PID makes the Python side die with this process (PR_SET_PDEATHSIG plus a
//     getppid() watch, trainer/__main__.py _die_with_parent, trainer/launch.py), and on a normal exit of this
//     process every live group is killed (process 'exit' hook below), so no trainer outlives its worker
//     holding a GPU with nobody left to upload its checkpoints.
import { spawn } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
/** Exit code of a trainer that received SIGTERM, wrote a checkpoint and stopped (trainer/__init__.py). */
export const TRAINER_EXIT_PREEMPTED = 75;
/** Exit code of a trainer that rejected its input (bad data, bad flags). */
export const TRAINER_EXIT_BAD_INPUT = 2;

/** The trainer's Python: MMEDPO_PYTHON, else the project venv's. */
export function trainerPython(): string {
  return process.env.MMEDPO_PYTHON ?? path.join(PROJECT_ROOT, '.mmedpo', 'venv', 'bin', 'python');
}

/** One JSON progress line of the trainer's stdout (`event` plus the event's fields; see trainer/__init__.py emit). */
export interface TrainerEvent {
  event: string;
  step?: number;
  totalSteps?: number;
  loss?: number;
  rewardMargin?: number;
  rewardAccuracy?: number;
  checkpoint?: string;
  [field: string]: unknown;
}

export interface TrainerSpawnOptions {
  /** Arguments after the Python executable, e.g. ['-m', 'trainer', 'generate', …]. */
  args: string[];
  /** Names the process in logs and error messages (e.g. 'trainer generate'). */
  what: string;
  /** GPU indices of the held slots → CUDA_VISIBLE_DEVICES; null: a CPU slot (no GPU visible: ''); undefined: inherit. */
  gpus?: readonly string[] | null;
  /** Extra environment (over the current one, which is passed explicitly: a test sandbox may hold its own copy). */
  env?: Record<string, string>;
  /** Each JSON progress line, parsed (other stdout lines are ignored). */
  onEvent?: (ev: TrainerEvent) => void;
  /** Called every second while the process lives (a heartbeat: imports and data loading can be long and silent). */
  onTick?: () => void;
  /** Activity cancellation: SIGTERM to the group, SIGKILL after graceMs if it has not exited. */
  signal?: AbortSignal;
  /** Milliseconds a cancelled (or preempted) trainer gets to write its checkpoint and exit (default
   *  MMEDPO_TRAINER_CANCEL_GRACE_S or 300 s, past accelerate's TORCH_ELASTIC_SHUTDOWN_TIMEOUT of 270 s). */
  graceMs?: number;
  /** Milliseconds of stdout silence after which the process counts as hung and is killed (default: never). */
  stallMs?: number;
  /** preemptAllTrainers (worker shutdown) signals this process: true for training runs, which checkpoint. */
  preemptible?: boolean;
}

/** How a trainer process ended. */
export interface TrainerExit {
  /** Exit code; 128 + signal number when killed by a signal. */
  code: number | null;
  /** The signal (options.signal) aborted while it ran. */
  cancelled: boolean;
  /** Killed for stdout silence longer than stallMs. */
  stalled: boolean;
  /** Last non-empty stderr line (the trainer's error message). */
  why: string;
  /** The last 40 stderr lines. */
  stderrTail: string[];
}

export interface TrainerProcess {
  pid: number;
  /** Settles when the process has exited and its last stdout lines were handed to onEvent; rejects when it cannot start. */
  exited: Promise<TrainerExit>;
  /** SIGTERM to the group (checkpoint and exit), SIGKILL after graceMs. */
  terminate(): void;
}

interface Live {
  pgid: number;
  preemptible: boolean;
}
const live = new Set<Live>();

function killGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    /* already gone */
  }
}

// A worker that exits (normally, or by process.exit) takes its trainers with it; a worker killed outright
// is covered by the Python side's parent-death handling (MMEDPO_PARENT_PID).
process.once('exit', () => {
  for (const l of live) killGroup(l.pgid, 'SIGKILL');
});

/** SIGTERM every running training process (worker shutdown): each checkpoints, the attempt fails retryably, a retry resumes. */
export function preemptAllTrainers(): void {
  for (const l of live) if (l.preemptible) killGroup(l.pgid, 'SIGTERM');
}

function defaultGraceMs(): number {
  return Number(process.env.MMEDPO_TRAINER_CANCEL_GRACE_S ?? 300) * 1000;
}

/** Start a trainer process under supervision (see the file comment). */
export function startTrainer(o: TrainerSpawnOptions): TrainerProcess {
  const child = spawn(trainerPython(), o.args, {
    cwd: PROJECT_ROOT,
    detached: true, // own process group: cancellation signals the whole group (a launcher and its processes)
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PYTHONUNBUFFERED: '1',
      MMEDPO_PARENT_PID: String(process.pid),
      ...(o.gpus !== undefined ? { CUDA_VISIBLE_DEVICES: o.gpus ? o.gpus.join(',') : '' } : {}),
      ...o.env,
    },
  });
  const stderrTail: string[] = [];
  const echo = process.env.MMEDPO_TRAINER_LOGS === '1';
  readline.createInterface({ input: child.stderr! }).on('line', (l) => {
    if (echo) process.stderr.write(`[${o.what}] ${l}\n`);
    stderrTail.push(l);
    if (stderrTail.length > 40) stderrTail.shift();
  });
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    let ev: TrainerEvent;
    try {
      ev = JSON.parse(line) as TrainerEvent;
    } catch {
      return; // not a progress line
    }
    if (ev && typeof ev === 'object') o.onEvent?.(ev);
  });
  let lastLine = Date.now();
  child.stdout!.on('data', () => (lastLine = Date.now()));

  const entry: Live | undefined = child.pid !== undefined ? { pgid: child.pid, preemptible: !!o.preemptible } : undefined;
  if (entry) live.add(entry);
  let killTimer: NodeJS.Timeout | undefined;
  let closed = false;
  const terminate = () => {
    if (!entry || closed || killTimer) return;
    killGroup(entry.pgid, 'SIGTERM');
    killTimer = setTimeout(() => killGroup(entry.pgid, 'SIGKILL'), o.graceMs ?? defaultGraceMs());
    killTimer.unref();
  };
  let stalled = false;
  const ticker = setInterval(() => {
    if (o.stallMs !== undefined && !stalled && Date.now() - lastLine > o.stallMs && entry) {
      stalled = true;
      killGroup(entry.pgid, 'SIGKILL');
    }
    o.onTick?.();
  }, 1000);
  const onAbort = () => terminate();
  if (o.signal?.aborted) terminate();
  else o.signal?.addEventListener('abort', onAbort);

  const exited = new Promise<TrainerExit>((resolve, reject) => {
    const done = () => {
      closed = true;
      clearInterval(ticker);
      if (killTimer) clearTimeout(killTimer);
      o.signal?.removeEventListener('abort', onAbort);
      if (entry) live.delete(entry);
    };
    child.on('error', (e) => {
      done();
      reject(e);
    });
    child.on('close', (c, sig) => {
      done();
      const code = c ?? (sig ? 128 + (os.constants.signals[sig] ?? 0) : null);
      // let the last stdout lines be parsed
      setImmediate(() => resolve({ code, cancelled: !!o.signal?.aborted, stalled, why: stderrTail.filter((l) => l.trim()).slice(-1)[0] ?? '', stderrTail: [...stderrTail] }));
    });
  });
  return { pid: child.pid ?? -1, exited, terminate };
}

/**
 * The usual meaning of a trainer's exit: 0 → resolves; cancelled → CancelledFailure; 2 → non-retryable
 * TrainingInputError; 75 → retryable TrainerPreempted; stalled → retryable TrainerStalled; any other →
 * retryable TrainerFailed with the last stderr line. (runTraining adds its own step/checkpoint details.)
 */
export function checkTrainerExit(x: TrainerExit, what: string): void {
  if (x.cancelled) throw new CancelledFailure(`${what} cancelled`);
  if (x.code === 0) return;
  if (x.stalled) throw ApplicationFailure.retryable(`${what}: silent on stdout too long: killed`, 'TrainerStalled');
  if (x.code === TRAINER_EXIT_BAD_INPUT) throw ApplicationFailure.nonRetryable(`${what}: ${x.why}`, 'TrainingInputError');
  if (x.code === TRAINER_EXIT_PREEMPTED) throw ApplicationFailure.retryable(`${what} preempted: ${x.why}`, 'TrainerPreempted');
  throw ApplicationFailure.retryable(`${what} exited ${String(x.code)}: ${x.why}`, 'TrainerFailed');
}

/** Run a trainer command to completion (see startTrainer for the options) and map its exit with checkTrainerExit. */
export async function runTrainer(o: TrainerSpawnOptions): Promise<TrainerExit> {
  const x = await startTrainer(o).exited;
  checkTrainerExit(x, o.what);
  return x;
}
