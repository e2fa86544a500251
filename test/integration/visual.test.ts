/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
// The visual curation branch against the real test MinIO: heatmap + s_v from the bundled
// ONNX tool, Eq. 2 noise inside the lesion mask, the D_v pair record; re-runs give the same keys.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { trainerPython } from '../../activities/training';
import sharp from 'sharp';
import { generateStudy } from '../../core/phantom';
import { curateVisualItem, VisualPairRecord } from '../../activities/visual';
import { artifactStore } from '../../lib/env';
import { encodeGrayPng } from '../../lib/phantom';
import { decodeImage } from '../../lib/visual-tool';

const SEED = 777001; // never used for training the bundled tool
const store = artifactStore();

async function phantomImage(abnormal: boolean): Promise<{ key: string; study: ReturnType<typeof generateStudy> }> {
  for (let i = 0; ; i++) {
    const s = generateStudy({ seed: SEED, studies: 1000, size: 256, testFraction: 1 }, i);
    const big = s.findings.some((f) => f.areaPx > 300);
    if (abnormal ? big : s.findings.length === 0) {
      const put = await store.putBytes('images', await encodeGrayPng(s.pixels, 256, 256), { ext: '.png', contentType: 'image/png' });
      return { key: put.key, study: s };
    }
  }
}

describe('visual branch activities on real MinIO', () => {
  test('curateVisualItem: heatmap, local Eq. 2 noise, pair record; a re-run writes the same keys', async () => {
    const { key, study } = await phantomImage(true);
    const input = { seed: 42, itemId: `phantom:test:${study.id}`, imageKey: key };
    const a = await curateVisualItem(input);
    const b = await curateVisualItem(input);
    expect(b).toEqual(a); // the second run reads the heatmap cache and re-puts the same bytes
    expect((await store.list('visual/heatmap-cache/')).length).toBeGreaterThan(0);
    expect(a.pairKey).toMatch(/^visual\/pairs\/[0-9a-f]{2}\/[0-9a-f]{64}\.json$/);
    const rec = await store.getJson<VisualPairRecord>(a.pairKey);
    expect(rec.item).toBe(input.itemId);
    expect(rec.imageKey).toBe(key);
    expect(rec.noise).toMatchObject({ mode: 'local', k: 500, steps: 1000, schedule: 'sigmoid', equation: 'eq2' });
    expect(rec.noise.alphaBar).toBeGreaterThan(0.5);
    expect(rec.noise.alphaBar).toBeLessThan(1);
    expect(rec.s_v).toBeGreaterThan(0.5); // a clearly abnormal study
    expect(rec.tool.name).toBe('phantom-localizer');
    expect(rec.mask.nonzero).toBeGreaterThan(0);
    expect(rec.mask.coverage).toBeLessThan(0.5);
    // The mask overlaps the true lesion.
    const original = await decodeImage(await store.getBytes(key));
    const noised = await decodeImage(await store.getBytes(rec.noisedImageKey));
    const mask = await decodeImage(await store.getBytes(rec.maskKey), 1);
    expect([noised.width, noised.height, noised.channels]).toEqual([256, 256, 1]);
    let overlap = 0, changed = 0;
    for (let i = 0; i < 256 * 256; i++) {
      if (mask.data[i] === 0) expect(noised.data[i]).toBe(original.data[i]);
      else {
        if (study.maskPixels[i]) overlap++;
        if (noised.data[i] !== original.data[i]) changed++;
      }
    }
    expect(overlap).toBeGreaterThan(0);
    expect(changed).toBeGreaterThan(0.5 * rec.mask.nonzero);
    const heat = await decodeImage(await store.getBytes(rec.heatmapKey), 1);
    expect([heat.width, heat.height]).toEqual([rec.heatmap.width, rec.heatmap.height]);
  });

  test('global and replace modes are recorded with the pair and give other keys; RGB JPEG input stays RGB', async () => {
    const { study } = await phantomImage(true);
    const jpeg = await sharp(Buffer.from(study.pixels), { raw: { width: 256, height: 256, channels: 1 } })
      .resize(300, 240)
      .toColourspace('srgb')
      .jpeg({ quality: 90 })
      .toBuffer();
    const key = (await store.putBytes('images', jpeg, { ext: '.jpg', contentType: 'image/jpeg' })).key;
    const base = { seed: 42, itemId: 'rgb-item', imageKey: key };
    const local = await curateVisualItem(base);
    const global = await curateVisualItem({ ...base, noise: { mode: 'global' } });
    const replace = await curateVisualItem({ ...base, noise: { mode: 'replace' } });
    expect(new Set([local.pairKey, global.pairKey, replace.pairKey]).size).toBe(3);
    const g = await store.getJson<VisualPairRecord>(global.pairKey);
    const r = await store.getJson<VisualPairRecord>(replace.pairKey);
    expect(g.mask.coverage).toBe(1);
    expect(g.noise.mode).toBe('global');
    expect(r.noise).toMatchObject({ mode: 'replace', equation: 'replace' });
    expect(r.mask.mode).toBe('blur15-mean-minus-std');
    expect(g.image).toEqual({ width: 300, height: 240, channels: 3 });
    const noised = await decodeImage(await store.getBytes(g.noisedImageKey));
    expect(noised.channels).toBe(3);
  });

  test('a corrupt image fails non-retryably with type BadImage', async () => {
    const { study } = await phantomImage(false);
    const png = await encodeGrayPng(study.pixels, 256, 256);
    const key = (await store.putBytes('images', png.subarray(0, Math.floor(png.length / 2)), { ext: '.png' })).key;
    const err = await curateVisualItem({ seed: 1, itemId: 'bad', imageKey: key }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe('BadImage');
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as Error).message).toMatch(/bad image .*cannot decode/);
  });

  test('a visual tool that does not fit its contract fails as BadVisualTool (a configuration fault), not BadImage', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vt-it-'));
    const r = spawnSync(trainerPython(), [path.resolve(__dirname, '../fixtures/visual-tool/make_variants.py'), dir], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const { key } = await phantomImage(true);
    const err = await curateVisualItem({ seed: 1, itemId: 'u8', imageKey: key, visualTool: { model: path.join(dir, 'phantom-localizer-uint8.onnx') } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe('BadVisualTool');
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as Error).message).toMatch(/input "image" is uint8/);
    // The float16 export of the same tool curates the item.
    const ok = await curateVisualItem({ seed: 1, itemId: 'f16', imageKey: key, visualTool: { model: path.join(dir, 'phantom-localizer-fp16.onnx') } });
    expect(ok.summary.s_v).toBeGreaterThan(0.5);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
