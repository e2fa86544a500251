import { Command } from 'commander';
import { createCurationWorker } from '../../workers/curation';
import { action } from '../util';

export function register(program: Command): void {
  program
    .command('worker')
    .description('run a worker in the foreground: curation (workflows + CPU activities)')
    .argument('<kind>', 'curation')
    .option('--task-queue <q>', 'override the task queue')
    .action(
      action(async (kind: string, o: { taskQueue?: string }) => {
        if (kind !== 'curation') throw new Error(`unknown worker kind "${kind}"`);
        const w = await createCurationWorker({ taskQueue: o.taskQueue });
        console.error(`${kind} worker on task queue ${w.options.taskQueue}`);
        await w.run();
      }),
    );
}
