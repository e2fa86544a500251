// The machine's artifact cache (activities/training/cache.ts): a build is put in place by one rename, and a
// complete dir another run may be reading is never removed (two processes finishing the same build).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { publish } from '../../activities/training/cache';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-cache-test-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

function build(name: string, marker: string, complete = true): string {
  const d = path.join(root, name);
  fs.mkdirSync(d);
  fs.writeFileSync(path.join(d, 'weights'), marker);
  if (complete) fs.writeFileSync(path.join(d, '.complete'), marker);
  return d;
}

it('puts a build in place', async () => {
  const tmp = build('m.tmp-1', 'a');
  await publish(tmp, path.join(root, 'm'), '.complete');
  expect(fs.readFileSync(path.join(root, 'm', 'weights'), 'utf8')).toBe('a');
  expect(fs.existsSync(tmp)).toBe(false);
});

it('keeps a complete dir another process published first (a reader keeps its files)', async () => {
  build('m', 'first');
  const reader = fs.openSync(path.join(root, 'm', 'weights'), 'r');
  const ino = fs.statSync(path.join(root, 'm')).ino;
  await publish(build('m.tmp-2', 'second'), path.join(root, 'm'), '.complete');
  expect(fs.statSync(path.join(root, 'm')).ino).toBe(ino);
  expect(fs.readFileSync(path.join(root, 'm', 'weights'), 'utf8')).toBe('first');
  expect(fs.readFileSync(reader, 'utf8')).toBe('first');
  fs.closeSync(reader);
});

it('replaces an incomplete leftover (no marker: nobody reads it)', async () => {
  build('m', 'half', false);
  await publish(build('m.tmp-3', 'whole'), path.join(root, 'm'), '.complete');
  expect(fs.readFileSync(path.join(root, 'm', 'weights'), 'utf8')).toBe('whole');
  expect(fs.readdirSync(root)).toEqual(['m']); // the leftover moved aside and removed, the build in its place
});
