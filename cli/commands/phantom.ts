// `mmedpo dataset make-phantom`: the built-in synthetic chest X-ray set (phantom-cxr).
// registerPhantom(datasetCommand) adds the subcommand to the lead's `dataset` group;
// register(program) also offers it as a top-level `phantom make` group.
import * as path from 'node:path';
import { Command } from 'commander';
import { writePhantom } from '../../lib/phantom';
import { action, printJson, UserError } from '../util';

function intOpt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UserError(`${name} must be an integer, got "${v}"`);
  return n;
}

function addMake(cmd: Command): Command {
  return cmd
    .description('write the synthetic chest X-ray set (VQA-RAD + R2Gen layouts, lesion masks, phantom.json)')
    .requiredOption('--out <dir>', 'output folder')
    .option('--studies <n>', 'number of studies', '300')
    .option('--seed <n>', 'generator seed', '0')
    .option('--size <px>', 'image side in pixels', '256')
    .option('--test-fraction <f>', 'share of studies in the test split', '0.2')
    .option('--text-prior <strength>', 'plant a text prior: train closed questions get the wording that cues their answer with this probability (in [0.5, 1]); the test split gets the counter-prior wording (README: The grounding testbed)')
    .option('--json', 'machine-readable output')
    .action(
      action(async (o: { out: string; studies: string; seed: string; size: string; testFraction: string; textPrior?: string; json?: boolean }) => {
        const tf = Number(o.testFraction);
        if (!(tf >= 0 && tf <= 0.9)) throw new UserError(`--test-fraction must be in [0, 0.9], got "${o.testFraction}"`);
        const strength = o.textPrior === undefined ? undefined : Number(o.textPrior);
        if (strength !== undefined && !(strength >= 0.5 && strength <= 1)) throw new UserError(`--text-prior must be in [0.5, 1], got "${o.textPrior}"`);
        const opts = { studies: intOpt('--studies', o.studies), seed: intOpt('--seed', o.seed), size: intOpt('--size', o.size), testFraction: tf, ...(strength !== undefined ? { textPrior: { strength } } : {}) };
        let r;
        try {
          r = await writePhantom(path.resolve(o.out), opts);
        } catch (e) {
          throw new UserError((e as Error).message);
        }
        if (o.json) return printJson(r);
        console.log(`phantom-cxr: ${r.studies} studies (${r.train} train, ${r.test} test, ${r.normal} normal), ${r.questions} questions${opts.textPrior ? `, text prior ${opts.textPrior.strength} (test split counter-prior)` : ''} → ${r.out}`);
      }),
    );
}

/** Registers `make-phantom` under the lead's `dataset` command. */
export function registerPhantom(dataset: Command): void {
  addMake(dataset.command('make-phantom'));
}

/** Top-level `phantom make` (usable before the dataset hook is merged). */
export function register(program: Command): void {
  const g = program.command('phantom').description('the built-in synthetic chest X-ray set');
  addMake(g.command('make'));
}
