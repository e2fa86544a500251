// The campaign's phantom set: generated once per (seed, studies, size, test
// fraction, text prior) into a temporary folder and renamed into place, so a worker killed
// mid-write never leaves a half set that a later run would trust.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PhantomOptions } from '../core/phantom';
import { writePhantom } from './phantom';

const STAMP = '.mmedpo-phantom.json';

export async function ensurePhantomDataset(o: PhantomOptions & { out: string }): Promise<{ generated: boolean }> {
  // The stamp names the text prior only when there is one, so sets generated before priors existed stay valid.
  const want = JSON.stringify({ seed: o.seed, studies: o.studies, size: o.size, testFraction: o.testFraction, ...(o.textPrior ? { textPrior: o.textPrior.strength } : {}) });
  try {
    if (fs.readFileSync(path.join(o.out, STAMP), 'utf8') === want) return { generated: false };
  } catch {
    /* not there yet */
  }
  const tmp = `${o.out}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  await writePhantom(tmp, { seed: o.seed, studies: o.studies, size: o.size, testFraction: o.testFraction, ...(o.textPrior ? { textPrior: o.textPrior } : {}) });
  fs.writeFileSync(path.join(tmp, STAMP), want);
  fs.rmSync(o.out, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(o.out), { recursive: true });
  fs.renameSync(tmp, o.out);
  return { generated: true };
}
