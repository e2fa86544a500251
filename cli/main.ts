// `mmedpo` command line. Each command group lives in cli/commands/<group>.ts and
// exports register(program).
import { Command } from 'commander';
import { register as registerStack } from './commands/stack';
import { register as registerDataset } from './commands/dataset';
import { register as registerWorker } from './commands/worker';
import { registerPhantom } from './commands/phantom';
import { register as registerVisualTool } from './commands/visual-tool';
import { register as registerEval } from './commands/eval';
import { register as registerCampaign } from './commands/campaign';
import { register as registerDemo } from './commands/demo';
import { register as registerCodecServer } from './commands/codec-server';

const program = new Command();
program
  .name('mmedpo')
  .description('Durable MMedPO campaigns: curation, clinical-relevance debate, weighted DPO, evaluation')
  .option('--verbose', 'print stack traces on errors')
  .showHelpAfterError();

registerStack(program);
const datasetCommand = registerDataset(program);
registerPhantom(datasetCommand);
registerWorker(program);
registerVisualTool(program);
registerEval(program);
registerCampaign(program);
registerDemo(program);
registerCodecServer(program);

program.parseAsync(process.argv).catch((e: Error) => {
  console.error(`mmedpo: ${e.message}`);
  process.exitCode = 1;
});
