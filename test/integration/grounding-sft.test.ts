// Issue 16 §1, done-when: on the grounding testbed the built-in model, after SFT, reads the image. A fixed seed
// end to end through the user's commands: the phantom set (1000 studies, no text prior), `trainer init-tiny`
// (the built-in tiny LLaVA), `trainer sft` (full fine-tuning on every train question) and `trainer ground` on
// the test split. Presence questions (one about a finding the study has, one about a finding it lacks) depend
// on the image only; the blank image gives the question prior (~55%, the majority answer 59%).
// Measured on this 2-core machine: see docs/grounding.md (the built-in model). ~3 min of one core.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { trainerPython } from '../../activities/training/supervisor';
import { GROUNDING_KEYS, type GroundingDocument } from '../../core/grounding';
import { promptOf } from '../../core/preference';
import { ensurePhantomDataset } from '../../lib/phantom-dataset';

const execFileP = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');

jest.setTimeout(900_000);

async function trainer(...args: string[]): Promise<void> {
  // one thread: the run is bit-reproducible, so the fixed seed fixes the numbers asserted below
  await execFileP(trainerPython(), ['-m', 'trainer', ...args], { cwd: ROOT, maxBuffer: 256 << 20, env: { ...process.env, OMP_NUM_THREADS: '1' } });
}

describe('grounding testbed: SFT of the built-in model reads the image', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-ground-sft-'));
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it('presence accuracy with the image is at least 25 points above the blank-image accuracy (seed 0)', async () => {
    const set = path.join(work, 'phantom');
    await ensurePhantomDataset({ out: set, seed: 0, studies: 1000, size: 128, testFraction: 0.2 });
    // The SFT records a campaign builds (activities/campaign.ts): its prompt (promptOf), the answer as the response.
    type Row = { qid: number; image_name: string; question: string; answer: string };
    const rows = JSON.parse(fs.readFileSync(path.join(set, 'trainset.json'), 'utf8')) as Row[];
    fs.writeFileSync(path.join(set, 'sft.jsonl'), rows.map((r) => JSON.stringify({ id: String(r.qid), image: `images/${r.image_name}`, prompt: promptOf({ kind: 'vqa', question: r.question }), response: r.answer })).join('\n') + '\n');

    const model = path.join(work, 'tiny');
    const out = path.join(work, 'sft');
    await trainer('init-tiny', '--out', model, '--seed', '0');
    await trainer('sft', '--model', model, '--data', path.join(set, 'sft.jsonl'), '--out', out, '--no-lora', '--lr', '1e-3', '--batch-size', '8', '--max-length', '160', '--epochs', '16', '--threads', '1', '--checkpoint-every', '100000', '--seed', '0');
    const doc = path.join(work, 'ground.json');
    await trainer('ground', '--model', path.join(out, 'adapter'), '--phantom', set, '--output', doc, '--seed', '0');

    const { totals, items } = JSON.parse(fs.readFileSync(doc, 'utf8')) as GroundingDocument;
    for (const k of GROUNDING_KEYS) expect(totals).toHaveProperty(k);
    const presence = items.filter((i) => i.questionType === 'PRES');
    expect(presence.length).toBeGreaterThan(300);
    const image = totals.presence_accuracy_image!;
    const blank = totals.presence_accuracy_blank!;
    // eslint-disable-next-line no-console
    console.log(`presence accuracy: image ${image.toFixed(1)}%, blank ${blank.toFixed(1)}% (${presence.length} questions)`);
    expect(image - blank).toBeGreaterThanOrEqual(25);
    // and the image answers are good in themselves, not a blank that fell below the prior
    expect(image).toBeGreaterThanOrEqual(75);
  });
});
