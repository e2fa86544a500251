/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { generateStudy } from '../../core/phantom';
import { pointingHit } from '../../core/visual-eval';
import { encodeGrayPng } from '../../lib/phantom';
import { evaluateVisualTool } from '../../cli/commands/visual-tool';
import { spawnSync } from 'node:child_process';
import { trainerPython } from '../../activities/training';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../core/image';
import { BadImageError, decodeImage, DEFAULT_VISUAL_TOOL, VisualTool, VisualToolContractError } from '../../lib/visual-tool';

const FIXTURE = path.resolve(__dirname, '../fixtures/medklip-tiny.onnx');

async function solid(v: number, w = 50, h = 40): Promise<Buffer> {
  return sharp({ create: { width: w, height: h, channels: 3, background: { r: v, g: v, b: v } } }).png().toBuffer();
}

describe('medklip adapter (MedKLIP-shaped fixture)', () => {
  test('entity chosen by name, last 4 layers averaged, confidence = softmax[1]', async () => {
    const tool = await VisualTool.load(FIXTURE, 'disease');
    const white = await tool.run(await solid(255));
    const black = await tool.run(await solid(0));
    expect([white.width, white.height]).toEqual([14, 14]);
    const peak = white.heatmap.indexOf(Math.max(...white.heatmap));
    expect([peak % 14, Math.floor(peak / 14)]).toEqual([10, 3]); // layer 0's (0,0) spike is outside the last 4
    expect(white.confidence).toBeGreaterThan(0.99);
    expect(black.confidence).toBeLessThan(0.01);
    const other = await VisualTool.load(FIXTURE, 'entity0');
    const o = await other.run(await solid(128));
    const op = o.heatmap.indexOf(Math.max(...o.heatmap));
    expect([op % 14, Math.floor(op / 14)]).toEqual([2, 12]);
    expect(other.id).not.toBe(tool.id);
  });

  test('unknown entity, missing contract and bad contract are clear errors', async () => {
    await expect(VisualTool.load(FIXTURE, 'no-such-entity')).rejects.toThrow(/entity "no-such-entity" is not among the 75 entities/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vt-'));
    fs.copyFileSync(FIXTURE, path.join(dir, 'm.onnx'));
    await expect(VisualTool.load(path.join(dir, 'm.onnx'))).rejects.toThrow(/contract not found: .*m\.json/);
    fs.writeFileSync(path.join(dir, 'm.json'), JSON.stringify({ name: 'm', adapter: 'medklip', input: { name: 'image' }, outputs: {} }));
    await expect(VisualTool.load(path.join(dir, 'm.onnx'))).rejects.toThrow(/bad visual tool contract/);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('bundled phantom localizer', () => {
  test('contract loads; runs on gray PNG and RGB JPEG of any size', async () => {
    const tool = await VisualTool.load(DEFAULT_VISUAL_TOOL);
    expect(tool.contract.adapter).toBe('heatmap-prob');
    expect(fs.statSync(DEFAULT_VISUAL_TOOL).size).toBeLessThan(2 * 1024 * 1024);
    const s = generateStudy({ seed: 31337, studies: 10, size: 256, testFraction: 1 }, 0);
    const gray = await tool.run(await encodeGrayPng(s.pixels, 256, 256));
    expect(gray.image.channels).toBe(1);
    expect([gray.width, gray.height]).toEqual([64, 64]);
    const jpeg = await sharp(Buffer.from(s.pixels), { raw: { width: 256, height: 256, channels: 1 } }).resize(333, 271).toColourspace('srgb').jpeg().toBuffer();
    const rgb = await tool.run(jpeg);
    expect(rgb.image).toMatchObject({ width: 333, height: 271, channels: 3 });
    expect(Math.abs(rgb.confidence - gray.confidence)).toBeLessThan(0.2);
  });

  test('abnormal studies score higher than normal ones and the heatmap points at the lesion', async () => {
    const tool = await VisualTool.load(DEFAULT_VISUAL_TOOL);
    const abn: number[] = [], nor: number[] = [];
    let hits = 0;
    for (let i = 0; i < 30; i++) {
      const s = generateStudy({ seed: 4242, studies: 30, size: 256, testFraction: 1 }, i);
      const r = await tool.run(await encodeGrayPng(s.pixels, 256, 256));
      if (s.findings.length) {
        abn.push(r.confidence);
        if (pointingHit(r.heatmap, r.width, r.height, s.maskPixels, 256, 256)) hits++;
      } else nor.push(r.confidence);
    }
    expect(abn.length).toBeGreaterThan(10);
    expect(nor.length).toBeGreaterThan(3);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(abn)).toBeGreaterThan(mean(nor) + 0.5);
    expect(hits / abn.length).toBeGreaterThan(0.8);
  });
});

describe('visual-tool eval', () => {
  test('reports pointing game, AUROC and per-type scores; refuses the training seed', async () => {
    const r = await evaluateVisualTool({ studies: 24, seed: 8080, size: 256 });
    expect(r.abnormal + r.normal).toBe(24);
    expect(r.pointingGame).toBeGreaterThanOrEqual(0.8);
    expect(r.auroc).toBeGreaterThanOrEqual(0.9);
    for (const v of Object.values(r.perType)) expect(v.hits).toBeLessThanOrEqual(v.studies);
    await expect(evaluateVisualTool({ studies: 5, seed: 1, size: 256 })).rejects.toThrow(/training seed/);
  });
});

describe('real images (VQA-RAD sample, CC0)', () => {
  const dir = path.resolve(__dirname, '../fixtures/vqa-rad-sample/images');
  test('the bundled tool runs on every image without error (any size, RGB or gray JPEG)', async () => {
    const tool = await VisualTool.load(DEFAULT_VISUAL_TOOL);
    const files = fs.readdirSync(dir).filter((f) => /\.jpe?g$/i.test(f)).map((f) => fs.readFileSync(path.join(dir, f)));
    expect(files.length).toBe(40);
    for (const f of files) {
      const r = await tool.run(f);
      expect(r.confidence).toBeGreaterThanOrEqual(0);
      expect(r.confidence).toBeLessThanOrEqual(1);
      expect(r.heatmap.every((v) => Number.isFinite(v))).toBe(true);
    }
  });
});

describe('decodeImage', () => {
  test('garbage and truncated images are BadImageError', async () => {
    await expect(decodeImage(Buffer.from('not an image'))).rejects.toBeInstanceOf(BadImageError);
    const png = await solid(100, 64, 64);
    await expect(decodeImage(png.subarray(0, 60))).rejects.toThrow(/cannot decode image/);
  });
});

describe('contract check at load (issue 14 §4)', () => {
  // Re-exports of the bundled tool by the committed script: float16 interface, uint8 input.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vt-variants-'));
  beforeAll(() => {
    const r = spawnSync(trainerPython(), [path.resolve(__dirname, '../fixtures/visual-tool/make_variants.py'), dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const study = generateStudy({ seed: 4242, studies: 30, size: 256, testFraction: 1 }, 3);

  test('a float16 export runs: inputs converted, outputs read back, same answer as the float32 tool', async () => {
    const fp32 = await VisualTool.load(DEFAULT_VISUAL_TOOL);
    const fp16 = await VisualTool.load(path.join(dir, 'phantom-localizer-fp16.onnx'));
    expect(fp16.inputType).toBe('float16');
    const png = await encodeGrayPng(study.pixels, 256, 256);
    const a = await fp32.run(png);
    const b = await fp16.run(png);
    expect([b.width, b.height]).toEqual([64, 64]);
    expect(Math.abs(a.confidence - b.confidence)).toBeLessThan(0.02);
    let worst = 0;
    for (let i = 0; i < a.heatmap.length; i++) worst = Math.max(worst, Math.abs(a.heatmap[i]! - b.heatmap[i]!));
    expect(worst).toBeLessThan(0.05);
    expect(a.heatmap.indexOf(Math.max(...a.heatmap))).toBe(b.heatmap.indexOf(Math.max(...b.heatmap)));
  });

  test('a uint8-input export is refused at load with one line naming the input and its type', async () => {
    const err = await VisualTool.load(path.join(dir, 'phantom-localizer-uint8.onnx')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VisualToolContractError);
    expect((err as Error).message).toBe(
      'visual tool phantom-localizer-uint8.onnx: input "image" is uint8 [batch,1,128,128]; the contract needs float32 (float16 and float64 are converted) — re-export the model with a float input',
    );
    expect((err as Error).message.split('\n')).toHaveLength(1);
  });

  test('sizes, ranks and names that do not fit the contract are refused at load', async () => {
    const contract = JSON.parse(fs.readFileSync(DEFAULT_VISUAL_TOOL.replace(/\.onnx$/, '.json'), 'utf8'));
    const variant = async (name: string, edit: (c: typeof contract) => void) => {
      fs.copyFileSync(DEFAULT_VISUAL_TOOL, path.join(dir, `${name}.onnx`));
      const c = JSON.parse(JSON.stringify(contract));
      edit(c);
      fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(c));
      return VisualTool.load(path.join(dir, `${name}.onnx`)).then(() => 'loaded', (e: Error) => `${e.name}: ${e.message}`);
    };
    expect(await variant('size', (c) => (c.input.height = 96))).toBe('VisualToolContractError: visual tool size.onnx: input "image" has shape [batch,1,128,128]; the contract feeds [N,1,96,128] (NCHW)');
    expect(await variant('layout', (c) => (c.input.layout = 'NHWC'))).toMatch(/input "image" has shape \[batch,1,128,128\]; the contract feeds \[N,128,128,1\] \(NHWC\)/);
    expect(await variant('heat', (c) => (c.outputs.heatmapShape = [128, 128]))).toMatch(/output "heatmap" has shape \[batch,1,64,64\], smaller than the contract's heatmapShape \[128,128\]/);
    expect(await variant('names', (c) => (c.outputs.confidence = 'probability'))).toMatch(/has no output "probability" \(has heatmap, prob\)/);
    const medklip = JSON.parse(fs.readFileSync(FIXTURE.replace(/\.onnx$/, '.json'), 'utf8'));
    fs.copyFileSync(FIXTURE, path.join(dir, 'mk.onnx'));
    fs.writeFileSync(path.join(dir, 'mk.json'), JSON.stringify({ ...medklip, outputs: { ...medklip.outputs, grid: [7, 7] } }));
    await expect(VisualTool.load(path.join(dir, 'mk.onnx'))).rejects.toThrow(/output "attention" has 196 positions \[5,1,75,196\]; the contract's grid 7×7 needs 49/);
  });

  test('float16 conversions: exact on representable values, round to nearest even, inf and subnormals', () => {
    for (const v of [0, 1, -2, 0.5, 65504, 2 ** -24, 1.5, -0.0009765625]) expect(float16BitsToFloat32(float32ToFloat16Bits(v))).toBe(v);
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(float32ToFloat16Bits(1e6)).toBe(0x7c00);
    expect(float16BitsToFloat32(0x7c00)).toBe(Infinity);
    expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN)))).toBe(true);
  });
});
