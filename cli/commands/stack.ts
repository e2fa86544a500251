import { Command } from 'commander';
import { stackDown, stackStatus, stackUp } from '../../infra/stack';
import { action, printJson } from '../util';

export function register(program: Command): void {
  const stack = program.command('stack').description('local dev stack: Temporal dev server (SQLite, Web UI) + MinIO');
  stack
    .command('up')
    .description('start Temporal and MinIO (idempotent); data stays under .mmedpo/')
    .option('--json', 'machine-readable output')
    .action(
      action(async (o: { json?: boolean }) => {
        const info = await stackUp();
        const { secretAccessKey: _s, ...shown } = info;
        if (o.json) return printJson(shown);
        console.log(`temporal  ${info.temporalAddress}  (pid ${info.temporalPid})`);
        console.log(`web ui    ${info.uiUrl ?? '(headless)'}`);
        console.log(`minio     ${info.s3Endpoint}  bucket ${info.bucket}  (pid ${info.minioPid})`);
        console.log(`data      ${info.home}`);
      }),
    );
  stack
    .command('down')
    .description('stop Temporal and MinIO; their data stays on disk')
    .action(
      action(async () => {
        await stackDown();
        console.log('stack stopped (data kept)');
      }),
    );
  stack
    .command('status')
    .description('what runs, where, and the Web UI URL')
    .option('--json', 'machine-readable output')
    .action(
      action(async (o: { json?: boolean }) => {
        const s = await stackStatus();
        const { secretAccessKey: _s, ...shown } = s;
        if (o.json) return printJson(shown);
        console.log(`temporal  ${s.temporalUp ? 'up  ' : 'down'}  ${s.temporalAddress}`);
        console.log(`web ui    ${s.temporalUp && s.uiUrl ? s.uiUrl : '-'}`);
        console.log(`minio     ${s.minioUp ? 'up  ' : 'down'}  ${s.s3Endpoint}  bucket ${s.bucket}`);
        console.log(`data      ${s.home}`);
        if (!s.temporalUp || !s.minioUp) process.exitCode = 3;
      }),
    );
}
