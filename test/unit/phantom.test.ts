import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { drawFindings, generateStudy, PhantomLayout, questionsFor, studyId } from '../../core/phantom';
import { sha256Hex } from '../../lib/hash';
import { loadDataset } from '../../lib/datasets';
import { writePhantom } from '../../lib/phantom';
import { prepareDataset } from '../../activities/campaign';
import { parseCampaignConfig } from '../../core/config';

function hashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = sha256Hex(fs.readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

describe('phantom-cxr generator', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'phantom-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const opts = { seed: 5, studies: 12, size: 256, testFraction: 0.25 };

  test('same seed → byte-identical files (sha256 of every file); another seed differs', async () => {
    await writePhantom(path.join(tmp, 'a'), opts);
    await writePhantom(path.join(tmp, 'b'), opts);
    await writePhantom(path.join(tmp, 'c'), { ...opts, seed: 6 });
    const a = hashes(path.join(tmp, 'a')), b = hashes(path.join(tmp, 'b')), c = hashes(path.join(tmp, 'c'));
    expect(Object.keys(a).length).toBe(2 * 12 + 4);
    expect(b).toEqual(a);
    // Blank masks of normal studies are equal across seeds; every image and JSON file differs.
    const same = Object.keys(a).filter((k) => c[k] === a[k] && !k.startsWith('masks'));
    expect(same).toEqual([]);
  });

  test('VQA-RAD (MEVF) and R2Gen layouts; the loaders read them without problems', async () => {
    const root = path.join(tmp, 'a');
    const train = JSON.parse(fs.readFileSync(path.join(root, 'trainset.json'), 'utf8')) as Record<string, unknown>[];
    const test = JSON.parse(fs.readFileSync(path.join(root, 'testset.json'), 'utf8')) as Record<string, unknown>[];
    for (const r of [...train, ...test]) {
      expect(Object.keys(r).sort()).toEqual(['answer', 'answer_type', 'image_name', 'image_organ', 'phrase_type', 'qid', 'question', 'question_type']);
      expect(r.image_organ).toBe('CHEST');
      expect(['OPEN', 'CLOSED']).toContain(r.answer_type);
      expect(fs.existsSync(path.join(root, 'images', r.image_name as string))).toBe(true);
    }
    expect(new Set([...train, ...test].map((r) => r.qid)).size).toBe(train.length + test.length);
    const ann = JSON.parse(fs.readFileSync(path.join(root, 'annotation.json'), 'utf8')) as Record<string, { id: string; report: string; image_path: string[]; split: string }[]>;
    expect(Object.keys(ann)).toEqual(['train', 'val', 'test']);
    expect(ann.train!.length).toBe(9);
    expect(ann.test!.length).toBe(3);
    for (const r of ann.train!) expect(fs.existsSync(path.join(root, 'images', r.image_path[0]!))).toBe(true);
    const vqa = await loadDataset({ format: 'phantom', root });
    expect(vqa.problems).toEqual([]);
    expect(vqa.items.length).toBe(train.length + test.length);
    const rep = await loadDataset({ format: 'r2gen', root });
    expect(rep.problems).toEqual([]);
    expect(rep.items.length).toBe(12);
    const meta = await sharp(path.join(root, 'images', `${studyId(0)}.png`)).metadata();
    expect([meta.format, meta.channels, meta.width, meta.depth]).toEqual(['png', 1, 256, 'uchar']);
  });

  test('phantom.json: masks and boxes agree with the findings', async () => {
    const root = path.join(tmp, 'a');
    const pj = JSON.parse(fs.readFileSync(path.join(root, 'phantom.json'), 'utf8')) as { items: { mask: string; normal: boolean; findings: { bit: number; box: number[] | null; areaPx: number }[] }[] };
    expect(pj.items.length).toBe(12);
    for (const it of pj.items) {
      const { data } = await sharp(path.join(root, it.mask)).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
      let any = 0;
      for (const v of data) any |= v;
      expect(any === 0).toBe(it.normal);
      for (const f of it.findings) {
        let area = 0;
        for (let i = 0; i < data.length; i++) {
          if (data[i]! & f.bit) {
            area++;
            const x = i % 256, y = Math.floor(i / 256);
            expect(x >= f.box![0]! && x < f.box![2]! && y >= f.box![1]! && y < f.box![3]!).toBe(true);
          }
        }
        expect(area).toBe(f.areaPx);
        expect(area).toBeGreaterThan(0);
      }
    }
  });

  test('about 30% normal studies; reports carry positives and negatives; answers follow the findings', () => {
    let normal = 0;
    for (let i = 0; i < 1000; i++) if (!drawFindings(9, studyId(i)).length) normal++;
    expect(normal / 1000).toBeGreaterThan(0.25);
    expect(normal / 1000).toBeLessThan(0.35);
    for (let i = 0; i < 40; i++) {
      const s = generateStudy({ seed: 9, studies: 40, size: 64, testFraction: 0 }, i);
      expect(s.report).toMatch(/^FINDINGS: .* IMPRESSION: .+/);
      const types = new Set(s.findings.map((f) => f.type));
      if (!types.has('effusion') && !types.has('pneumothorax')) expect(s.report).toMatch(/no pleural effusion or pneumothorax/i);
      if (!types.has('cardiomegaly')) expect(s.report).toMatch(/heart size is normal|normal heart size|within normal limits/i);
      const normalQ = s.questions.find((q) => q.questionType === 'ABN' && q.answerType === 'CLOSED')!;
      expect(normalQ.answer).toBe(s.findings.length ? 'no' : 'yes');
      for (const f of s.findings) {
        if (f.lobe) expect(s.report.toLowerCase()).toContain(f.lobe);
        if (f.sizeMm) expect(s.report).toContain(`${f.sizeMm} mm`);
      }
      const where = s.questions.find((q) => q.questionType === 'POS' && q.question.startsWith('Where'));
      if (where) expect(s.findings.map((f) => f.lobe)).toContain(where.answer);
    }
  });

  test('text prior: train wordings cue the answer at the strength, the test split is counter-prior, nothing else changes', () => {
    const seed = 3, n = 400;
    // The closed questions' wording → the answer it cues (wording 0 of each pair cues "yes").
    const cueOf = (q: string) => (/^(Is there a pleural effusion|Is the heart enlarged|Is there a pneumothorax|Is there a lung nodule|Is there a lung mass|Is there consolidation|Is this a normal chest x-ray)\?$/.test(q) ? 'yes' : 'no');
    const counts = { train: { aligned: 0, closed: 0, cueRight: 0 }, test: { aligned: 0, closed: 0, cueRight: 0 } };
    for (let i = 0; i < n; i++) {
      const id = studyId(i), f = drawFindings(seed, id);
      const plain = questionsFor(seed, id, f);
      const split = i < n / 2 ? 'train' : 'test';
      const withPrior = questionsFor(seed, id, f, { textPrior: { strength: 0.9 }, split });
      expect(plain.every((q) => q.prior === undefined)).toBe(true);
      // Same questions, answers and types; only closed wordings may differ, and only between the pair's two wordings.
      expect(withPrior.map((q) => [q.answer, q.answerType, q.questionType])).toEqual(plain.map((q) => [q.answer, q.answerType, q.questionType]));
      withPrior.forEach((q, k) => {
        if (q.answerType === 'OPEN') return expect([q.question, q.prior]).toEqual([plain[k]!.question, undefined]);
        const c = counts[split];
        c.closed++;
        if (q.prior === 'aligned') c.aligned++;
        expect(q.prior === 'aligned').toBe(cueOf(q.question) === q.answer);
        if (cueOf(q.question) === q.answer) c.cueRight++;
      });
    }
    // Answering from the wording alone: ~90% right on train, always wrong on the counter-prior test split.
    expect(counts.train.cueRight / counts.train.closed).toBeGreaterThan(0.85);
    expect(counts.train.cueRight / counts.train.closed).toBeLessThan(0.95);
    expect(counts.test).toEqual({ aligned: 0, closed: counts.test.closed, cueRight: 0 });
    expect(counts.test.closed).toBeGreaterThan(300);
    // Deterministic from the seed; phantom.json lists every closed row with its prior, by qid.
    const o = { seed, studies: 6, size: 64, testFraction: 0.5, textPrior: { strength: 0.8 } };
    const layout = new PhantomLayout(o);
    for (let i = 0; i < 6; i++) {
      expect(generateStudy(o, i).questions).toEqual(generateStudy(o, i).questions);
      layout.add(generateStudy(o, i));
    }
    const pj = layout.phantomJson() as { textPrior: { strength: number }; items: { priors: { qid: number; prior: string }[] }[] };
    expect(pj.textPrior.strength).toBe(0.8);
    const rows = new Map([...layout.trainset, ...layout.testset].map((r) => [r.qid, r]));
    const listed = pj.items.flatMap((it) => it.priors);
    expect(listed.length).toBe([...rows.values()].filter((r) => r.answer_type === 'CLOSED').length);
    for (const p of listed) expect((cueOf(rows.get(p.qid)!.question) === rows.get(p.qid)!.answer) === (p.prior === 'aligned')).toBe(true);
    expect(() => generateStudy({ ...o, textPrior: { strength: 0.4 } }, 0)).toThrow(/strength must be in \[0.5, 1\], got 0.4/);
  });

  test("a campaign's dataset.phantom.textPrior reaches the set it prepares; absent, the set is byte for byte one without a prior", async () => {
    const dataset = (phantom: Record<string, unknown>, root: string) => parseCampaignConfig({ dataset: { format: 'phantom', root, phantom: { studies: 5, size: 64, testFraction: 0.4, ...phantom } } }).dataset;
    const withPrior = path.join(tmp, 'campaign-prior');
    const without = path.join(tmp, 'campaign-plain');
    await prepareDataset({ campaignId: 'c', dataset: dataset({ textPrior: 0.9 }, withPrior), seed: 2 });
    await prepareDataset({ campaignId: 'c', dataset: dataset({}, without), seed: 2 });
    await writePhantom(path.join(tmp, 'plain'), { seed: 2, studies: 5, size: 64, testFraction: 0.4 });
    await writePhantom(path.join(tmp, 'prior'), { seed: 2, studies: 5, size: 64, testFraction: 0.4, textPrior: { strength: 0.9 } });
    const { ['.mmedpo-phantom.json']: stampPlain, ...plain } = hashes(without);
    const { ['.mmedpo-phantom.json']: stampPrior, ...prior } = hashes(withPrior);
    expect(plain).toEqual(hashes(path.join(tmp, 'plain')));
    expect(prior).toEqual(hashes(path.join(tmp, 'prior')));
    expect(prior['phantom.json']).not.toBe(plain['phantom.json']);
    expect((JSON.parse(fs.readFileSync(path.join(withPrior, 'phantom.json'), 'utf8')) as { textPrior: { strength: number } }).textPrior.strength).toBe(0.9);
    // The stamp names the prior only when there is one (sets made before priors existed stay valid).
    expect(fs.readFileSync(path.join(without, '.mmedpo-phantom.json'), 'utf8')).not.toContain('textPrior');
    expect(stampPlain).not.toBe(stampPrior);
  });
});
