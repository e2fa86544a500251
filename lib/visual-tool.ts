// The visual tool T (MMedPO §3.2.2): image → lesion heatmap h and confidence s_v = P(lesion | x),
// served by onnxruntime-node from an .onnx file plus its model contract `<name>.json`
// (input name/size/layout/normalization, output names, adapter). Two adapters:
//   heatmap-prob — outputs a heatmap and a probability directly (the bundled phantom localizer);
//   medklip      — per-entity attention maps + two-class logits; the entity is chosen by name
//                  (the paper prompts with "disease"), layers averaged, confidence = softmax[positiveIndex].
// See docs/visual-tool.md for exporting MedKLIP to this contract. At load the model is checked
// against its contract — input and output names, element types and ranks (and fixed sizes) — so a
// mismatch is one VisualToolContractError naming the tensor, never a failure on every image; float16
// and float64 models run with their inputs converted (and outputs read back as float32).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { float16BitsToFloat32, float32ToFloat16Bits, resizeArea, resizeBilinear } from '../core/image';
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

export class VisualToolContractError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VisualToolContractError';
  }
}

type FloatType = 'float32' | 'float16' | 'float64';
const FLOAT_TYPES: readonly string[] = ['float32', 'float16', 'float64'];
type Session = import('onnxruntime-node').InferenceSession;
type Meta = Session['inputMetadata'][number];

/** An output tensor's values as float32 (float16 bit patterns and float64 converted). */
function asFloat32(t: import('onnxruntime-node').Tensor): Float32Array {
  const d = t.data;
  if (t.type === 'float16' && d instanceof Uint16Array) return Float32Array.from(d, float16BitsToFloat32);
  return d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
}

const shapeText = (shape: readonly (number | string)[]) => `[${shape.join(',')}]`;

/**
 * Checks the model against its contract at load: names, element types (float32, or float16/float64,
 * converted), ranks and the fixed sizes the contract implies. Returns the input's element type.
 * Throws VisualToolContractError with one line naming the tensor, its type/shape and what the
 * contract needs.
 */
function checkContract(session: Session, c: ToolContract, file: string): FloatType {
  const fail = (msg: string): never => {
    throw new VisualToolContractError(`visual tool ${file}: ${msg}`);
  };
  if (!session.inputNames.includes(c.input.name)) fail(`has no input "${c.input.name}" (has ${session.inputNames.join(', ')})`);
  const outs = c.adapter === 'medklip' ? [c.outputs.attention, c.outputs.logits] : [c.outputs.heatmap, c.outputs.confidence];
  for (const n of outs) if (!session.outputNames.includes(n)) fail(`has no output "${n}" (has ${session.outputNames.join(', ')})`);
  const meta = (list: readonly Meta[] | undefined, name: string) => list?.find((m) => m.name === name);
  const tensor = (m: Meta | undefined, what: string, name: string): { type: string; shape: readonly (number | string)[] } | undefined => {
    if (!m) return undefined; // an onnxruntime without metadata: names checked, the rest at run time
    if (!m.isTensor) fail(`${what} "${name}" is not a tensor`);
    const t = m as Extract<Meta, { isTensor: true }>;
    if (!FLOAT_TYPES.includes(t.type)) fail(`${what} "${name}" is ${t.type} ${shapeText(t.shape)}; the contract needs float32 (float16 and float64 are converted) — re-export the model with a float ${what}`);
    return t;
  };
  const inp = tensor(meta(session.inputMetadata, c.input.name), 'input', c.input.name);
  if (inp) {
    const i = c.input;
    const want = i.layout === 'NCHW' ? [1, i.channels, i.height, i.width] : [1, i.height, i.width, i.channels];
    const wantText = `[N,${want.slice(1).join(',')}] (${i.layout})`;
    if (inp.shape.length !== 4) fail(`input "${i.name}" has rank ${inp.shape.length} ${shapeText(inp.shape)}; the contract feeds rank 4 ${wantText}`);
    inp.shape.forEach((d, k) => {
      if (typeof d === 'number' && d > 0 && d !== want[k]) fail(`input "${i.name}" has shape ${shapeText(inp.shape)}; the contract feeds ${wantText}`);
    });
  }
  const out = (name: string) => tensor(meta(session.outputMetadata, name), 'output', name);
  if (c.adapter === 'heatmap-prob') {
    const h = out(c.outputs.heatmap);
    if (h && h.shape.length > 0 && h.shape.length < 2) fail(`output "${c.outputs.heatmap}" has rank ${h.shape.length}; a heatmap needs rank ≥ 2 ([..., H, W])`);
    const hs = c.outputs.heatmapShape;
    if (h && hs && h.shape.length >= 2) {
      const [dh, dw] = h.shape.slice(-2);
      if ((typeof dh === 'number' && dh > 0 && dh < hs[0]) || (typeof dw === 'number' && dw > 0 && dw < hs[1])) fail(`output "${c.outputs.heatmap}" has shape ${shapeText(h.shape)}, smaller than the contract's heatmapShape [${hs.join(',')}]`);
    }
    const p = out(c.outputs.confidence);
    if (p && p.shape.some((d) => d === 0)) fail(`output "${c.outputs.confidence}" is empty ${shapeText(p.shape)}`);
  } else {
    const o = c.outputs;
    const a = out(o.attention);
    const rank = o.attentionLayout === 'B,E,P' ? 3 : 4;
    if (a && a.shape.length > 0) {
      if (a.shape.length !== rank) fail(`output "${o.attention}" has rank ${a.shape.length} ${shapeText(a.shape)}; the contract's attentionLayout ${o.attentionLayout} needs rank ${rank}`);
      const P = a.shape[rank - 1];
      if (typeof P === 'number' && P > 0 && P !== o.grid[0] * o.grid[1]) fail(`output "${o.attention}" has ${P} positions ${shapeText(a.shape)}; the contract's grid ${o.grid[0]}×${o.grid[1]} needs ${o.grid[0] * o.grid[1]}`);
      const E = a.shape[rank - 2];
      if (typeof E === 'number' && E > 0 && E !== o.entities.length) fail(`output "${o.attention}" has ${E} entity queries ${shapeText(a.shape)}; the contract lists ${o.entities.length} entities`);
    }
    const l = out(o.logits);
    if (l && l.shape.length > 0) {
      if (l.shape.length !== 3) fail(`output "${o.logits}" has rank ${l.shape.length} ${shapeText(l.shape)}; logits need rank 3 [B, E, classes]`);
      const K = l.shape[2];
      if (typeof K === 'number' && K > 0 && K <= o.positiveIndex) fail(`output "${o.logits}" has ${K} classes ${shapeText(l.shape)}; the contract's positiveIndex is ${o.positiveIndex}`);
    }
  }
  return (inp?.type as FloatType | undefined) ?? 'float32';
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
    /** The model's input element type; the float32 input tensor is converted to it. */
    readonly inputType: FloatType = 'float32',
  ) {}

  static async load(modelPath: string = DEFAULT_VISUAL_TOOL, entity = 'disease'): Promise<VisualTool> {
    const abs = path.resolve(modelPath);
    const contractPath = abs.replace(/\.onnx$/i, '') + '.json';
    if (!fs.existsSync(abs)) throw new Error(`visual tool model not found: ${abs}`);
    if (!fs.existsSync(contractPath)) throw new Error(`visual tool contract not found: ${contractPath} (the model contract lives next to the .onnx as <name>.json)`);
    const raw = JSON.parse(fs.readFileSync(contractPath, 'utf8')) as unknown;
    const r = ToolContractSchema.safeParse(raw);
    if (!r.success) throw new VisualToolContractError(`bad visual tool contract ${contractPath}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const c = r.data;
    if (c.input.mean.length !== c.input.channels || c.input.std.length !== c.input.channels) {
      throw new VisualToolContractError(`bad visual tool contract ${contractPath}: mean/std need ${c.input.channels} value(s)`);
    }
    let entityIndex = -1;
    if (c.adapter === 'medklip') {
      entityIndex = c.outputs.entities.findIndex((e) => e.toLowerCase() === entity.toLowerCase());
      if (entityIndex < 0) throw new VisualToolContractError(`entity "${entity}" is not among the ${c.outputs.entities.length} entities of ${contractPath}`);
    }
    const bytes = fs.readFileSync(abs);
    const id = sha256Hex(Buffer.concat([Buffer.from(sha256Hex(bytes)), Buffer.from(JSON.stringify(c)), Buffer.from(`\u0000${entity}`)])).slice(0, 16);
    const session = await ort().InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    const inputType = checkContract(session, c, path.basename(abs));
    return new VisualTool(abs, c, entity, id, session, entityIndex, inputType);
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
    const x = this.preprocess(img);
    const feeds = {
      [input.name]:
        this.inputType === 'float16'
          ? new O.Tensor('float16', Uint16Array.from(x, float32ToFloat16Bits), dims)
          : this.inputType === 'float64'
            ? new O.Tensor('float64', Float64Array.from(x), dims)
            : new O.Tensor('float32', x, dims),
    };
    const res = await this.session.run(feeds);
    const c = this.contract;
    if (c.adapter === 'heatmap-prob') {
      const h = res[c.outputs.heatmap]!;
      const d = h.dims;
      const hh = c.outputs.heatmapShape?.[0] ?? d[d.length - 2]!;
      const hw = c.outputs.heatmapShape?.[1] ?? d[d.length - 1]!;
      const heat = asFloat32(h).subarray(0, hh * hw);
      let conf = asFloat32(res[c.outputs.confidence]!)[0]!;
      if (c.outputs.activation === 'sigmoid') conf = 1 / (1 + Math.exp(-conf));
      return { heatmap: heat, width: hw, height: hh, confidence: conf };
    }
    // MedKLIP-style: attention [B,E,P] or [L,B,E,P]; logits [B,E,2].
    const o = c.outputs;
    const att = res[o.attention]!;
    const [gh, gw] = o.grid;
    const P = gh * gw;
    const data = asFloat32(att);
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
    const ld = asFloat32(lg);
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
