// Any Temporal cluster (issue 17): the CLI and the workers reach Temporal through an envconfig profile
// alone — TEMPORAL_CONFIG_FILE + TEMPORAL_PROFILE, no TEMPORAL_ADDRESS — and a wrong address in the
// profile fails naming it. The profile points at the test stack (global-setup).
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { Worker } from '@temporalio/worker';
import * as activities from '../../activities';
import { freePort } from '../../lib/ports';
import { PROJECT_ROOT } from '../../infra/stack';
import { resolveRuntime } from '../../lib/env';
import { createWorker } from '../../lib/temporal';
import { temporalAddress, workflowBundle } from '../helpers/temporal';

const execFileP = promisify(execFile);
// The campaign fails on purpose: its worker's WARN lines would only be noise.
process.env.MMEDPO_LOG_LEVEL ??= 'ERROR';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-profile-'));
const prefix = `profile${process.pid}-`;

/** The environment of a process configured by a profile only: the test stack's TEMPORAL_ADDRESS/NAMESPACE removed. */
function profileEnv(profile: string, file: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: profile };
  delete env.TEMPORAL_ADDRESS;
  delete env.TEMPORAL_NAMESPACE;
  return env;
}

function mmedpo(env: NodeJS.ProcessEnv, ...args: string[]) {
  return execFileP(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'mmedpo.js'), ...args], { env, timeout: 90_000 });
}

let profiles: string;
let worker: Worker;
let running: Promise<void>;

beforeAll(async () => {
  profiles = path.join(dir, 'temporal.toml');
  const closedPort = await freePort();
  fs.writeFileSync(
    profiles,
    `[profile.test-stack]\naddress = "${temporalAddress()}"\nnamespace = "default"\n\n[profile.wrong]\naddress = "127.0.0.1:${closedPort}"\nnamespace = "default"\n`,
  );
  // A worker of the project (lib/temporal.ts createWorker) whose connection comes from the profile.
  const rt = resolveRuntime(profileEnv('test-stack', profiles));
  expect(rt.temporal).toMatchObject({ address: temporalAddress(), source: `profile "test-stack" of ${profiles}` });
  worker = await createWorker({ taskQueue: `${prefix}curation`, workflowBundle: await workflowBundle(), activities }, rt);
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  fs.rmSync(dir, { recursive: true, force: true });
});

it('the CLI and a worker configured by a profile alone run a campaign on the test server', async () => {
  const env = profileEnv('test-stack', profiles);
  const root = `/nonexistent-${process.pid}/vqa-rad`;
  const cfgFile = path.join(dir, 'c.json');
  fs.writeFileSync(cfgFile, JSON.stringify({ name: 'profile', dataset: { format: 'vqa-rad', root }, training: { enabled: false }, evaluation: { enabled: false }, temporal: { queuePrefix: prefix } }));

  const started = JSON.parse((await mmedpo(env, 'campaign', 'start', cfgFile, '--json')).stdout) as { campaignId: string };
  // The worker (profile-connected) ran it: the campaign fails in prepare on the missing root.
  let status: { status: string; failure?: { type: string; message: string } } = { status: 'RUNNING' };
  for (let i = 0; i < 60 && status.status === 'RUNNING'; i++) {
    status = JSON.parse((await mmedpo(env, 'campaign', 'status', started.campaignId, '--json')).stdout);
    if (status.status === 'RUNNING') await new Promise((r) => setTimeout(r, 1000));
  }
  expect(status).toMatchObject({ status: 'FAILED', failure: { type: 'BadInput', message: `dataset root ${root} does not exist` } });
  const list = JSON.parse((await mmedpo(env, 'campaign', 'list', '--json')).stdout) as { id: string }[];
  expect(list.map((r) => r.id)).toContain(started.campaignId);
});

it('a wrong address in the profile fails in one line naming that address and the profile', async () => {
  const file = profiles;
  const wrong = fs.readFileSync(file, 'utf8').match(/\[profile\.wrong\]\naddress = "([^"]+)"/)![1]!;
  const r = await mmedpo(profileEnv('wrong', file), 'campaign', 'list').then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => e,
  );
  expect(r.code).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toContain(`cannot reach Temporal at ${wrong} (from profile "wrong" of ${file};`);
});
