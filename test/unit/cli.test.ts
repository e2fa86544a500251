import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const SAMPLE = path.resolve(ROOT, 'test/fixtures/vqa-rad-sample');

function mmedpo(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/mmedpo.js'), ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('mmedpo CLI (no stack needed)', () => {
  it('dataset validate --json on the VQA-RAD sample: 40 images, 368 items (223 closed, 145 open), exit 0', () => {
    const r = mmedpo('dataset', 'validate', '--format', 'vqa-rad', '--root', SAMPLE, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ items: 368, images: 40, answerTypes: { closed: 223, open: 145 }, problems: [] });
  });

  it('reports a truncated JPEG and a missing image by row and name, exits non-zero', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-cli-'));
    fs.cpSync(SAMPLE, root, { recursive: true });
    for (const f of ['images', 'images/synpic100132.jpg', 'trainset.json']) fs.chmodSync(path.join(root, f), f === 'images' ? 0o755 : 0o644);
    const img = path.join(root, 'images/synpic100132.jpg');
    fs.writeFileSync(img, fs.readFileSync(img).subarray(0, 1500));
    const rows = JSON.parse(fs.readFileSync(path.join(root, 'trainset.json'), 'utf8'));
    rows[0].image_name = 'lost.jpg';
    fs.writeFileSync(path.join(root, 'trainset.json'), JSON.stringify(rows));
    const r = mmedpo('dataset', 'validate', '--format', 'vqa-rad', '--root', root);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/trainset\.json row 1: missing-image \(images\/lost\.jpg\)/);
    expect(r.stdout).toMatch(/trainset\.json row \d+: unreadable-image \(images\/synpic100132\.jpg\)/);
    const j = JSON.parse(mmedpo('dataset', 'validate', '--format', 'vqa-rad', '--root', root, '--json').stdout);
    expect(j.problems.map((p: { kind: string }) => p.kind)).toEqual(expect.arrayContaining(['missing-image', 'unreadable-image']));
  });

  it('bad input is one line without a stack trace; --verbose adds it', () => {
    const r = mmedpo('dataset', 'validate', '--format', 'dicom', '--root', ROOT);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('mmedpo: unknown format "dicom": use one of vqa-rad, slake, r2gen, phantom');
    const v = mmedpo('dataset', 'validate', '--format', 'dicom', '--root', ROOT, '--verbose');
    expect(v.stderr).toMatch(/at .*datasets/);
  });

  it('names an unreachable Temporal endpoint and what to do', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/mmedpo.js'), 'dataset', 'ingest', '--format', 'vqa-rad', '--root', SAMPLE], {
      encoding: 'utf8',
      env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:9' },
      timeout: 60_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/cannot reach Temporal at 127\.0\.0\.1:9 \(from TEMPORAL_ADDRESS; .*\) — check the address, TLS and API key/);
  });
});
