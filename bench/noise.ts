// Benchmark: lesion noising (Eq. 2) of 512×512 images in TypeScript vs a NumPy
// implementation of Eq. 2, measured in the same run (.mmedpo/venv/bin/python).
// Prints ms/image for both, the speed ratio (NumPy time / TS time; goal ≥ 2×) and the max
// pixel difference between the two outputs when NumPy is given the TS run's ε.
//
//   npx tsx bench/noise.ts [--images 6] [--reps 7] [--mask lesion|global]
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateStudy } from '../core/phantom';
import { alphaBar, DEFAULT_NOISE, fullMask, noiseEq2, normalSampler } from '../core/noise';
import { seededRng } from '../core/rng';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
}

function main(): void {
  const n = Number(arg('images', '6'));
  const reps = Number(arg('reps', '7'));
  const maskMode = arg('mask', 'lesion');
  const S = 512;
  const ab = alphaBar(DEFAULT_NOISE);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-bench-noise-'));
  const imgs: Uint8Array[] = [], masks: Float32Array[] = [];
  for (let i = 0; imgs.length < n; i++) {
    const s = generateStudy({ seed: 99, studies: 1000, size: S, testFraction: 1 }, i);
    if (maskMode === 'lesion' && !s.findings.length) continue;
    imgs.push(s.pixels);
    masks.push(maskMode === 'global' ? fullMask(S, S) : Float32Array.from(s.maskPixels, (v) => (v ? 1 : 0)));
  }
  const coverage = masks.reduce((a, m) => a + m.reduce((x, y) => x + y, 0) / m.length, 0) / n;
  // TS timing: the full Eq. 2 including the seeded ε draws.
  const outs: Uint8Array[] = [];
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) outs[i] = noiseEq2(imgs[i]!, 1, masks[i]!, ab, seededRng(1, `bench-${i}`, 'visual-noise'));
    times.push(Number(process.hrtime.bigint() - t0) / 1e6 / n);
  }
  times.sort((a, b) => a - b);
  const tsMs = times[Math.floor(times.length / 2)]!;
  // Hand NumPy the same images, masks and ε (re-drawn in the same order: masked pixels, raster order).
  for (let i = 0; i < n; i++) {
    const eps = new Float32Array(S * S);
    const normal = normalSampler(seededRng(1, `bench-${i}`, 'visual-noise'));
    for (let j = 0; j < eps.length; j++) if (masks[i]![j]! > 0) eps[j] = normal();
    fs.writeFileSync(path.join(dir, `img${i}.u8`), imgs[i]!);
    fs.writeFileSync(path.join(dir, `mask${i}.f32`), Buffer.from(masks[i]!.buffer));
    fs.writeFileSync(path.join(dir, `eps${i}.f32`), Buffer.from(eps.buffer));
    fs.writeFileSync(path.join(dir, `ts${i}.u8`), outs[i]!);
  }
  fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify({ width: S, height: S, images: n, reps, alphaBar: ab }));
  const py = path.resolve(__dirname, '..', '.mmedpo', 'venv', 'bin', 'python');
  const r = spawnSync(py, [path.join(__dirname, 'noise_numpy.py'), dir], { encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) {
    console.error(`numpy baseline failed: ${r.stderr || r.error?.message}`);
    process.exit(1);
  }
  const np = JSON.parse(r.stdout.trim().split('\n').pop()!) as { msPerImage: number; maxPixelDiff: number; numpy: string };
  const out = {
    bench: 'noise-eq2',
    image: `${S}x${S} gray`,
    images: n,
    reps,
    mask: maskMode,
    meanMaskCoverage: Number(coverage.toFixed(4)),
    alphaBar: ab,
    tsMsPerImage: Number(tsMs.toFixed(3)),
    numpyMsPerImage: Number(np.msPerImage.toFixed(3)),
    ratio: Number((np.msPerImage / tsMs).toFixed(2)),
    goal: '≥ 2× (ratio = NumPy time / TypeScript time)',
    maxPixelDiff: np.maxPixelDiff,
    numpy: np.numpy,
  };
  console.log(JSON.stringify(out, null, 2));
  // Correctness gate (timings on shared machines are only reported): same ε → at most one
  // gray level apart (float32 in NumPy vs float64 here at rounding boundaries).
  if (np.maxPixelDiff > 1) {
    console.error(`bench/noise: TypeScript and NumPy outputs differ by ${np.maxPixelDiff} gray levels`);
    process.exit(1);
  }
}

main();
