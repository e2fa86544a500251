// The one decode of an input image. Ingest turns every dataset image into its canonical form once
// (an 8-bit PNG, gray or RGB, no alpha, no metadata), stores it beside the original and records the
// transform in the dataset manifest; the visual tool, the noise, the trainer, generation, the served
// target and the report all read the canonical bytes. Decoding a canonical PNG again is the identity
// in every decoder (PNG is lossless and has one reading), so nobody downstream can read another picture.
//
// Rule `mmedpo-canonical-v1` (the same in trainer/image_io.py; test/unit/canonical-image.test.ts
// checks identical pixels on a corpus of odd encodings):
//   1. EXIF orientation (JPEG, TIFF, PNG eXIf) is applied (a pure pixel permutation).
//   2. 16-bit samples → 8 bits by v >> 8: the full 16-bit range maps linearly onto 0..255, which keeps
//      the picture a DICOM→PNG export wrote (its window is already applied). Not min-max: that would
//      change each image's contrast by its own extremes. A 16-bit image whose samples all lie below
//      4096 (12-bit stored values) is flagged `low-range` (it comes out dark; `dataset validate`
//      lists it). No DICOM window applies: the loaders read PNG/JPEG/TIFF exports, never DICOM, so
//      no window is known here. 1/2/4-bit gray are expanded to 0..255 by the decoder (bit replication).
//   3. CMYK (JPEG, TIFF) → RGB by R = round((255 − C)(255 − K) / 255), likewise G from M and B from Y,
//      with no colour management.
//   4. Embedded ICC profiles are NOT applied: the samples are taken as stored (sRGB assumed), the same
//      in every decoder. (Colour management differs between libvips and Pillow by rounding; medical
//      images are almost always untagged gray.)
//   5. Palettes are expanded (with their tRNS alpha); alpha is composited onto black:
//      v = floor((v·a + 127) / 255) — a transparent pixel is black, an opaque one unchanged.
//   6. Channels: a gray source (gray, gray+alpha, 1–16 bit) → 1 channel; a palette whose expanded
//      pixels are all gray → 1; everything else → 3 (RGB).
// Formats: PNG, JPEG, TIFF. Anything else, or float/32-bit samples, is refused (BadImageError).
import sharp, { type Metadata, type OutputInfo } from 'sharp';

export const CANONICAL_RULE = 'mmedpo-canonical-v1';

/** What the original was, as read before the rule (width/height before orientation). */
export interface CanonicalSource {
  format: string;
  width: number;
  height: number;
  /** Samples per pixel including alpha (palette images: after expansion). */
  channels: number;
  bitsPerSample: number;
  space: string;
  palette: boolean;
  alpha: boolean;
  iccProfile: boolean;
  /** EXIF orientation 1..8 (1 when absent). */
  orientation: number;
}

export interface CanonicalImage {
  /** Interleaved 8-bit pixels, row-major. */
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
  source: CanonicalSource;
  /** The steps of the rule that changed or reinterpreted the samples; [] = the samples as stored. */
  transforms: string[];
}

export class BadImageError extends Error {
  /** What is wrong, without the "cannot decode image" prefix (for messages that name the file). */
  readonly detail: string;
  constructor(message: string, detail = message) {
    super(message);
    this.name = 'BadImageError';
    this.detail = detail;
  }
}

function decodeFailure(e: unknown): BadImageError {
  const detail = (e as Error).message.split('\n')[0]!;
  return new BadImageError(`cannot decode image: ${detail}`, detail);
}

const FORMATS = new Set(['png', 'jpeg', 'tiff']);
/**
 * PNG encoder settings of canonical images: deterministic (same pixels → same bytes → same key).
 * Adaptive filtering at zlib level 6: on the VQA-RAD sample 34% smaller than without filtering for 2.2×
 * the encode time (level 9 saves 3% more for 4× the time); canonical PNGs are still ~5× the size of
 * JPEG originals (lossless). CANONICAL_ENCODING names these settings in the decode index.
 */
export const CANONICAL_PNG = { compressionLevel: 6, adaptiveFiltering: true, palette: false } as const;
export const CANONICAL_ENCODING = 'png-z6-adaptive';
/** A 16-bit image whose samples all lie below this is flagged low-range (12-bit stored values). */
const LOW_RANGE = 4096;

function isGraySpace(space: string | undefined): boolean {
  return space === 'b-w' || space === 'grey16';
}

/**
 * Decodes an image by rule `mmedpo-canonical-v1` (see the file header). Truncated, undecodable or
 * unsupported images throw BadImageError.
 */
export async function decodeCanonical(bytes: Uint8Array): Promise<CanonicalImage> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { failOn: 'truncated', ignoreIcc: true }).metadata();
  } catch (e) {
    throw decodeFailure(e);
  }
  const format = meta.format ?? 'unknown';
  if (!FORMATS.has(format)) throw new BadImageError(`unsupported image format ${format} (PNG, JPEG or TIFF)`);
  const depth = meta.depth ?? 'uchar';
  if (depth !== 'uchar' && depth !== 'ushort') throw new BadImageError(`unsupported sample format ${depth} (8- or 16-bit integers)`);
  const space = meta.space ?? 'srgb';
  const gray = isGraySpace(space);
  const cmyk = space === 'cmyk';
  const sixteen = depth === 'ushort';
  if (sixteen && cmyk) throw new BadImageError('unsupported sample format: 16-bit CMYK');
  const orientation = meta.orientation && meta.orientation >= 1 && meta.orientation <= 8 ? meta.orientation : 1;
  const source: CanonicalSource = {
    format,
    width: meta.width ?? 0,
    height: meta.height ?? 0,
    channels: meta.channels ?? 0,
    bitsPerSample: sixteen ? 16 : (meta.bitsPerSample ?? 8),
    space,
    palette: !!meta.isPalette,
    alpha: !!meta.hasAlpha,
    iccProfile: !!meta.icc,
    orientation,
  };
  let raw: { data: Buffer; info: OutputInfo };
  try {
    let p = sharp(bytes, { failOn: 'truncated', ignoreIcc: true }).autoOrient();
    if (cmyk) p = p.pipelineColourspace('cmyk').toColourspace('cmyk').raw();
    else if (sixteen) {
      const cs = gray ? 'grey16' : 'rgb16';
      p = p.pipelineColourspace(cs).toColourspace(cs).raw({ depth: 'ushort' });
    } else p = p.raw({ depth: 'uchar' }); // sRGB (gray replicated) + alpha; the ICC profile is ignored
    raw = await p.toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw decodeFailure(e);
  }
  const { width, height } = raw.info;
  const n = width * height;
  const C = raw.info.channels;
  // 8-bit samples, channel-interleaved, as the decoder gave them.
  let s: Uint8Array;
  let low = false;
  if (sixteen) {
    const u16 = new Uint16Array(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength / 2);
    s = new Uint8Array(u16.length);
    let max = 0;
    const colour = gray ? 1 : 3;
    for (let i = 0; i < u16.length; i++) {
      const v = u16[i]!;
      s[i] = v >> 8;
      if (i % C < colour && v > max) max = v;
    }
    low = max < LOW_RANGE;
  } else s = new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength);
  const transforms: string[] = [];
  if (orientation !== 1) transforms.push(`exif-orientation ${orientation} applied`);
  if (sixteen) transforms.push(low ? '16-bit → 8-bit (v >> 8), low-range: every sample < 4096' : '16-bit → 8-bit (v >> 8)');
  if (source.iccProfile) transforms.push('ICC profile not applied (samples taken as sRGB)');
  // Colour planes (1 or 3) and alpha (or null), still 8-bit.
  let colour: 1 | 3;
  let px: Uint8Array;
  let alpha: Uint8Array | null = null;
  if (cmyk) {
    transforms.push('CMYK → RGB (R = (255−C)(255−K)/255, no colour management)');
    colour = 3;
    px = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) {
      const k = 255 - s[i * C + 3]!;
      for (let c = 0; c < 3; c++) px[i * 3 + c] = Math.floor(((255 - s[i * C + c]!) * k + 127) / 255);
    }
    if (C > 4) alpha = pick(s, C, 4, n);
  } else {
    const hasAlpha = gray ? C === 2 || C === 4 : C === 4;
    const planes = gray && (C === 1 || C === 2) ? 1 : 3;
    // Gray from the 8-bit path arrives replicated as sRGB: take one plane.
    colour = gray ? 1 : 3;
    px = new Uint8Array(n * colour);
    for (let i = 0; i < n; i++) {
      if (colour === 1) px[i] = s[i * C]!;
      else for (let c = 0; c < 3; c++) px[i * 3 + c] = s[i * C + c]!;
    }
    if (hasAlpha) alpha = pick(s, C, planes, n);
  }
  if (source.palette) transforms.push('palette expanded');
  if (alpha) {
    let opaque = true;
    for (let i = 0; i < n; i++) if (alpha[i] !== 255) { opaque = false; break; }
    transforms.push(opaque ? 'alpha dropped (fully opaque)' : 'alpha composited on black');
    if (!opaque) {
      for (let i = 0; i < n; i++) {
        const a = alpha[i]!;
        if (a === 255) continue;
        for (let c = 0; c < colour; c++) px[i * colour + c] = Math.floor((px[i * colour + c]! * a + 127) / 255);
      }
    }
  }
  if (colour === 3 && source.palette) {
    let allGray = true;
    for (let i = 0; i < n && allGray; i++) allGray = px[i * 3] === px[i * 3 + 1] && px[i * 3] === px[i * 3 + 2];
    if (allGray) {
      const g = new Uint8Array(n);
      for (let i = 0; i < n; i++) g[i] = px[i * 3]!;
      px = g;
      colour = 1;
      transforms.push('gray palette → 1 channel');
    }
  }
  return { data: px, width, height, channels: colour, source, transforms };
}

function pick(s: Uint8Array, C: number, c: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = s[i * C + c]!;
  return out;
}

/** Encodes decoded 8-bit pixels as a canonical PNG (no metadata; deterministic bytes). */
export async function encodeCanonicalPng(img: { data: Uint8Array; width: number; height: number; channels: 1 | 3 }): Promise<Buffer> {
  const buf = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  let p = sharp(buf, { raw: { width: img.width, height: img.height, channels: img.channels } });
  p = img.channels === 1 ? p.toColourspace('b-w') : p.toColourspace('srgb');
  return p.png(CANONICAL_PNG).toBuffer();
}

/** The canonical PNG of an image and what the rule did to it. */
export async function canonicalize(bytes: Uint8Array): Promise<{ png: Buffer; image: CanonicalImage }> {
  const image = await decodeCanonical(bytes);
  return { png: await encodeCanonicalPng(image), image };
}
