import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { summarize } from '../../core/dataset';
import { loadDataset } from '../../lib/datasets';

const SAMPLE = path.resolve(__dirname, '../fixtures/vqa-rad-sample'); // VQA-RAD (CC0), copied from the shared sample
const PNG_1PX = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010800000000' + '3a7e9b55' + '0000000a49444154789c63600000000200015e2f9bd40000000049454e44ae426082', 'hex');

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-ds-'));
}

describe('VQA-RAD loader on the real sample', () => {
  it('reads 368 items on 40 images (223 closed, 145 open) with no problem', async () => {
    const d = await loadDataset({ format: 'vqa-rad', root: SAMPLE });
    const s = summarize(d);
    expect(s).toMatchObject({ items: 368, images: 40, answerTypes: { closed: 223, open: 145 }, problems: 0 });
    expect(d.items[0]!.id).toBe('vqa-rad:train:12');
    expect(d.items[0]!.images).toEqual(['images/synpic42202.jpg']);
  });

  it('reports a truncated JPEG and a missing image by row and name', async () => {
    const root = tmpdir();
    fs.cpSync(SAMPLE, root, { recursive: true });
    fs.chmodSync(path.join(root, 'images'), 0o755);
    const img = path.join(root, 'images', 'synpic42202.jpg');
    fs.chmodSync(img, 0o644);
    fs.writeFileSync(img, fs.readFileSync(img).subarray(0, 3000));
    const rows = JSON.parse(fs.readFileSync(path.join(SAMPLE, 'trainset.json'), 'utf8'));
    rows[10].image_name = 'missing.jpg';
    fs.chmodSync(path.join(root, 'trainset.json'), 0o644);
    fs.writeFileSync(path.join(root, 'trainset.json'), JSON.stringify(rows));
    const d = await loadDataset({ format: 'vqa-rad', root });
    const missing = d.problems.filter((p) => p.kind === 'missing-image');
    const bad = d.problems.filter((p) => p.kind === 'unreadable-image');
    expect(missing).toEqual([expect.objectContaining({ row: 11, image: 'images/missing.jpg', file: 'trainset.json' })]);
    expect(bad.length).toBeGreaterThan(0);
    expect(bad.every((p) => p.image === 'images/synpic42202.jpg')).toBe(true);
    expect(bad[0]!.message).toMatch(/premature end|truncat/i);
  });
});

describe('loaders on hand-made folders', () => {
  it('VQA-RAD: "CLOSED " rows, malformed rows, empty answers, duplicate ids', async () => {
    const root = tmpdir();
    fs.mkdirSync(path.join(root, 'images'));
    fs.writeFileSync(path.join(root, 'images', 'a.png'), PNG_1PX);
    fs.writeFileSync(
      path.join(root, 'testset.json'),
      JSON.stringify([
        { qid: 1, image_name: 'a.png', answer: 'yes', answer_type: 'CLOSED ', question: 'Is it?' },
        { qid: 2, image_name: 'a.png', answer_type: 'OPEN', question: 'What?' },
        { qid: 3, image_name: 'a.png', answer: ' ', answer_type: 'OPEN', question: 'Where?' },
        { qid: 1, image_name: 'a.png', answer: 'no', answer_type: 'CLOSED', question: 'Again?' },
      ]),
    );
    const d = await loadDataset({ format: 'vqa-rad', root, split: 'test' });
    expect(d.items.map((i) => i.answerType)).toEqual(['closed', 'open', 'closed']);
    expect(d.problems.map((p) => [p.kind, p.row])).toEqual([
      ['malformed-row', 2],
      ['empty-answer', 3],
      ['duplicate-id', 4],
    ]);
    expect(d.problems[0]!.message).toContain('answer');
  });

  it('SLAKE: keeps English rows by default, images under imgs/', async () => {
    const root = tmpdir();
    fs.mkdirSync(path.join(root, 'imgs', 'xmlab1'), { recursive: true });
    fs.writeFileSync(path.join(root, 'imgs', 'xmlab1', 'source.jpg'), PNG_1PX);
    const row = (qid: number, lang: string) => ({ img_id: 1, img_name: 'xmlab1/source.jpg', question: 'Q?', answer: 'Lung', q_lang: lang, qid, answer_type: 'OPEN' });
    fs.writeFileSync(path.join(root, 'test.json'), JSON.stringify([row(1, 'en'), row(2, 'zh'), row(3, 'en')]));
    const d = await loadDataset({ format: 'slake', root });
    expect(d.items.map((i) => i.id)).toEqual(['slake:test:1', 'slake:test:3']);
    expect(d.items[0]!.images).toEqual(['imgs/xmlab1/source.jpg']);
    expect(d.problems).toEqual([]);
    expect((await loadDataset({ format: 'slake', root, language: '' })).items).toHaveLength(3);
  });

  it('R2Gen: several images per study, splits, missing images by row', async () => {
    const root = tmpdir();
    fs.mkdirSync(path.join(root, 'images', 'CXR1'), { recursive: true });
    fs.writeFileSync(path.join(root, 'images', 'CXR1', '0.png'), PNG_1PX);
    fs.writeFileSync(path.join(root, 'images', 'CXR1', '1.png'), PNG_1PX);
    fs.writeFileSync(
      path.join(root, 'annotation.json'),
      JSON.stringify({
        train: [{ id: 'CXR1', report: 'The heart is normal.', image_path: ['CXR1/0.png', 'CXR1/1.png'], split: 'train' }],
        val: [],
        test: [{ id: 'CXR2', report: 'No effusion.', image_path: ['CXR2/0.png'], split: 'test' }, { id: 'CXR3', image_path: [] }],
      }),
    );
    const d = await loadDataset({ format: 'r2gen', root });
    expect(d.items.map((i) => [i.id, i.images.length, i.kind])).toEqual([
      ['r2gen:train:CXR1', 2, 'report'],
      ['r2gen:test:CXR2', 1, 'report'],
    ]);
    expect(d.problems.map((p) => [p.kind, p.row])).toEqual([
      ['missing-image', 2],
      ['malformed-row', 3],
    ]);
    expect((await loadDataset({ format: 'r2gen', root, split: 'test' })).items).toHaveLength(1);
  });

  it('fails clearly on an unknown format or a folder of the wrong layout', async () => {
    await expect(loadDataset({ format: 'dicom', root: tmpdir() })).rejects.toThrow(/unknown format "dicom"/);
    await expect(loadDataset({ format: 'r2gen', root: tmpdir() })).rejects.toThrow(/no annotation.json/);
  });
});

describe('paths stay inside the dataset (issue 18 §3)', () => {
  function vqaRad(rows: Record<string, unknown>[]): string {
    const base = tmpdir();
    const root = path.join(base, 'data');
    fs.mkdirSync(path.join(root, 'images'), { recursive: true });
    fs.writeFileSync(path.join(root, 'images', 'a.png'), PNG_1PX);
    fs.mkdirSync(path.join(base, 'secret'));
    fs.writeFileSync(path.join(base, 'secret', 'private.jpg'), PNG_1PX);
    fs.writeFileSync(path.join(root, 'trainset.json'), JSON.stringify(rows));
    return root;
  }
  const row = (qid: number, image_name: string) => ({ qid, image_name, answer: 'yes', answer_type: 'CLOSED', question: 'Is it?' });

  it('refuses "..", absolute paths and symlinks pointing out, by row and path; the row gives no item', async () => {
    const root = vqaRad([row(1, 'a.png'), row(2, '../../secret/private.jpg'), row(3, path.join(path.dirname(root0()), 'x.png')), row(4, 'link.jpg'), row(5, 'dir/private.jpg'), row(6, 'inner.png')]);
    // A symlink to a file outside, a symlinked folder pointing outside, and a symlink that stays inside.
    fs.symlinkSync(path.join(root, '..', 'secret', 'private.jpg'), path.join(root, 'images', 'link.jpg'));
    fs.symlinkSync(path.join(root, '..', 'secret'), path.join(root, 'images', 'dir'));
    fs.symlinkSync(path.join(root, 'images', 'a.png'), path.join(root, 'images', 'inner.png'));
    const d = await loadDataset({ format: 'vqa-rad', root });
    expect(d.items.map((i) => i.id)).toEqual(['vqa-rad:train:1', 'vqa-rad:train:6']);
    const unsafe = d.problems.filter((p) => p.kind === 'unsafe-path');
    expect(unsafe.map((p) => [p.row, p.image])).toEqual([
      [2, '../../secret/private.jpg'],
      [3, expect.stringMatching(/^\/.*x\.png$/)],
      [4, 'link.jpg'],
      [5, 'dir/private.jpg'],
    ]);
    expect(unsafe[0]!.message).toMatch(/escapes the dataset root: "\.\.\/secret\/private\.jpg" \(".." leaves the root\)/);
    expect(unsafe[1]!.message).toMatch(/absolute path/);
    expect(unsafe[2]!.message).toMatch(/symlink/);
    expect(unsafe[3]!.message).toMatch(/symlink/);
    expect(d.problems).toHaveLength(4);
  });

  it('an annotation file that is a symlink out of the root is not read', async () => {
    const root = vqaRad([row(1, 'a.png')]);
    fs.writeFileSync(path.join(root, '..', 'outside.json'), JSON.stringify([row(1, 'a.png')]));
    fs.rmSync(path.join(root, 'trainset.json'));
    fs.symlinkSync(path.join(root, '..', 'outside.json'), path.join(root, 'trainset.json'));
    const d = await loadDataset({ format: 'vqa-rad', root });
    expect(d.items).toEqual([]);
    expect(d.problems).toEqual([expect.objectContaining({ kind: 'unsafe-path', file: 'trainset.json', row: null })]);
  });

  it('SLAKE and R2Gen rows are checked the same way', async () => {
    const root = tmpdir();
    fs.mkdirSync(path.join(root, 'imgs'));
    fs.writeFileSync(path.join(root, 'test.json'), JSON.stringify([{ img_id: 1, img_name: '../../../etc/passwd', question: 'Q?', answer: 'A', q_lang: 'en', qid: 1, answer_type: 'OPEN' }]));
    const s = await loadDataset({ format: 'slake', root });
    expect(s.problems.map((p) => [p.kind, p.row, p.image])).toEqual([['unsafe-path', 1, '../../../etc/passwd']]);
    fs.writeFileSync(path.join(root, 'annotation.json'), JSON.stringify({ test: [{ id: 'S1', report: 'r', image_path: ['ok.png', '/etc/hostname'] }] }));
    const r = await loadDataset({ format: 'r2gen', root });
    expect(r.items).toEqual([]);
    expect(r.problems.map((p) => [p.kind, p.row, p.image])).toEqual([['unsafe-path', 1, '/etc/hostname']]);
  });
});

function root0(): string {
  return os.tmpdir();
}

describe('split hygiene and canonical-decode report', () => {
  const MEVF = path.resolve(__dirname, '../fixtures/vqa-rad-mevf');

  it('MEVF-shaped fixture: shared images by content (and by path without decoding), repeated questions', async () => {
    const d = await loadDataset({ format: 'vqa-rad', root: MEVF });
    expect(summarize(d)).toMatchObject({ items: 41, images: 5, sharedImages: 3, repeatedQuestions: 2, answerTypes: { closed: 29, open: 12 } });
    expect(d.overlap.sharedImages.bySplit).toEqual({ train: 3, test: 3 });
    expect(d.overlap.repeatedQuestions.examples.map((e) => e.ids.filter((i) => i.startsWith('vqa-rad:test:')))).toEqual([['vqa-rad:test:9001'], ['vqa-rad:test:9002']]);
    // Without decoding, identity is the path: the renamed copy is not recognized.
    const scan = await loadDataset({ format: 'vqa-rad', root: MEVF, decodeImages: false });
    expect(scan.overlap.sharedImages.count).toBe(2);
    // One split only: nothing to compare.
    expect((await loadDataset({ format: 'vqa-rad', root: MEVF, split: 'test' })).overlap.sharedImages.count).toBe(0);
  });

  it('lists the images the canonical decode changed (a 16-bit DICOM→PNG export)', async () => {
    const root = tmpdir();
    fs.mkdirSync(path.join(root, 'images'));
    fs.copyFileSync(path.resolve(__dirname, '../fixtures/cases/png-16bit-grayscale/g16.png'), path.join(root, 'images', 'g16.png'));
    fs.writeFileSync(path.join(root, 'images', 'a.png'), PNG_1PX);
    fs.writeFileSync(path.join(root, 'trainset.json'), JSON.stringify([
      { qid: 1, image_name: 'g16.png', answer: 'yes', answer_type: 'CLOSED', question: 'Is it?' },
      { qid: 2, image_name: 'a.png', answer: 'no', answer_type: 'CLOSED', question: 'Is it?' },
    ]));
    const d = await loadDataset({ format: 'vqa-rad', root });
    expect(d.images.map((i) => [i.image, i.transforms])).toEqual([
      ['images/a.png', []],
      ['images/g16.png', ['16-bit → 8-bit (v >> 8)']],
    ]);
    expect(summarize(d).transformedImages).toBe(1);
  });
});

describe('mmedpo dataset validate (CLI)', () => {
  const ROOT = path.resolve(__dirname, '../..');
  const mmedpo = (...args: string[]) => require('node:child_process').spawnSync(process.execPath, [path.join(ROOT, 'bin/mmedpo.js'), ...args], { encoding: 'utf8', timeout: 60_000 }) as { status: number; stdout: string; stderr: string };

  it('MEVF-shaped VQA-RAD: warns about the train/test image overlap and repeated questions; --strict fails on them', () => {
    const root = path.resolve(__dirname, '../fixtures/vqa-rad-mevf');
    const r = mmedpo('dataset', 'validate', '--format', 'vqa-rad', '--root', root);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('warning: 3 image(s) appear in more than one split (train 3, test 3)');
    expect(r.stdout).toContain('warning: 2 question(s) on the same image repeat across splits; e.g. "Is/Are there mass effect?" on images/synpic39301.jpg');
    const strict = mmedpo('dataset', 'validate', '--format', 'vqa-rad', '--root', root, '--strict', '--json');
    expect(strict.status).toBe(2);
    expect(JSON.parse(strict.stdout)).toMatchObject({ sharedImages: 3, repeatedQuestions: 2, overlap: { sharedImages: { bySplit: { train: 3, test: 3 } } } });
    expect(strict.stderr.trim()).toBe(`mmedpo: 2 split-hygiene warning(s) in ${root} (--strict)`);
  });

  it('a traversal row: the row and the path are reported and the exit status is non-zero', () => {
    const root = tmpdir();
    fs.mkdirSync(path.join(root, 'images'));
    fs.writeFileSync(path.join(root, 'images', 'a.png'), PNG_1PX);
    fs.writeFileSync(path.join(root, 'trainset.json'), JSON.stringify([
      { qid: 1, image_name: 'a.png', answer: 'yes', answer_type: 'CLOSED', question: 'Is it?' },
      { qid: 2, image_name: '../../secret/private.jpg', answer: 'yes', answer_type: 'CLOSED', question: 'Is it?' },
    ]));
    const r = mmedpo('dataset', 'validate', '--format', 'vqa-rad', '--root', root);
    expect(r.status).toBe(2);
    expect(r.stdout).toContain('problem: trainset.json row 2: unsafe-path (../../secret/private.jpg) — path escapes the dataset root: "../secret/private.jpg" (".." leaves the root); the row is not used');
  });
});
