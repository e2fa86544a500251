// One decode (issue 14 §1): the canonical rule read by TypeScript (lib/canonical-image.ts, sharp) and
// by Python (trainer/image_io.py, Pillow) gives identical pixels on a corpus of odd encodings
// (test/fixtures/images/make_corpus.py), and the 16-bit DICOM→PNG export of ../shared/cases shows
// every consumer the picture of its 8-bit shift.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { trainerPython } from '../../activities/training';
import { BadImageError, canonicalize, decodeCanonical, encodeCanonicalPng } from '../../lib/canonical-image';

const ROOT = path.resolve(__dirname, '../..');
const CORPUS = path.join(ROOT, 'test/fixtures/images/corpus');
const CASE = path.join(ROOT, 'test/fixtures/cases/png-16bit-grayscale');

interface Digest {
  file: string;
  height?: number;
  width?: number;
  channels?: number;
  sha256?: string;
  transforms?: string[];
  error?: string;
}

/** One Python process digests every file (trainer/image_io.py's CLI). */
function pythonDigests(files: string[]): Digest[] {
  const r = spawnSync(trainerPython(), ['-m', 'trainer.image_io', ...files], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`trainer.image_io failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Digest);
}

async function tsDigest(file: string): Promise<Digest> {
  try {
    const c = await decodeCanonical(fs.readFileSync(file));
    return { file: path.basename(file), height: c.height, width: c.width, channels: c.channels, sha256: createHash('sha256').update(c.data).digest('hex'), transforms: c.transforms };
  } catch (e) {
    return { file: path.basename(file), error: (e as Error).message };
  }
}

const corpus = fs.readdirSync(CORPUS).sort().map((f) => path.join(CORPUS, f));
const VQA_RAD = path.join(ROOT, 'test/fixtures/vqa-rad-sample/images');

describe('canonical decode: TypeScript and Python read the same pixels', () => {
  const files = [...corpus, path.join(CASE, 'g16.png'), path.join(CASE, 'g8.png')];
  let py: Map<string, Digest>;
  beforeAll(() => {
    py = new Map(pythonDigests(files).map((d) => [d.file, d]));
  });

  test('the corpus covers the encodings real datasets carry', () => {
    const names = corpus.map((f) => path.basename(f));
    for (const n of ['gray16.png', 'gray-alpha.png', 'palette.png', 'cmyk.jpg', 'rgb-exif6.jpg', 'rgb-progressive.jpg', 'rgb.tif', 'gray16.tif', 'rgb-icc.png']) expect(names).toContain(n);
  });

  test.each(files.map((f) => [path.basename(f), f]))('%s: identical pixels, shape and transform record', async (name, file) => {
    const ts = await tsDigest(file);
    expect(ts.error).toBeUndefined();
    expect(py.get(name)).toEqual(ts);
  });

  test('the 40 real VQA-RAD sample JPEGs: identical pixels in both languages', async () => {
    const real = fs.readdirSync(VQA_RAD).sort().map((f) => path.join(VQA_RAD, f));
    expect(real).toHaveLength(40);
    const p = pythonDigests(real);
    for (const [i, f] of real.entries()) expect(p[i]).toEqual(await tsDigest(f));
  });

  test('a canonical PNG decodes to itself in both languages (what every consumer downstream reads)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-canon-'));
    const written: string[] = [];
    const expected = new Map<string, Digest>();
    for (const f of corpus) {
      const { png, image } = await canonicalize(fs.readFileSync(f));
      const out = path.join(dir, `${path.basename(f)}.png`);
      fs.writeFileSync(out, png);
      written.push(out);
      const again = await decodeCanonical(png);
      expect(again.transforms).toEqual([]);
      expect(Buffer.from(again.data).equals(Buffer.from(image.data))).toBe(true);
      expect(again.channels).toBe(image.channels);
      expected.set(path.basename(out), { file: path.basename(out), height: image.height, width: image.width, channels: image.channels, sha256: createHash('sha256').update(image.data).digest('hex'), transforms: [] });
    }
    for (const d of pythonDigests(written)) expect(d).toEqual(expected.get(d.file));
  });
});

describe('the rule itself', () => {
  test('16-bit DICOM→PNG export (../shared/cases/png-16bit-grayscale): the picture of g8.png, min 78, max 209, mean ≈ 101.2', async () => {
    const g16 = await decodeCanonical(fs.readFileSync(path.join(CASE, 'g16.png')));
    const g8 = await decodeCanonical(fs.readFileSync(path.join(CASE, 'g8.png')));
    expect([g16.width, g16.height, g16.channels]).toEqual([256, 256, 1]);
    expect(Buffer.from(g16.data).equals(Buffer.from(g8.data))).toBe(true);
    let min = 255, max = 0, sum = 0;
    for (const v of g16.data) {
      min = Math.min(min, v);
      max = Math.max(max, v);
      sum += v;
    }
    expect([min, max]).toEqual([78, 209]);
    expect(sum / g16.data.length).toBeCloseTo(101.2, 1);
    expect(g16.transforms).toEqual(['16-bit → 8-bit (v >> 8)']);
    expect(g16.source).toMatchObject({ format: 'png', bitsPerSample: 16, channels: 1 });
  });

  test('12-bit values in a 16-bit container are flagged low-range', async () => {
    const c = await decodeCanonical(fs.readFileSync(path.join(CORPUS, 'gray16-12bit.png')));
    expect(c.transforms[0]).toMatch(/low-range/);
    expect(Math.max(...c.data)).toBeLessThan(16);
  });

  test('EXIF orientation 6 turns a 40×28 picture into 28×40; the other orientations are permutations of it', async () => {
    const base = await decodeCanonical(fs.readFileSync(path.join(CORPUS, 'rgb-baseline.jpg')));
    const r6 = await decodeCanonical(fs.readFileSync(path.join(CORPUS, 'rgb-exif6.jpg')));
    expect([base.width, base.height, r6.width, r6.height]).toEqual([40, 28, 28, 40]);
    // orientation 6 = rotate 90° clockwise to display: displayed (x, y) = stored (y, H−1−x)
    for (const [x, y] of [[0, 0], [5, 7], [27, 39]] as const) {
      for (let c = 0; c < 3; c++) expect(r6.data[(y * 28 + x) * 3 + c]).toBe(base.data[((27 - x) * 40 + y) * 3 + c]);
    }
  });

  test('CMYK → RGB by (255−C)(255−K)/255; ICC profiles are not applied; alpha composited on black', async () => {
    const cmykRaw = await sharp(fs.readFileSync(path.join(CORPUS, 'cmyk.jpg'))).pipelineColourspace('cmyk').toColourspace('cmyk').raw().toBuffer();
    const cmyk = await decodeCanonical(fs.readFileSync(path.join(CORPUS, 'cmyk.jpg')));
    for (const i of [0, 17, 500, 1119]) {
      const k = 255 - cmykRaw[i * 4 + 3]!;
      expect(cmyk.data[i * 3]).toBe(Math.floor(((255 - cmykRaw[i * 4]!) * k + 127) / 255));
    }
    const icc = await decodeCanonical(fs.readFileSync(path.join(CORPUS, 'rgb-icc.jpg')));
    const plain = await decodeCanonical(fs.readFileSync(path.join(CORPUS, 'rgb-baseline.jpg')));
    expect(Buffer.from(icc.data).equals(Buffer.from(plain.data))).toBe(true); // the swapped-primaries profile was ignored
    const la = await decodeCanonical(fs.readFileSync(path.join(CORPUS, 'gray-alpha.png')));
    const g = await decodeCanonical(fs.readFileSync(path.join(CORPUS, 'gray8.png')));
    expect(la.channels).toBe(1);
    expect(la.data[0]).toBe(0); // alpha 0 at x = 0
    expect(la.data[39]).toBe(g.data[39]); // alpha 255 at x = 39
  });

  test('palettes: colour stays RGB, an all-gray palette becomes one channel', async () => {
    expect((await decodeCanonical(fs.readFileSync(path.join(CORPUS, 'palette.png')))).channels).toBe(3);
    expect((await decodeCanonical(fs.readFileSync(path.join(CORPUS, 'palette-gray.png')))).channels).toBe(1);
  });

  test('truncated, unknown and unsupported inputs are BadImageError, in Python too', async () => {
    const png = fs.readFileSync(path.join(CORPUS, 'gray8.png'));
    await expect(decodeCanonical(png.subarray(0, 60))).rejects.toBeInstanceOf(BadImageError);
    await expect(decodeCanonical(Buffer.from('not an image'))).rejects.toBeInstanceOf(BadImageError);
    const gif = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#808080' } }).gif().toBuffer();
    await expect(decodeCanonical(gif)).rejects.toThrow(/unsupported image format gif/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-canon-bad-'));
    fs.writeFileSync(path.join(dir, 'cut.png'), png.subarray(0, 60));
    fs.writeFileSync(path.join(dir, 'x.gif'), gif);
    const d = pythonDigests([path.join(dir, 'cut.png'), path.join(dir, 'x.gif')]);
    expect(d[0]!.error).toMatch(/cannot decode image/);
    expect(d[1]!.error).toMatch(/unsupported image format GIF/);
  });

  test('canonical PNG bytes are deterministic (same pixels → same bytes → same content key)', async () => {
    const c = await decodeCanonical(fs.readFileSync(path.join(CORPUS, 'rgb16.png')));
    const a = await encodeCanonicalPng(c);
    const b = await encodeCanonicalPng({ ...c, data: Uint8Array.from(c.data) });
    expect(a.equals(b)).toBe(true);
  });
});
