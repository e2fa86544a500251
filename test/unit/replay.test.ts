// Replays saved histories (test/histories/*.json, made by record.ts) against the
// current workflow code: a change that breaks determinism fails here.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const DIR = path.resolve(__dirname, '../histories');

describe('workflow replay against saved histories', () => {
  it('replays every saved history without non-determinism', () => {
    const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    const r = spawnSync(process.execPath, [require.resolve('tsx/cli'), path.join(DIR, 'replay.ts')], { encoding: 'utf8', timeout: 120_000 });
    // The SDK's own log lines (a failed replay warns on stdout) are not results: only JSON lines are.
    const lines = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { history: string; ok: boolean; error?: string });
    expect(lines.map((l) => l.history).sort()).toEqual(files.sort());
    expect(lines.filter((l) => !l.ok)).toEqual([]);
    expect(r.status).toBe(0);
  });
});
