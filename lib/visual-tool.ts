// The visual tool T (MMedPO §3.2.2): image → lesion heatmap h and confidence s_v = P(lesion | x),
// served by onnxruntime-node from an .onnx file plus its model contract `<name>.json`
// (input name/size/layout/normalization, output names, adapter). Two adapters:
//   heatmap-prob — outputs a heatmap and a probability directly (the bundled phantom localizer);
//   medklip      — per-entity attention maps + two-class logits; the entity is chosen by name
//                  (the paper prompts with "disease"), layers averaged, confidence = softmax[positiveIndex].
// See docs/visual-tool.md for exporting MedKLIP to this contract.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { resizeArea, resizeBilinear } from '../core/image';
import { BadImageError, decodeCanonical } from './canonical-image';
import { sha256Hex } from './hash';

export const DEFAULT_VISUAL_TOOL = path.resolve(__dirname, '..', 'models', 'visual-tool', 'phantom-localizer.onnx');

const InputSpec = z
  .object({
    name: z.string().min(1),
    layout: z.enum(['NCHW', 'NHWC']).default('NCHW'),
    channels: z.union([z.literal(1), z.literal(3)]),
    height: z.number().int().positive(),
    width: z.number().int().positive(),
    /** How the decoded image is resized to the input: area average or bilinear (half-pixel centres). */
    resize: z.enum(['area', 'bilinear']).default('bilinear'),
    /** value = (pixel·scale − mean[c]) / std[c]. */
    scale: z.number().positive().default(1 / 255),
    mean: z.array(z.number()).min(1),
    std: z.array(z.number().positive()).min(1),
  })
  .strict();

const HeatmapProbOutputs = z
  .object({
    heatmap: z.string().min(1),
    heatmapShape: z.tuple([z.number().int().positive(), z.number().int().positive()]).optional(),
    confidence: z.string().min(1),
    /** Applied to the confidence output: 'sigmoid' when the model returns a logit. */
    activation: z.enum(['none', 'sigmoid']).default('none'),
  })
  .strict();

const MedklipOutputs = z
  .object({
    /** Attention: [B, E, P] (already layer-averaged) or [L, B, E, P] (per decoder layer). */
    attention: z.string().min(1),
    attentionLayout: z.enum(['B,E,P', 'L,B,E,P']).default('B,E,P'),
    /** Average the last N layers when the layout has L (MedKLIP: 4). */
    layers: z.number().int().positive().default(4),
    grid: z.tuple([z.number().int().positive(), z.number().int().positive()]).default([14, 14]),
    /** Logits [B, E, 2]. */
    logits: z.string().min(1),
    positiveIndex: z.number().int().min(0).default(1),
    /** Entity names in query order (MedKLIP: 75; "disease" is index 29). */
    entities: z.array(z.string()).min(1),
  })
  .strict();

export const ToolContractSchema = z.discriminatedUnion('adapter', [
  z.object({ name: z.string(), adapter: z.literal('heatmap-prob'), description: z.string().optional(), input: InputSpec, outputs: HeatmapProbOutputs, training: z.unknown().optional() }).strict(),
  z.object({ name: z.string(), adapter: z.literal('medklip'), description: z.string().optional(), input: InputSpec, outputs: MedklipOutputs, training: z.unknown().optional() }).strict(),
]);
export type ToolContract = z.infer<typeof ToolContractSchema>;

export interface HeatmapResult {
  /** Row-major heatmap at the tool's native resolution (not normalized). */
  heatmap: Float32Array;
  width: number;
  height: number;
  /** s_v: probability that a lesion is present. */
  confidence: number;
}

export interface DecodedImage {
  /** Interleaved 8-bit pixels. */
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

export { BadImageError };

/**
 * Decodes an image to 8-bit pixels by the canonical rule (lib/canonical-image.ts: the pixels every
 * consumer sees; for the canonical PNGs ingest stores it is the identity), gray (1 channel) or RGB (3).
 * `channels` forces a count: gray → RGB replicates, RGB → gray by luma (0.299, 0.587, 0.114).
 * A truncated, undecodable or unsupported image throws BadImageError.
 */
export async function decodeImage(bytes: Uint8Array, channels?: 1 | 3): Promise<DecodedImage> {
  const c = await decodeCanonical(bytes);
  const want = channels ?? c.channels;
  if (want === c.channels) return { data: c.data, width: c.width, height: c.height, channels: want };
  const n = c.width * c.height;
  const out = new Uint8Array(n * want);
  if (want === 3) for (let i = 0; i < n; i++) out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = c.data[i]!;
  else for (let i = 0; i < n; i++) out[i] = Math.round(0.299 * c.data[i * 3]! + 0.587 * c.data[i * 3 + 1]! + 0.114 * c.data[i * 3 + 2]!);
  return { data: out, width: c.width, height: c.height, channels: want };
}

type Ort = typeof import('onnxruntime-node');
let ortModule: Ort | undefined;
function ort(): Ort {
  // Loaded on first use so processes that never run the tool skip the native library.
  ortModule ??= require('onnxruntime-node') as Ort;
  return ortModule;
}

export class VisualTool {
  private constructor(
    readonly modelPath: string,
    readonly contract: ToolContract,
    readonly entity: string,
    /** sha256 of the .onnx and the contract: identifies the tool in records and cache keys. */
    readonly id: string,
    private readonly session: import('onnxruntime-node').InferenceSession,
    private readonly entityIndex: number,
  ) {}

  static async load(modelPath: string = DEFAULT_VISUAL_TOOL, entity = 'disease'): Promise<VisualTool> {
    const abs = path.resolve(modelPath);
    const contractPath = abs.replace(/\.onnx$/i, '') + '.json';
    if (!fs.existsSync(abs)) throw new Error(`visual tool model not found: ${abs}`);
    if (!fs.existsSync(contractPath)) throw new Error(`visual tool contract not found: ${contractPath} (the model contract lives next to the .onnx as <name>.json)`);
    const raw = JSON.parse(fs.readFileSync(contractPath, 'utf8')) as unknown;
    const r = ToolContractSchema.safeParse(raw);
    if (!r.success) throw new Error(`bad visual tool contract ${contractPath}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const c = r.data;
    if (c.input.mean.length !== c.input.channels || c.input.std.length !== c.input.channels) {
      throw new Error(`bad visual tool contract ${contractPath}: mean/std need ${c.input.channels} value(s)`);
    }
    let entityIndex = -1;
    if (c.adapter === 'medklip') {
      entityIndex = c.outputs.entities.findIndex((e) => e.toLowerCase() === entity.toLowerCase());
      if (entityIndex < 0) throw new Error(`entity "${entity}" is not among the ${c.outputs.entities.length} entities of ${contractPath}`);
    }
    const bytes = fs.readFileSync(abs);
    const id = sha256Hex(Buffer.concat([Buffer.from(sha256Hex(bytes)), Buffer.from(JSON.stringify(c)), Buffer.from(`\u0000${entity}`)])).slice(0, 16);
    const session = await ort().InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    for (const n of [c.input.name]) if (!session.inputNames.includes(n)) throw new Error(`${abs} has no input "${n}" (has ${session.inputNames.join(', ')})`);
    const outs = c.adapter === 'medklip' ? [c.outputs.attention, c.outputs.logits] : [c.outputs.heatmap, c.outputs.confidence];
    for (const n of outs) if (!session.outputNames.includes(n)) throw new Error(`${abs} has no output "${n}" (has ${session.outputNames.join(', ')})`);
    return new VisualTool(abs, c, entity, id, session, entityIndex);
  }

  /** The input tensor for a decoded image (resize + normalization per the contract). */
  preprocess(img: DecodedImage): Float32Array {
    const { input } = this.contract;
    const W = input.width, H = input.height, C = input.channels;
    const out = new Float32Array(C * W * H);
    for (let c = 0; c < C; c++) {
      // Source plane for this channel (gray images feed all channels; RGB → gray by luma).
      const plane = new Float32Array(img.width * img.height);
      for (let i = 0; i < plane.length; i++) {
        if (img.channels === C) plane[i] = img.data[i * C + c]!;
        else if (img.channels === 1) plane[i] = img.data[i]!;
        else plane[i] = 0.299 * img.data[i * 3]! + 0.587 * img.data[i * 3 + 1]! + 0.114 * img.data[i * 3 + 2]!;
      }
      const rs = input.resize === 'area' ? resizeArea(plane, img.width, img.height, W, H) : resizeBilinear(plane, img.width, img.height, W, H);
      const m = input.mean[c]!, s = input.std[c]!;
      for (let i = 0; i < W * H; i++) {
        const v = (rs[i]! * input.scale - m) / s;
        if (input.layout === 'NCHW') out[c * W * H + i] = v;
        else out[i * C + c] = v;
      }
    }
    return out;
  }

  async runDecoded(img: DecodedImage): Promise<HeatmapResult> {
    const { input } = this.contract;
    const O = ort();
    const dims = input.layout === 'NCHW' ? [1, input.channels, input.height, input.width] : [1, input.height, input.width, input.channels];
    const feeds = { [input.name]: new O.Tensor('float32', this.preprocess(img), dims) };
    const res = await this.session.run(feeds);
    const c = this.contract;
    if (c.adapter === 'heatmap-prob') {
      const h = res[c.outputs.heatmap]!;
      const d = h.dims;
      const hh = c.outputs.heatmapShape?.[0] ?? d[d.length - 2]!;
      const hw = c.outputs.heatmapShape?.[1] ?? d[d.length - 1]!;
      const heat = Float32Array.from((h.data as Float32Array).subarray(0, hh * hw));
      let conf = Number((res[c.outputs.confidence]!.data as Float32Array)[0]);
      if (c.outputs.activation === 'sigmoid') conf = 1 / (1 + Math.exp(-conf));
      return { heatmap: heat, width: hw, height: hh, confidence: conf };
    }
    // MedKLIP-style: attention [B,E,P] or [L,B,E,P]; logits [B,E,2].
    const o = c.outputs;
    const att = res[o.attention]!;
    const [gh, gw] = o.grid;
    const P = gh * gw;
    const data = att.data as Float32Array;
    const heat = new Float32Array(P);
    if (o.attentionLayout === 'B,E,P') {
      const E = att.dims[1]!;
      if (att.dims[2] !== P) throw new Error(`attention has ${att.dims[2]} positions, contract grid ${gh}×${gw}`);
      if (this.entityIndex >= E) throw new Error(`entity index ${this.entityIndex} ≥ ${E} attention queries`);
      heat.set(data.subarray(this.entityIndex * P, (this.entityIndex + 1) * P));
    } else {
      const L = att.dims[0]!, E = att.dims[2]!;
      if (att.dims[3] !== P) throw new Error(`attention has ${att.dims[3]} positions, contract grid ${gh}×${gw}`);
      const use = Math.min(o.layers, L);
      for (let l = L - use; l < L; l++) {
        const off = (l * att.dims[1]! * E + this.entityIndex) * P; // batch 0
        for (let p = 0; p < P; p++) heat[p]! += data[off + p]! / use;
      }
    }
    const lg = res[o.logits]!;
    const K = lg.dims[lg.dims.length - 1]!;
    const ld = lg.data as Float32Array;
    const row = Array.from(ld.subarray(this.entityIndex * K, (this.entityIndex + 1) * K));
    const mx = Math.max(...row);
    const ex = row.map((v) => Math.exp(v - mx));
    const conf = ex[o.positiveIndex]! / ex.reduce((a, b) => a + b, 0);
    return { heatmap: heat, width: gw, height: gh, confidence: conf };
  }

  async run(bytes: Uint8Array): Promise<HeatmapResult & { image: DecodedImage }> {
    const img = await decodeImage(bytes);
    return { ...(await this.runDecoded(img)), image: img };
  }
}

const tools = new Map<string, Promise<VisualTool>>();
/** Process-wide cache of loaded tools (one ONNX session per model path and entity). */
export function visualTool(modelPath?: string, entity = 'disease'): Promise<VisualTool> {
  const key = `${path.resolve(modelPath ?? DEFAULT_VISUAL_TOOL)}\u0000${entity}`;
  let t = tools.get(key);
  if (!t) {
    t = VisualTool.load(modelPath ?? DEFAULT_VISUAL_TOOL, entity);
    t.catch(() => tools.delete(key));
    tools.set(key, t);
  }
  return t;
}
