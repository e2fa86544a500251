// Paths stay inside the dataset. Every path a dataset file names (image_name, img_name, image_path,
// and the annotation files themselves) is resolved against the dataset root and refused when it
// escapes it: an absolute path, `..` segments that climb out, or a symlink (anywhere on the way)
// whose target lies outside the root. Loaders report such rows (`unsafe-path`), ingest quarantines
// them and never reads the file, so a crafted row cannot copy a file from elsewhere on the worker
// into the artifact store.
import * as fs from 'node:fs';
import * as path from 'node:path';

export class UnsafePathError extends Error {
  constructor(
    readonly relPath: string,
    reason: string,
  ) {
    super(`path escapes the dataset root: ${JSON.stringify(relPath)} (${reason})`);
    this.name = 'UnsafePathError';
  }
}

const realRoots = new Map<string, string>();
function realRoot(root: string): string {
  let r = realRoots.get(root);
  if (r === undefined) {
    r = fs.realpathSync(root);
    realRoots.set(root, r);
  }
  return r;
}

function inside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

/**
 * The absolute path of `rel` under `root`, or UnsafePathError when it would leave the root:
 * absolute (POSIX or a Windows drive/UNC form), a NUL byte, `..` climbing above the root, or — for
 * a path that exists — a symlink resolving outside the root. A path that does not exist yet is
 * checked lexically and by its deepest existing ancestor (so a symlinked folder on the way counts).
 */
export function resolveInside(root: string, rel: string): string {
  if (rel.includes('\u0000')) throw new UnsafePathError(rel, 'NUL byte');
  if (path.isAbsolute(rel) || path.win32.isAbsolute(rel) || /^[A-Za-z]:/.test(rel)) throw new UnsafePathError(rel, 'absolute path');
  const absRoot = path.resolve(root);
  const abs = path.resolve(absRoot, rel);
  if (!inside(absRoot, abs)) throw new UnsafePathError(rel, '".." leaves the root');
  const rroot = realRoot(absRoot);
  // The deepest existing ancestor (the path itself when it exists) must resolve inside the root.
  let probe = abs;
  while (!fs.existsSync(probe) && inside(absRoot, path.dirname(probe)) && probe !== absRoot) probe = path.dirname(probe);
  let real: string;
  try {
    real = fs.realpathSync(probe);
  } catch {
    return abs; // a dangling link or a race: the read that follows reports it
  }
  if (!inside(rroot, real)) throw new UnsafePathError(rel, `symlink to ${fs.existsSync(abs) ? 'a file' : 'a folder'} outside the root`);
  return abs;
}
