// `mmedpo visual-tool eval|run`: the visual tool on fresh phantom studies (pointing game,
// AUROC of the confidence) and on arbitrary image files.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { generateStudy } from '../../core/phantom';
import { auroc, heatmapArgmax, pointingHit } from '../../core/visual-eval';
import { encodeGrayPng } from '../../lib/phantom';
import { DEFAULT_VISUAL_TOOL, VisualTool } from '../../lib/visual-tool';
import { action, printJson, UserError } from '../util';

export interface VisualEvalResult {
  model: string;
  toolId: string;
  seed: number;
  studies: number;
  abnormal: number;
  normal: number;
  pointingGame: number;
  auroc: number;
  /** Pointing game per finding type, over studies with that single finding. */
  perType: Record<string, { studies: number; hits: number; pointingGame: number }>;
  msPerImage: number;
}

export async function evaluateVisualTool(o: { model?: string; entity?: string; studies: number; seed: number; size: number }): Promise<VisualEvalResult> {
  const tool = await VisualTool.load(o.model ?? DEFAULT_VISUAL_TOOL, o.entity ?? 'disease');
  const training = tool.contract.training as { seed?: number } | undefined;
  if (training?.seed !== undefined && training.seed === o.seed) {
    throw new UserError(`seed ${o.seed} is the tool's training seed: evaluate on a seed never used in training`);
  }
  const scores: number[] = [];
  const labels: (0 | 1)[] = [];
  let hits = 0, abnormal = 0;
  const perType: VisualEvalResult['perType'] = {};
  const t0 = Date.now();
  for (let i = 0; i < o.studies; i++) {
    const s = generateStudy({ seed: o.seed, studies: o.studies, size: o.size, testFraction: 1 }, i);
    const png = await encodeGrayPng(s.pixels, s.size, s.size);
    const r = await tool.run(png);
    scores.push(r.confidence);
    labels.push(s.findings.length ? 1 : 0);
    if (!s.findings.length) continue;
    abnormal++;
    const hit = pointingHit(r.heatmap, r.width, r.height, s.maskPixels, s.size, s.size);
    if (hit) hits++;
    // Per finding type, over single-finding studies (where the type is unambiguous).
    if (s.findings.length === 1) {
      const t = (perType[s.findings[0]!.type] ??= { studies: 0, hits: 0, pointingGame: 0 });
      t.studies++;
      if (hit) t.hits++;
    }
  }
  for (const t of Object.values(perType)) t.pointingGame = t.studies ? t.hits / t.studies : NaN;
  return {
    model: path.relative(process.cwd(), tool.modelPath) || tool.modelPath,
    toolId: tool.id,
    seed: o.seed,
    studies: o.studies,
    abnormal,
    normal: o.studies - abnormal,
    pointingGame: abnormal ? hits / abnormal : NaN,
    auroc: auroc(scores, labels),
    perType,
    msPerImage: (Date.now() - t0) / o.studies,
  };
}

function num(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UserError(`${name} must be a non-negative integer, got "${v}"`);
  return n;
}

export function register(program: Command): void {
  const g = program.command('visual-tool').description('the visual tool: lesion heatmap + confidence (ONNX)');
  g.command('eval')
    .description('pointing game and AUROC on fresh phantom studies (a seed never used in training)')
    .option('--model <onnx>', 'model file (its contract is <name>.json beside it)', DEFAULT_VISUAL_TOOL)
    .option('--entity <name>', 'entity for MedKLIP-style tools', 'disease')
    .option('--studies <n>', 'number of fresh studies', '200')
    .option('--seed <n>', 'phantom seed for the fresh studies', '20260514')
    .option('--size <px>', 'image side', '256')
    .option('--min-pointing <f>', 'fail (exit 3) below this pointing game')
    .option('--min-auroc <f>', 'fail (exit 3) below this AUROC')
    .option('--json', 'machine-readable output')
    .action(
      action(async (o: { model: string; entity: string; studies: string; seed: string; size: string; minPointing?: string; minAuroc?: string; json?: boolean }) => {
        const r = await evaluateVisualTool({ model: o.model, entity: o.entity, studies: num('--studies', o.studies), seed: num('--seed', o.seed), size: num('--size', o.size) });
        if (o.json) printJson(r);
        else {
          console.log(`${r.model} (${r.toolId}) on ${r.studies} phantom studies, seed ${r.seed}: ${r.abnormal} abnormal, ${r.normal} normal`);
          console.log(`pointing game ${r.pointingGame.toFixed(3)}   AUROC ${r.auroc.toFixed(3)}   ${r.msPerImage.toFixed(1)} ms/image`);
          for (const [t, v] of Object.entries(r.perType)) console.log(`  ${t.padEnd(14)} ${v.hits}/${v.studies}`);
        }
        if ((o.minPointing && r.pointingGame < Number(o.minPointing)) || (o.minAuroc && r.auroc < Number(o.minAuroc))) {
          throw new UserError(`below threshold: pointing ${r.pointingGame.toFixed(3)}, AUROC ${r.auroc.toFixed(3)}`, 3);
        }
      }),
    );
  g.command('run')
    .description('run the tool on image files (any size, gray or RGB); prints confidence and heatmap peak per image')
    .argument('[images...]', 'image files')
    .option('--dir <dir>', 'also every .png/.jpg/.jpeg in this folder')
    .option('--model <onnx>', 'model file', DEFAULT_VISUAL_TOOL)
    .option('--entity <name>', 'entity for MedKLIP-style tools', 'disease')
    .option('--json', 'machine-readable output')
    .action(
      action(async (images: string[], o: { dir?: string; model: string; entity: string; json?: boolean }) => {
        const files = [...images];
        if (o.dir) {
          if (!fs.existsSync(o.dir)) throw new UserError(`no such folder: ${o.dir}`);
          for (const f of fs.readdirSync(o.dir).sort()) if (/\.(png|jpe?g)$/i.test(f)) files.push(path.join(o.dir, f));
        }
        if (!files.length) throw new UserError('no images: pass files or --dir');
        const tool = await VisualTool.load(o.model, o.entity);
        const rows: { file: string; ok: boolean; width?: number; height?: number; channels?: number; confidence?: number; peak?: [number, number]; error?: string }[] = [];
        for (const f of files) {
          try {
            const r = await tool.run(fs.readFileSync(f));
            rows.push({ file: f, ok: true, width: r.image.width, height: r.image.height, channels: r.image.channels, confidence: r.confidence, peak: heatmapArgmax(r.heatmap, r.width, r.height, r.image.width, r.image.height) });
          } catch (e) {
            rows.push({ file: f, ok: false, error: (e as Error).message.split('\n')[0] });
          }
        }
        const failed = rows.filter((r) => !r.ok).length;
        if (o.json) printJson({ model: tool.modelPath, toolId: tool.id, images: rows.length, failed, results: rows });
        else for (const r of rows) console.log(r.ok ? `${r.file}  ${r.width}×${r.height}×${r.channels}  s_v ${r.confidence!.toFixed(3)}  peak ${r.peak!.join(',')}` : `${r.file}  ERROR ${r.error}`);
        if (failed) throw new UserError(`${failed} of ${rows.length} image(s) failed`, 2);
      }),
    );
}
