// METEOR under the pycoco convention is METEOR 1.5 itself (issue 14 §6): `mmedpo eval --format report`
// equals pycocoevalcap's Meteor() on 500 report pairs (reference values: test/golden/make_meteor_goldens.py).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { scoreReports } from '../../core/metrics';
import { findMeteorJar, meteor15, MeteorUnavailableError } from '../../lib/meteor15';

const ROOT = path.resolve(__dirname, '../..');
const G = JSON.parse(fs.readFileSync(path.join(ROOT, 'test/golden/meteor-goldens.json'), 'utf8')) as { pairs: { id: string; prediction: string; reference: string }[]; meteor: number; scores: number[] };

describe('METEOR 1.5 (pycoco convention)', () => {
  test('mmedpo eval --format report: corpus and per-item METEOR equal pycocoevalcap Meteor() within 1e-4 (one Java process)', () => {
    expect(G.pairs).toHaveLength(500);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-meteor-'));
    const file = path.join(dir, 'preds.jsonl');
    fs.writeFileSync(file, G.pairs.map((p) => JSON.stringify(p)).join('\n') + '\n');
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/mmedpo.js'), 'eval', '--predictions', file, '--format', 'report', '--json', '--per-item', '--no-clinical'], { encoding: 'utf8', timeout: 110_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { totals: Record<string, number>; perItem: { id: string; scores: Record<string, number> }[]; notes: string[] };
    expect(Math.abs(j.totals.meteor! / 100 - G.meteor)).toBeLessThan(1e-4);
    const diffs = j.perItem.map((p, i) => Math.abs(p.scores.meteor! / 100 - G.scores[i]!));
    expect(Math.max(...diffs)).toBeLessThan(1e-4);
    expect(j.notes[0]).toMatch(/^METEOR 1\.5 \(meteor-1\.5\.jar from pycocoevalcap/);
    // Not the mean of the per-item scores: METEOR's aggregate over summed statistics, as pycocoevalcap reports.
    const meanOfItems = G.scores.reduce((a, b) => a + b, 0) / G.scores.length;
    expect(Math.abs(meanOfItems - G.meteor)).toBeGreaterThan(1e-3);
  });

  test('without the jar or Java: a clear error, and core scoring leaves METEOR out instead of approximating it', async () => {
    await expect(meteor15([{ hypothesis: 'a', references: ['a'] }], null)).rejects.toBeInstanceOf(MeteorUnavailableError);
    await expect(meteor15([{ hypothesis: 'a', references: ['a'] }], findMeteorJar(), '/nonexistent/java')).rejects.toThrow(/needs Java: \/nonexistent\/java was not found/);
    const r = scoreReports([{ id: '1', prediction: 'a b', reference: 'a b' }], { convention: 'pycoco', clinical: false });
    expect(r.totals.meteor).toBeUndefined();
    expect(r.notes[0]).toMatch(/METEOR not computed/);
    expect(findMeteorJar()).toMatch(/pycocoevalcap\/meteor\/meteor-1\.5\.jar$/);
  });
});
