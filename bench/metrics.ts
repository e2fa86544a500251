// Benchmark: corpus BLEU-1..4 + ROUGE-L (pycoco convention) in TypeScript vs pycocoevalcap's
// Bleu(4) + Rouge() (spawned .mmedpo/venv/bin/python, timing only the scoring, not the JSON
// loading or interpreter start), same pairs, same run. Prints both times, the ratio
// (pycoco time / TS time; goal ≥ 5×) and whether the scores are equal (max abs diff ≤ 1e-9).
//
//   npx tsx bench/metrics.ts [--pairs 10000] [--reps 3]
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bleuPycoco, rougeLPycoco, whitespaceTokens } from '../core/metrics';
import { seededRng } from '../core/rng';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
}

const SENTENCES = [
  'The heart size is normal.', 'Heart size is mildly enlarged.', 'The cardiomediastinal silhouette is within normal limits.',
  'Stable cardiomegaly.', 'The lungs are clear.', 'No focal consolidation, pleural effusion, or pneumothorax.',
  'There is no pneumothorax.', 'Small left pleural effusion.', 'Moderate right pleural effusion with adjacent atelectasis.',
  'Bibasilar atelectasis.', 'Right lower lobe opacity may represent pneumonia.', 'No acute cardiopulmonary process.',
  'Mild pulmonary vascular congestion.', 'Interstitial edema is present.', 'Degenerative changes of the thoracic spine.',
  'Healed left rib fractures.', 'Right PICC line tip in the lower SVC.', 'Sternotomy wires are intact.',
  'Endotracheal tube terminates 4 cm above the carina.', 'No evidence of pneumonia.', 'A 1.5 cm nodule in the left upper lobe.',
  'Osseous structures are unremarkable.', 'Low lung volumes.', 'Patchy opacities in both lung bases.',
];
const SWAP: Record<string, string> = { left: 'right', right: 'left', normal: 'enlarged', small: 'moderate', no: 'a', mild: 'severe' };

function makePairs(n: number): Array<{ prediction: string; reference: string }> {
  const out = [];
  for (let i = 0; i < n; i++) {
    const rng = seededRng(7, `bench-${i}`, 'metrics-bench');
    const ref = Array.from({ length: 3 + rng.int(6) }, () => rng.pick(SENTENCES));
    const pred = ref
      .filter(() => rng.next() > 0.2)
      .map((s) => s.split(' ').map((w) => (SWAP[w.toLowerCase()] && rng.next() < 0.3 ? SWAP[w.toLowerCase()] : w)).join(' '));
    if (rng.next() < 0.3) pred.push(rng.pick(SENTENCES));
    out.push({ reference: ref.join(' '), prediction: pred.join(' ') });
  }
  return out;
}

function main(): void {
  const n = Number(arg('pairs', '10000'));
  const reps = Number(arg('reps', '3'));
  const pairs = makePairs(n);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-bench-metrics-'));
  const file = path.join(dir, 'pairs.jsonl');
  fs.writeFileSync(file, pairs.map((p) => JSON.stringify(p)).join('\n') + '\n');
  const py = path.join(__dirname, '..', '.mmedpo', 'venv', 'bin', 'python');
  const r = spawnSync(py, [path.join(__dirname, 'metrics_pycoco.py'), file], { encoding: 'utf8', maxBuffer: 1 << 26 });
  fs.rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`pycoco baseline failed: ${r.stderr.trim().split('\n').pop()}`);
  const base = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ms: number; bleu: number[]; rouge_l: number };

  let best = Infinity;
  let bleu: number[] = [];
  let rouge = 0;
  for (let k = 0; k < reps; k++) {
    const t0 = performance.now();
    bleu = bleuPycoco(pairs.map((p) => whitespaceTokens(p.prediction)), pairs.map((p) => whitespaceTokens(p.reference)));
    let s = 0;
    for (const p of pairs) s += rougeLPycoco(p.prediction, p.reference);
    rouge = s / pairs.length;
    best = Math.min(best, performance.now() - t0);
  }
  const diff = Math.max(...bleu.map((b, i) => Math.abs(b - base.bleu[i])), Math.abs(rouge - base.rouge_l));
  const ratio = base.ms / best;
  console.log(`metrics bench: ${n} report pairs, BLEU-1..4 + ROUGE-L (pycoco convention)`);
  console.log(`  pycocoevalcap (python): ${base.ms.toFixed(1)} ms`);
  console.log(`  TypeScript (best of ${reps}): ${best.toFixed(1)} ms`);
  console.log(`  ratio: ${ratio.toFixed(1)}x (goal >= 5x)`);
  console.log(`  scores equal: ${diff <= 1e-9 ? 'yes' : 'NO'} (max abs diff ${diff.toExponential(2)}; BLEU-4 ${bleu[3].toFixed(6)}, ROUGE-L ${rouge.toFixed(6)})`);
  if (diff > 1e-9) process.exitCode = 1;
}

main();
