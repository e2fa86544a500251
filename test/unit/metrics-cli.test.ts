import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { scoreReports } from '../../core/metrics';
import { loadWordNet } from '../../lib/wordnet';

const ROOT = path.resolve(__dirname, '../..');
const mmedpo = (...args: string[]) => spawnSync(process.execPath, [path.join(ROOT, 'bin/mmedpo.js'), ...args], { encoding: 'utf8', timeout: 60_000 });

describe('mmedpo eval (no stack)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-eval-cli-'));
  const rows = [
    { id: 1, prediction: 'The heart size is normal. No effusion.', reference: 'Heart size is normal. No pleural effusion.' },
    { id: 2, prediction: '', reference: 'Small left pleural effusion.' },
  ];
  const good = path.join(dir, 'good.jsonl');
  fs.writeFileSync(good, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('report --json totals equal the library', () => {
    const r = mmedpo('eval', '--predictions', good, '--format', 'report', '--convention', 'mmedpo-release', '--json');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.n).toBe(2);
    expect(j.totals).toEqual(scoreReports(rows.map((x) => ({ ...x, id: String(x.id) })), { convention: 'mmedpo-release', wordnet: loadWordNet() }).totals);
    expect(j.notes.join(' ')).toMatch(/WordNet synonym stages \(WordNet 3\.0 database\)/);
  });

  test('bad row → one-line error naming the line', () => {
    const bad = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(bad, '{"id":"a","prediction":"x","reference":"y"}\n\n{"id":"b","prediction":"x",}\n');
    const r = mmedpo('eval', '--predictions', bad, '--format', 'vqa', '--json');
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^mmedpo: .*bad\.jsonl: predictions line 3: not valid JSON/);
  });

  test('../shared/cases/eval-closed-trailing-space: the VQA-RAD "CLOSED " row counts as closed (README values)', () => {
    const r = mmedpo('eval', '--predictions', path.join(ROOT, 'test/fixtures/cases/eval-closed-trailing-space/predictions.jsonl'), '--format', 'vqa', '--json');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).totals).toEqual({ n_closed: 2, closed_accuracy: 100, closed_accuracy_strict: 100, n_open: 1, open_recall: 100 });
  });

  test('a bad field: one line naming the line, field, value and expectation', () => {
    const bad = path.join(dir, 'bad-type.jsonl');
    fs.writeFileSync(bad, '{"id":1,"prediction":"yes","reference":"yes","answer_type":"yes/no"}\n');
    const r = mmedpo('eval', '--predictions', bad, '--format', 'vqa');
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`mmedpo: ${bad}: predictions line 1: field "answer_type": got "yes/no", expected OPEN or CLOSED (any case)`);
  });

  test('unknown format / convention', () => {
    expect(mmedpo('eval', '--predictions', good, '--format', 'xray').stderr.trim()).toBe('mmedpo: unknown format "xray": use vqa or report');
    expect(mmedpo('eval', '--predictions', good, '--format', 'vqa', '--convention', 'coco').stderr.trim()).toBe('mmedpo: unknown convention "coco": use pycoco or mmedpo-release');
  });

  test('results-table renders md / csv / html from a results JSON; bad rows named', () => {
    const f = path.join(dir, 'results.json');
    fs.writeFileSync(f, JSON.stringify({ format: 'vqa', rows: [{ variant: 'mmedpo', totals: { open_recall: 54, closed_accuracy: 73.08 } }, { variant: 'base', totals: { open_recall: 44.26, closed_accuracy: 61.3 } }], curves: [{ variant: 'mmedpo', loss: [0.7, 0.5] }] }));
    expect(mmedpo('results-table', '--results', f).stdout.split('\n').slice(0, 4)).toEqual([
      '| Model | Open recall | Closed accuracy | Closed accuracy (strict) |', '|---|---:|---:|---:|', '| base | 44.26 | 61.30 | – |', '| + MMedPO | **54.00** | **73.08** | – |',
    ]);
    expect(mmedpo('results-table', '--results', f, '--as', 'csv').stdout).toBe('variant,model,Open recall,Closed accuracy,Closed accuracy (strict)\nbase,base,44.26,61.30,\nmmedpo,+ MMedPO,54.00,73.08,\n');
    const html = path.join(dir, 'r.html');
    expect(mmedpo('results-table', '--results', f, '--as', 'html', '--out', html).status).toBe(0);
    expect(fs.readFileSync(html, 'utf8')).toContain('<polyline ');
    fs.writeFileSync(f, JSON.stringify({ format: 'vqa', rows: [{ variant: 'base' }] }));
    expect(mmedpo('results-table', '--results', f).stderr.trim()).toMatch(/row 1 needs "variant"/);
  });
});
