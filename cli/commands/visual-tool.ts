import { Command } from 'commander';
export function register(program: Command): void {
  program.command('visual-tool').description('the visual tool (lesion heatmap + confidence)');
}
