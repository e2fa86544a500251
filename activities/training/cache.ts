// The artifact cache of a training worker's machine, shared by every run on it (runs side by side, and the
// processes of other workers on the same machine): base models and adapters unpacked from S3, and the tiny
// model, each built once into a temp dir and renamed into place (atomic), so a reader never sees half a
// dir and no run removes a dir another one reads. Also the S3 tar transfer of checkpoints and adapters.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { ApplicationFailure } from '@temporalio/common';
import { artifactStore } from '../../lib/env';
import { sha256Hex } from '../../lib/hash';
import { PROJECT_ROOT, startTrainer } from './supervisor';

const execFileP = promisify(execFile);

/** Root of the local work dirs and caches: MMEDPO_TRAINING_DIR, else <tmp>/mmedpo-training. */
export function workRoot(): string {
  return path.resolve(process.env.MMEDPO_TRAINING_DIR ?? path.join(os.tmpdir(), 'mmedpo-training'));
}

/** Deterministic tar (sorted names, fixed mtime/owner) of parent/name into outFile, so equal files give equal keys. */
async function tarTo(parent: string, name: string, outFile: string): Promise<void> {
  await execFileP('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', parent, '-cf', outFile, name]);
}

/** Content-addressed upload of a file, streamed, through the store's one put path (SSE on). */
async function putFile(kind: string, file: string, ext: string): Promise<string> {
  return (await artifactStore().putFile(kind, file, { ext, contentType: 'application/x-tar' })).key;
}

/** Tar parent/name and upload it; returns the content-addressed key. */
export async function putDir(kind: string, parent: string, name: string, scratch: string): Promise<string> {
  const f = path.join(scratch, `.upload-${name}-${Date.now()}.tar`);
  try {
    await tarTo(parent, name, f);
    return await putFile(kind, f, '.tar');
  } finally {
    await fs.promises.rm(f, { force: true });
  }
}

/** Download a tar object (streamed) and extract it into dest; false when the key does not exist. */
export async function getTar(key: string, dest: string): Promise<boolean> {
  const store = artifactStore();
  if (!(await store.exists(key))) return false;
  await fs.promises.mkdir(dest, { recursive: true });
  const f = path.join(dest, '.incoming.tar');
  await pipeline(await store.getStream(key), fs.createWriteStream(f));
  await execFileP('tar', ['-xf', f, '-C', dest]);
  await fs.promises.rm(f, { force: true });
  return true;
}

/**
 * Put a finished build in place with one rename. A complete dir already there (another process on this
 * machine finished the same build first) is kept: runs may be reading it, so it is never removed. Only an
 * incomplete leftover (no `done` marker: nobody reads it) is moved aside, itself by a rename, and then removed.
 */
export async function publish(tmp: string, dir: string, done: string): Promise<void> {
  try {
    await fs.promises.rename(tmp, dir);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
  }
  if (fs.existsSync(path.join(dir, done))) return;
  const stale = `${dir}.stale-${process.pid}-${Date.now()}`;
  await fs.promises.rename(dir, stale);
  await fs.promises.rename(tmp, dir);
  await fs.promises.rm(stale, { recursive: true, force: true });
}

const building = new Map<string, Promise<void>>();
/**
 * A cache dir built once: runs side by side on one worker (a pool of slots) share one build of it; the build
 * goes to a temp dir renamed into place, so no reader sees half of it. `done`: the file that marks it complete.
 */
async function buildOnce(dir: string, done: string, build: (tmp: string) => Promise<void>): Promise<void> {
  if (fs.existsSync(path.join(dir, done))) return;
  let p = building.get(dir);
  if (!p) {
    p = (async () => {
      const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
      try {
        await build(tmp);
        await publish(tmp, dir, done);
      } finally {
        building.delete(dir);
        await fs.promises.rm(tmp, { recursive: true, force: true });
      }
    })();
    building.set(dir, p);
  }
  await p;
}

/** An adapter (or model) tar from S3, unpacked once per key into the work root; returns its dir. */
export async function fetchAdapterDir(key: string): Promise<string> {
  const dir = path.join(workRoot(), 'adapters', sha256Hex(Buffer.from(key)).slice(0, 20));
  await fs.promises.mkdir(path.dirname(dir), { recursive: true });
  await buildOnce(dir, '.complete', async (tmp) => {
    if (!(await getTar(key, tmp))) throw ApplicationFailure.nonRetryable(`adapter ${key} not found in S3`, 'TrainingInputError');
    await fs.promises.writeFile(path.join(tmp, '.complete'), key);
  });
  return modelRootIn(dir);
}

export function modelRootIn(dir: string): string {
  if (fs.existsSync(path.join(dir, 'config.json')) || fs.existsSync(path.join(dir, 'adapter_config.json'))) return dir;
  const subs = fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory());
  for (const s of subs) {
    const p = path.join(dir, s.name);
    if (fs.existsSync(path.join(p, 'config.json')) || fs.existsSync(path.join(p, 'adapter_config.json'))) return p;
  }
  throw ApplicationFailure.nonRetryable(`no config.json / adapter_config.json in ${dir}`, 'TrainingInputError');
}

/** A short helper command of the trainer (init-tiny, log-metrics) through the one spawn path; any failure is a
 *  retryable TrainerFailed with the trainer's last stderr line. */
export async function runPython(args: string[], what: string): Promise<void> {
  let why: string;
  try {
    const x = await startTrainer({ args: ['-m', 'trainer', ...args], what: `trainer ${what}` }).exited;
    if (x.code === 0) return;
    why = x.why || `exit code ${String(x.code)}`;
  } catch (e) {
    why = (e as Error).message;
  }
  throw ApplicationFailure.retryable(`${what} failed: ${why}`, 'TrainerFailed');
}

/** The base model dir: a local path, an S3 tar (cached by key), or the tiny model (cached by seed). */
export async function resolveBaseModel(baseModel: string | undefined, seed: number): Promise<string> {
  const models = path.join(workRoot(), 'models');
  await fs.promises.mkdir(models, { recursive: true });
  if (!baseModel) {
    // cached per seed and per version of the tiny builders (a changed builder makes another model)
    const builders = ['tiny.py', 'families.py'].map((f) => fs.readFileSync(path.join(PROJECT_ROOT, 'trainer', f)));
    const dir = path.join(models, `tiny-llava-${sha256Hex(Buffer.concat(builders)).slice(0, 12)}-seed${seed}`);
    await buildOnce(dir, 'model.safetensors', (tmp) => runPython(['init-tiny', '--out', tmp, '--seed', String(seed)], 'init-tiny'));
    return dir;
  }
  if (path.isAbsolute(baseModel) || baseModel.startsWith('.')) {
    if (!fs.existsSync(path.join(baseModel, 'config.json'))) {
      throw ApplicationFailure.nonRetryable(`baseModel ${baseModel}: no config.json there`, 'TrainingInputError');
    }
    return path.resolve(baseModel);
  }
  const dir = path.join(models, sha256Hex(Buffer.from(baseModel)).slice(0, 20));
  await buildOnce(dir, '.complete', async (tmp) => {
    if (!(await getTar(baseModel, tmp))) throw ApplicationFailure.nonRetryable(`baseModel: no local dir and no S3 object ${baseModel}`, 'TrainingInputError');
    await fs.promises.writeFile(path.join(tmp, '.complete'), baseModel);
  });
  return modelRootIn(dir);
}

