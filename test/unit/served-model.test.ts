// A served model runs through the one trainer-process spawn path: started on first use, shared by later
// calls, told its parent (so it dies with the worker), stopped by stopServedModels, restarted after it dies.
// A shell script stands in for `python -m trainer serve` (MMEDPO_PYTHON).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { servedEndpoint, stopServedModels } from '../../activities/served-model';

let dir: string;
let saved: string | undefined;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-served-test-'));
  fs.mkdirSync(path.join(dir, 'model'));
  fs.writeFileSync(path.join(dir, 'model', 'config.json'), '{}');
  // prints where it listens (with its pid and parent) as `trainer serve` does, then serves until stopped
  const fake = path.join(dir, 'fake-python');
  fs.writeFileSync(fake, '#!/bin/sh\necho "{\\"event\\":\\"listening\\",\\"url\\":\\"http://127.0.0.1:1/$$/$MMEDPO_PARENT_PID\\"}"\nwhile :; do sleep 0.05; done\n');
  fs.chmodSync(fake, 0o755);
  saved = process.env.MMEDPO_PYTHON;
  process.env.MMEDPO_PYTHON = fake;
});
afterAll(() => {
  stopServedModels();
  if (saved === undefined) delete process.env.MMEDPO_PYTHON;
  else process.env.MMEDPO_PYTHON = saved;
  fs.rmSync(dir, { recursive: true, force: true });
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
async function until(f: () => boolean, ms = 5000): Promise<void> {
  for (const t0 = Date.now(); !f(); ) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

it('serves through the supervisor: told its parent pid, shared, restarted after it dies, stopped', async () => {
  const served = { baseModel: path.join(dir, 'model'), adapterKeys: [], seed: 0, device: 'cpu' as const };
  const a = await servedEndpoint(served);
  const [pid, parent] = a.baseURL.split('/').slice(-2).map(Number);
  expect(parent).toBe(process.pid);
  expect((await servedEndpoint(served)).baseURL).toBe(a.baseURL); // one server per model per process
  process.kill(pid!, 'SIGKILL'); // it dies: the next call starts another
  await until(() => !alive(pid!));
  await new Promise((r) => setTimeout(r, 100));
  const b = await servedEndpoint(served);
  expect(b.baseURL).not.toBe(a.baseURL);
  const pid2 = Number(b.baseURL.split('/').slice(-2)[0]);
  stopServedModels();
  await until(() => !alive(pid2));
});
