// Writes the phantom-cxr set to disk: images/ and masks/ (8-bit gray PNG, fixed
// sharp options so equal pixels give equal bytes), trainset.json / testset.json
// (VQA-RAD MEVF layout), annotation.json (R2Gen layout) and phantom.json (findings, masks, boxes).
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import sharp from 'sharp';
import { checkTextPrior, generateStudy, PhantomLayout, PhantomOptions } from '../core/phantom';

/** Fixed PNG options: no adaptive filtering, no palette, fixed zlib level → byte-stable output. */
export const PNG_OPTIONS = { compressionLevel: 9, adaptiveFiltering: false, palette: false, effort: 7 } as const;

export async function encodeGrayPng(pixels: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png(PNG_OPTIONS)
    .toBuffer();
}

export interface PhantomWriteResult {
  out: string;
  studies: number;
  train: number;
  test: number;
  normal: number;
  questions: number;
  files: number;
}

export async function writePhantom(out: string, o: PhantomOptions, onStudy?: (i: number) => void): Promise<PhantomWriteResult> {
  if (!Number.isInteger(o.studies) || o.studies < 1) throw new Error(`--studies must be a positive integer, got ${o.studies}`);
  if (!Number.isInteger(o.size) || o.size < 64 || o.size > 2048) throw new Error(`--size must be an integer in [64, 2048], got ${o.size}`);
  if (!Number.isInteger(o.seed) || o.seed < 0) throw new Error(`--seed must be a non-negative integer, got ${o.seed}`);
  checkTextPrior(o.textPrior);
  await fs.mkdir(path.join(out, 'images'), { recursive: true });
  await fs.mkdir(path.join(out, 'masks'), { recursive: true });
  const layout = new PhantomLayout(o);
  let normal = 0;
  for (let i = 0; i < o.studies; i++) {
    const s = generateStudy(o, i);
    await fs.writeFile(path.join(out, 'images', s.image), await encodeGrayPng(s.pixels, s.size, s.size));
    await fs.writeFile(path.join(out, 'masks', s.mask), await encodeGrayPng(s.maskPixels, s.size, s.size));
    layout.add(s);
    if (!s.findings.length) normal++;
    onStudy?.(i);
  }
  const json = (v: unknown) => JSON.stringify(v, null, 1) + '\n';
  await fs.writeFile(path.join(out, 'trainset.json'), json(layout.trainset));
  await fs.writeFile(path.join(out, 'testset.json'), json(layout.testset));
  await fs.writeFile(path.join(out, 'annotation.json'), json(layout.annotation));
  await fs.writeFile(path.join(out, 'phantom.json'), json(layout.phantomJson()));
  return {
    out,
    studies: o.studies,
    train: layout.annotation.train.length,
    test: layout.annotation.test.length,
    normal,
    questions: layout.trainset.length + layout.testset.length,
    files: 2 * o.studies + 4,
  };
}
