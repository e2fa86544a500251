// `mmedpo eval --predictions FILE --format vqa|report [--convention pycoco|mmedpo-release]`:
// scores a predictions JSONL (id, prediction, reference[, answer_type, question]) locally,
// no stack needed. Bad rows → one-line error naming the line number.
import * as fs from 'node:fs';
import { Command } from 'commander';
import { CONVENTIONS, parsePredictionsJsonl, score, type Convention, type EvalFormat, type ReportTokenizer } from '../../core/metrics';
import { action, printJson, UserError } from '../util';

export function register(program: Command): Command {
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
      action((o: { predictions: string; format: string; convention: string; tokenizer: string; clinical: boolean; perItem?: boolean; json?: boolean }) => {
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
        const r = score(o.format as EvalFormat, items, { convention: o.convention as Convention, tokenizer: o.tokenizer as ReportTokenizer, clinical: o.clinical });
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
