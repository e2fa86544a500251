// METEOR 1.5 itself (Denkowski & Lavie 2014), as pycocoevalcap's Meteor() runs it: the
// `meteor-1.5.jar` and its English paraphrase table ship inside the pinned `pycocoevalcap` wheel
// (trainer/requirements.txt); Java comes from the system (infra/setup.sh installs a headless JRE).
//
// Protocol (pycocoevalcap/meteor/meteor.py, v1.2): one process
//   java -jar -Xmx2G meteor-1.5.jar - - -stdio -l en -norm      (cwd = the jar's folder)
// per scoring call; for each segment a line `SCORE ||| ref_1 ||| … ||| ref_n ||| hypothesis` answers
// with its sufficient statistics; then `EVAL ||| stats_1 ||| … ||| stats_N` answers N per-segment
// scores and one aggregate score (over the summed statistics — not the mean of the segments), which
// is the corpus METEOR pycocoevalcap reports. As pycocoevalcap, the hypothesis has '|||' removed and
// double spaces collapsed once. Beyond it, line breaks (which would break the line protocol there) are
// turned into spaces in hypotheses and references, and '|||' is removed from references too.
//
// The JVM start and the paraphrase table load take several seconds (~12 s of CPU here), so callers
// score a whole file in one call, never one pair at a time.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { stackHome } from './env';

export const METEOR_JAR_ENV = 'MMEDPO_METEOR_JAR';

export class MeteorUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MeteorUnavailableError';
  }
}

/** The meteor-1.5.jar of the project venv's pycocoevalcap ($MMEDPO_METEOR_JAR overrides), or null. */
export function findMeteorJar(env: NodeJS.ProcessEnv = process.env): string | null {
  const explicit = env[METEOR_JAR_ENV];
  if (explicit) return fs.existsSync(explicit) ? path.resolve(explicit) : null;
  for (const home of [stackHome(), path.join(__dirname, '..', '.mmedpo')]) {
    const lib = path.join(home, 'venv', 'lib');
    let pys: string[] = [];
    try {
      pys = fs.readdirSync(lib).filter((d) => d.startsWith('python')).sort();
    } catch {
      continue;
    }
    for (const py of pys) {
      const jar = path.join(lib, py, 'site-packages', 'pycocoevalcap', 'meteor', 'meteor-1.5.jar');
      if (fs.existsSync(jar)) return jar;
    }
  }
  return null;
}

export interface Meteor15Pair {
  hypothesis: string;
  references: string[];
}

export interface Meteor15Result {
  /** The aggregate METEOR over every segment (pycocoevalcap's `score`), in [0, 1]. */
  score: number;
  /** Per-segment METEOR, input order (pycocoevalcap's `scores`). */
  scores: number[];
  /** What produced the numbers, for result notes. */
  description: string;
}

const oneLine = (s: string) => s.replace(/\r\n|\r|\n/g, ' ');
const cleanHypothesis = (s: string) => oneLine(s).replace(/\|\|\|/g, '').replace(/ {2}/g, ' ');
const cleanReference = (s: string) => oneLine(s).replace(/\|\|\|/g, '');

/**
 * METEOR 1.5 of hypothesis/references pairs in one Java process. Throws MeteorUnavailableError when
 * the jar or `java` is missing (the message says how to install it), Error when the process fails.
 */
export async function meteor15(pairs: readonly Meteor15Pair[], jar: string | null = findMeteorJar(), java = process.env.MMEDPO_JAVA ?? 'java'): Promise<Meteor15Result> {
  if (!jar) throw new MeteorUnavailableError('METEOR 1.5 needs meteor-1.5.jar from the pinned pycocoevalcap (trainer/requirements.txt): run infra/setup.sh, or set MMEDPO_METEOR_JAR');
  const description = `METEOR 1.5 (${path.basename(jar)} from pycocoevalcap, -l en -norm: exact, stem, WordNet synonym and paraphrase modules; corpus score = METEOR's aggregate over all segments, as pycocoevalcap Meteor() reports it)`;
  if (pairs.length === 0) return { score: 0, scores: [], description };
  const child = spawn(java, ['-jar', '-Xmx2G', path.basename(jar), '-', '-', '-stdio', '-l', 'en', '-norm'], { cwd: path.dirname(jar), stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-2000)));
  const exited = new Promise<never>((_, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'ENOENT' ? new MeteorUnavailableError(`METEOR 1.5 needs Java: ${java} was not found (infra/setup.sh installs default-jre-headless; MMEDPO_JAVA names another java)`) : e),
    );
    child.on('exit', (code) => reject(new Error(`METEOR 1.5 (java) exited with ${code} before answering: ${stderr.trim().split('\n').pop() ?? ''}`)));
  });
  exited.catch(() => undefined);
  const lines = readline.createInterface({ input: child.stdout });
  const queue: string[] = [];
  let waiting: ((l: string) => void) | null = null;
  lines.on('line', (l) => {
    if (waiting) {
      const w = waiting;
      waiting = null;
      w(l);
    } else queue.push(l);
  });
  const next = () => Promise.race([queue.length ? Promise.resolve(queue.shift()!) : new Promise<string>((ok) => (waiting = ok)), exited]);
  try {
    // SCORE lines are pipelined; the jar answers each in order.
    for (const p of pairs) child.stdin.write(`SCORE ||| ${p.references.map(cleanReference).join(' ||| ')} ||| ${cleanHypothesis(p.hypothesis)}\n`);
    const stats: string[] = [];
    for (let i = 0; i < pairs.length; i++) stats.push((await next()).trim());
    child.stdin.write(`EVAL ||| ${stats.join(' ||| ')}\n`);
    const scores: number[] = [];
    for (let i = 0; i < pairs.length; i++) scores.push(parseScore(await next()));
    const score = parseScore(await next());
    return { score, scores, description };
  } finally {
    child.removeAllListeners('exit');
    child.stdin.end();
    child.kill();
    lines.close();
  }
}

function parseScore(line: string): number {
  const v = Number(line.trim());
  if (!Number.isFinite(v)) throw new Error(`METEOR 1.5 answered ${JSON.stringify(line.slice(0, 80))}, expected a score`);
  return v;
}
