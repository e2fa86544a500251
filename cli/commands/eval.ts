// `mmedpo eval --predictions FILE --format vqa|report [--convention pycoco|mmedpo-release]`:
// scores a predictions JSONL (id, prediction, reference[, answer_type, question]) locally,
// no stack needed (report + pycoco runs METEOR 1.5 in one Java process). Bad rows → one-line
// error naming the line, the field, the value and what was expected.
import * as fs from 'node:fs';
import { Command } from 'commander';
import { renderHtmlReport, renderResultsTable, type ResultsFormat, type ResultsRow } from '../../core/report';
import { CONVENTIONS, parsePredictionsJsonl, type Convention, type EvalFormat, type ReportTokenizer } from '../../core/metrics';
import { MeteorUnavailableError } from '../../lib/meteor15';
import { scoreItems } from '../../lib/scoring';
import { action, printJson, UserError } from '../util';

type Curve = { variant: string; loss: number[]; rewardMargin?: number[] };
interface ResultsFile { format: ResultsFormat; rows: ResultsRow[]; curves?: Curve[]; title?: string; notes?: string[] }

/** Reads a results file: {format: vqa|report, rows: [{variant, totals}], curves?, title?, notes?}. */
function readResults(file: string): ResultsFile {
  let v: unknown;
  try {
    v = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message.split('\n')[0]}`);
  }
  const o = v as Partial<ResultsFile> | null;
  if (!o || typeof o !== 'object' || !Array.isArray(o.rows)) throw new UserError(`${file}: expected {"format": "vqa"|"report", "rows": [{"variant", "totals"}]}`);
  if (o.format !== 'vqa' && o.format !== 'report') throw new UserError(`${file}: "format" must be vqa or report`);
  o.rows.forEach((r: unknown, i: number) => {
    const x = r as ResultsRow;
    if (!x || typeof x.variant !== 'string' || typeof x.totals !== 'object' || x.totals === null) throw new UserError(`${file}: row ${i + 1} needs "variant" (string) and "totals" ({metric: value})`);
  });
  (o.curves ?? []).forEach((c: unknown, i: number) => {
    const x = c as Curve;
    if (!x || typeof x.variant !== 'string' || !Array.isArray(x.loss)) throw new UserError(`${file}: curve ${i + 1} needs "variant" (string) and "loss" (number[])`);
  });
  return o as ResultsFile;
}

export function register(program: Command): Command {
  program
    .command('results-table')
    .description("render the paper's Table 1 layout (Markdown, CSV or HTML report) from a results JSON")
    .requiredOption('--results <file>', 'JSON: {format: vqa|report, rows: [{variant, totals: {metric: value}}], curves?: [{variant, loss, rewardMargin?}], title?, notes?}')
    .option('--as <kind>', 'md | csv | html', 'md')
    .option('--out <file>', 'write to a file instead of stdout')
    .action(
      action((o: { results: string; as: string; out?: string }) => {
        const r = readResults(o.results);
        let text: string;
        if (o.as === 'md') text = renderResultsTable(r.rows, r.format).markdown;
        else if (o.as === 'csv') text = renderResultsTable(r.rows, r.format).csv;
        else if (o.as === 'html') text = renderHtmlReport({ title: r.title ?? 'MMedPO results', rows: r.rows, format: r.format, curves: r.curves ?? [], notes: r.notes });
        else throw new UserError(`unknown --as "${o.as}": use md, csv or html`);
        if (o.out) fs.writeFileSync(o.out, text);
        else process.stdout.write(text);
      }),
    );
  return program
    .command('eval')
    .description('score a predictions JSONL file with the paper metrics (no stack needed)')
    .requiredOption('--predictions <file>', 'JSONL: id, prediction, reference[, answer_type, question]')
    .requiredOption('--format <format>', 'vqa | report')
    .option('--convention <name>', 'pycoco | mmedpo-release', 'pycoco')
    .option('--tokenizer <name>', 'report text for the pycoco convention: whitespace | r2gen', 'whitespace')
    .option('--no-clinical', 'skip clinical efficacy (report format)')
    .option('--per-item', 'include per-item scores in --json output')
    .option('--json', 'print JSON')
    .action(
      action(async (o: { predictions: string; format: string; convention: string; tokenizer: string; clinical: boolean; perItem?: boolean; json?: boolean }) => {
        if (o.format !== 'vqa' && o.format !== 'report') throw new UserError(`unknown format "${o.format}": use vqa or report`);
        if (!CONVENTIONS.includes(o.convention as Convention)) throw new UserError(`unknown convention "${o.convention}": use ${CONVENTIONS.join(' or ')}`);
        if (o.tokenizer !== 'whitespace' && o.tokenizer !== 'r2gen') throw new UserError(`unknown tokenizer "${o.tokenizer}": use whitespace or r2gen`);
        let text: string;
        try {
          text = fs.readFileSync(o.predictions, 'utf8');
        } catch (e) {
          throw new UserError(`cannot read ${o.predictions}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
        let items;
        try {
          items = parsePredictionsJsonl(text);
        } catch (e) {
          throw new UserError(`${o.predictions}: ${(e as Error).message}`);
        }
        if (items.length === 0) throw new UserError(`${o.predictions}: no predictions`);
        const t0 = performance.now();
        let r;
        try {
          r = await scoreItems(o.format as EvalFormat, items, { convention: o.convention as Convention, tokenizer: o.tokenizer as ReportTokenizer, clinical: o.clinical });
        } catch (e) {
          if (e instanceof MeteorUnavailableError) throw new UserError(e.message);
          throw e;
        }
        const ms = performance.now() - t0;
        if (o.json) {
          printJson({ file: o.predictions, format: r.format, convention: r.convention, n: r.n, totals: r.totals, notes: r.notes, ms: Math.round(ms), ...(o.perItem ? { perItem: r.perItem } : {}) });
          return;
        }
        console.log(`${o.predictions}: ${r.n} items, format ${r.format}, convention ${r.convention}`);
        for (const [k, v] of Object.entries(r.totals)) console.log(`  ${k.padEnd(22)} ${Number.isInteger(v) ? v : v.toFixed(2)}`);
        for (const n of r.notes) console.log(`  note: ${n}`);
      }),
    );
}
