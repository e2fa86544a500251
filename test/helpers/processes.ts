// Worker processes for durability tests: real OS processes that a test can SIGKILL.
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

export interface WorkerProcess {
  name: string;
  child: ChildProcess;
  log: string;
  kill9(): Promise<void>;
  restart(): WorkerProcess;
}

/** Spawns `tsx workers/<entry>.ts` in its own process group; output goes to a log file. */
export function spawnWorker(name: string, entry: string, env: NodeJS.ProcessEnv, logDir: string): WorkerProcess {
  fs.mkdirSync(logDir, { recursive: true });
  const log = path.join(logDir, `${name}.log`);
  const out = fs.openSync(log, 'a');
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), path.join(ROOT, 'workers', `${entry}.ts`)], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', out, out],
    detached: true,
  });
  fs.closeSync(out);
  const wp: WorkerProcess = {
    name,
    child,
    log,
    kill9: async () => {
      if (child.exitCode !== null || child.signalCode) return;
      const exited = new Promise((r) => child.once('exit', r));
      try {
        process.kill(-child.pid!, 'SIGKILL'); // the whole group: the trainer child dies too
      } catch {
        child.kill('SIGKILL');
      }
      await exited;
    },
    restart: () => spawnWorker(name, entry, env, logDir),
  };
  return wp;
}

export async function waitUntil(what: string, fn: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 250): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
