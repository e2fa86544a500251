// Visual curation branch (D_v): heatmap + confidence from the visual tool, lesion mask,
// Eq. 2 noise inside the mask (or the authors' replace mode, or global noise), and the
// D_v pair record. Everything lands in S3 content-addressed, so a re-run writes the same keys.
import { ApplicationFailure } from '@temporalio/common';
import sharp from 'sharp';
import type { CampaignConfig } from '../core/config';
import { alphaBar, fullMask, maskFromHeatmap, MaskStats, maskStats, noiseEq2, NoiseParams, replaceNoise } from '../core/noise';
import { seededRng } from '../core/rng';
import { artifactStore } from '../lib/env';
import { sha256Hex } from '../lib/hash';
import { PNG_OPTIONS } from '../lib/phantom';
import { BadImageError, decodeImage, DecodedImage, visualTool, VisualToolContractError } from '../lib/visual-tool';

export type VisualToolConfig = CampaignConfig['visualTool'];
export type NoiseConfig = CampaignConfig['noise'];

/** The tool for a config; a model that does not fit its contract is a configuration fault (BadVisualTool), not the image's. */
async function toolFor(vt: Partial<VisualToolConfig> | undefined) {
  try {
    return await visualTool(vt?.model, vt?.entity ?? 'disease');
  } catch (e) {
    if (e instanceof VisualToolContractError) throw ApplicationFailure.nonRetryable(e.message, 'BadVisualTool');
    throw e;
  }
}

function badImage(imageKey: string, e: unknown): never {
  throw ApplicationFailure.nonRetryable(`bad image ${imageKey}: ${(e as Error).message}`, 'BadImage');
}

async function fetchBytes(key: string): Promise<Buffer> {
  const b = await artifactStore().tryGetBytes(key);
  if (!b) throw ApplicationFailure.nonRetryable(`artifact not found: ${key}`, 'MissingArtifact');
  return b;
}

async function fetchImage(imageKey: string): Promise<DecodedImage> {
  const bytes = await fetchBytes(imageKey);
  try {
    return await decodeImage(bytes);
  } catch (e) {
    if (e instanceof BadImageError) badImage(imageKey, e);
    throw e;
  }
}

async function encodePng(data: Uint8Array, width: number, height: number, channels: number): Promise<Buffer> {
  let p = sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { raw: { width, height, channels: channels as 1 | 3 } });
  p = channels === 1 ? p.toColourspace('b-w') : p.toColourspace('srgb');
  return p.png(PNG_OPTIONS).toBuffer();
}

function toByte(v: number): number {
  return Math.max(0, Math.min(255, Math.round(v * 255)));
}

export interface HeatmapInput {
  imageKey: string;
  visualTool?: Partial<VisualToolConfig>;
}

export interface HeatmapOutput {
  /** 8-bit PNG of the min-max normalized heatmap at the tool's resolution. */
  heatmapKey: string;
  /** s_v = P(lesion | x). */
  confidence: number;
  heatmapWidth: number;
  heatmapHeight: number;
  /** Raw heatmap range before normalization. */
  heatmapMin: number;
  heatmapMax: number;
  tool: { id: string; name: string; adapter: string; entity: string };
  image: { width: number; height: number; channels: number };
}

/**
 * image key → heatmap PNG + confidence s_v (stored in S3). Corrupt image → non-retryable BadImage.
 * Results are cached per (tool id, image key) under visual/heatmap-cache/, so the many VQA
 * items that share an image run the tool once.
 */
export async function visualHeatmap(input: HeatmapInput): Promise<HeatmapOutput> {
  const store = artifactStore();
  const tool = await toolFor(input.visualTool);
  const cacheKey = store.namedKey(`visual/heatmap-cache/${tool.id}/${sha256Hex(input.imageKey)}.json`);
  const cached = await store.tryGetJson<HeatmapOutput>(cacheKey);
  if (cached && (await store.exists(cached.heatmapKey))) return cached;
  const img = await fetchImage(input.imageKey);
  const r = await tool.runDecoded(img);
  let lo = Infinity, hi = -Infinity;
  for (const v of r.heatmap) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const span = hi - lo;
  const px = new Uint8Array(r.heatmap.length);
  for (let i = 0; i < px.length; i++) px[i] = span > 0 ? toByte((r.heatmap[i]! - lo) / span) : 0;
  const put = await store.putBytes('visual/heatmaps', await encodePng(px, r.width, r.height, 1), { ext: '.png', contentType: 'image/png' });
  const out: HeatmapOutput = {
    heatmapKey: put.key,
    confidence: r.confidence,
    heatmapWidth: r.width,
    heatmapHeight: r.height,
    heatmapMin: lo,
    heatmapMax: hi,
    tool: { id: tool.id, name: tool.contract.name, adapter: tool.contract.adapter, entity: tool.entity },
    image: { width: img.width, height: img.height, channels: img.channels },
  };
  await store.putJsonAt(cacheKey, out);
  return out;
}

export interface NoiseInput {
  seed: number;
  itemId: string;
  imageKey: string;
  heatmapKey: string;
  noise?: Partial<NoiseConfig>;
}

export interface NoiseOutput {
  noisedKey: string;
  maskKey: string;
  mask: MaskStats & { mode: string; threshold?: number };
  noise: NoiseParams & { alphaBar: number; equation: 'eq2' | 'replace' };
}

function noiseParams(n: Partial<NoiseConfig> = {}): NoiseParams {
  const p: NoiseParams = {
    mode: n.mode ?? 'local',
    steps: n.steps ?? 1000,
    k: n.k ?? 500,
    betaStart: n.betaStart ?? 1e-5,
    betaEnd: n.betaEnd ?? 5e-3,
    schedule: n.schedule ?? 'sigmoid',
    mask: n.mask ?? 'binary',
    threshold: n.threshold ?? 0.5,
  };
  if (!(p.k >= 0 && p.k <= p.steps)) throw ApplicationFailure.nonRetryable(`noise.k must be in [0, ${p.steps}], got ${p.k}`, 'BadConfig');
  return p;
}

/** Eq. 2 (local: h from the heatmap; global: h = 1) or the authors' replace mode. */
export async function visualNoise(input: NoiseInput): Promise<NoiseOutput> {
  const p = noiseParams(input.noise);
  const img = await fetchImage(input.imageKey);
  const heatBytes = await fetchBytes(input.heatmapKey);
  const hm = await decodeImage(heatBytes, 1).catch((e: unknown) => badImage(input.heatmapKey, e));
  const heat = Float32Array.from(hm.data, (v) => v / 255);
  const { width: W, height: H, channels: C } = img;
  let out: Uint8Array, mask: Float32Array;
  const ab = p.mode === 'replace' ? NaN : alphaBar(p);
  if (p.mode === 'replace') {
    ({ out, mask } = replaceNoise(img.data, C, W, H, heat, hm.width, hm.height, seededRng(input.seed, input.itemId, 'visual-replace')));
  } else {
    mask = p.mode === 'global' ? fullMask(W, H) : maskFromHeatmap(heat, hm.width, hm.height, W, H, p.mask, p.threshold);
    out = noiseEq2(img.data, C, mask, ab, seededRng(input.seed, input.itemId, 'visual-noise'));
  }
  const store = artifactStore();
  const noised = await store.putBytes('visual/noised', await encodePng(out, W, H, C), { ext: '.png', contentType: 'image/png' });
  const maskPx = Uint8Array.from(mask, (v) => toByte(v));
  const maskPut = await store.putBytes('visual/masks', await encodePng(maskPx, W, H, 1), { ext: '.png', contentType: 'image/png' });
  const maskMode = p.mode === 'global' ? 'global' : p.mode === 'replace' ? 'blur15-mean-minus-std' : p.mask;
  return {
    noisedKey: noised.key,
    maskKey: maskPut.key,
    mask: { ...maskStats(mask, W, H), mode: maskMode, ...(p.mode === 'local' && p.mask === 'binary' ? { threshold: p.threshold } : {}) },
    noise: { ...p, alphaBar: Number.isNaN(ab) ? 0 : ab, equation: p.mode === 'replace' ? 'replace' : 'eq2' },
  };
}

export interface CurateVisualInput {
  seed: number;
  itemId: string;
  imageKey: string;
  noise?: Partial<NoiseConfig>;
  visualTool?: Partial<VisualToolConfig>;
}

export interface VisualPairRecord {
  kind: 'mmedpo.visual-pair';
  version: 1;
  item: string;
  seed: number;
  imageKey: string;
  noisedImageKey: string;
  heatmapKey: string;
  maskKey: string;
  mask: NoiseOutput['mask'];
  s_v: number;
  tool: HeatmapOutput['tool'];
  heatmap: { width: number; height: number; min: number; max: number };
  image: HeatmapOutput['image'];
  noise: NoiseOutput['noise'];
}

export interface CurateVisualOutput {
  pairKey: string;
  summary: { item: string; noisedImageKey: string; heatmapKey: string; s_v: number; coverage: number; mode: string };
}

/** One D_v pair: heatmap + s_v, mask, noised image, and the pair record (putJson). */
export async function curateVisualItem(input: CurateVisualInput): Promise<CurateVisualOutput> {
  const hm = await visualHeatmap({ imageKey: input.imageKey, visualTool: input.visualTool });
  const nz = await visualNoise({ seed: input.seed, itemId: input.itemId, imageKey: input.imageKey, heatmapKey: hm.heatmapKey, noise: input.noise });
  const record: VisualPairRecord = {
    kind: 'mmedpo.visual-pair',
    version: 1,
    item: input.itemId,
    seed: input.seed,
    imageKey: input.imageKey,
    noisedImageKey: nz.noisedKey,
    heatmapKey: hm.heatmapKey,
    maskKey: nz.maskKey,
    mask: nz.mask,
    s_v: hm.confidence,
    tool: hm.tool,
    heatmap: { width: hm.heatmapWidth, height: hm.heatmapHeight, min: hm.heatmapMin, max: hm.heatmapMax },
    image: hm.image,
    noise: nz.noise,
  };
  const put = await artifactStore().putJson('visual/pairs', record);
  return {
    pairKey: put.key,
    summary: { item: input.itemId, noisedImageKey: nz.noisedKey, heatmapKey: hm.heatmapKey, s_v: hm.confidence, coverage: nz.mask.coverage, mode: nz.noise.mode },
  };
}
