import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { stackDown, stackStatus, stackUp, resolveOptions, type StackInfo } from '../../infra/stack';
import { addPayloadKey, PAYLOAD_KEY_FILE_NAME, readPayloadKeyFile, payloadKeyId } from '../../lib/codec';
import { action, printJson, UserError } from '../util';

/** What `stack up/status --json` print: no secret (MinIO password) — the rest are places and ids. */
function shown<T extends StackInfo>(info: T): Omit<T, 'secretAccessKey'> {
  const { secretAccessKey: _s, ...rest } = info;
  return rest;
}

function keyIds(file: string): string {
  try {
    const ids = readPayloadKeyFile(file).map(payloadKeyId);
    return `${ids.length} key${ids.length > 1 ? 's' : ''}, encrypting with ${ids[ids.length - 1]}`;
  } catch {
    return 'no key file';
  }
}

export function register(program: Command): void {
  const stack = program.command('stack').description('local dev stack: Temporal dev server (SQLite, Web UI) + MinIO + the payload codec server');
  stack
    .command('up')
    .description('start Temporal, MinIO (server-side encryption on) and the codec server for the Web UI (idempotent); data and generated secrets stay under .mmedpo/')
    .option('--json', 'machine-readable output')
    .action(
      action(async (o: { json?: boolean }) => {
        const info = await stackUp();
        if (o.json) return printJson(shown(info));
        console.log(`temporal  ${info.temporalAddress}  (pid ${info.temporalPid})`);
        console.log(`web ui    ${info.uiUrl ?? '(headless)'}`);
        console.log(`minio     ${info.s3Endpoint}  bucket ${info.bucket}  (pid ${info.minioPid}, objects encrypted at rest)`);
        console.log(`codec     ${info.codecServerUrl ? `${info.codecServerUrl}  (pid ${info.codecServerPid}; the Web UI decodes payloads through it)` : '-'}`);
        console.log(`payloads  encrypted: ${keyIds(info.payloadKeyFile)} (${info.payloadKeyFile})`);
        console.log(`data      ${info.home}`);
      }),
    );
  stack
    .command('down')
    .description('stop Temporal, MinIO and the codec server; data and secrets stay on disk')
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
        if (o.json) return printJson(shown(s));
        console.log(`temporal  ${s.temporalUp ? 'up  ' : 'down'}  ${s.temporalAddress}`);
        console.log(`web ui    ${s.temporalUp && s.uiUrl ? s.uiUrl : '-'}`);
        console.log(`minio     ${s.minioUp ? 'up  ' : 'down'}  ${s.s3Endpoint}  bucket ${s.bucket}${s.minioUp && !s.minioSse ? '  (started without encryption: run `stack up`)' : ''}`);
        console.log(`codec     ${s.codecServerUrl ? `${s.codecServerUp ? 'up  ' : 'down'}  ${s.codecServerUrl}` : '-'}`);
        console.log(`payloads  ${keyIds(s.payloadKeyFile)}`);
        console.log(`data      ${s.home}`);
        if (!s.temporalUp || !s.minioUp || (s.uiUrl && !s.codecServerUp)) process.exitCode = 3;
      }),
    );
  stack
    .command('rotate-key')
    .description('add a new payload key to the stack key ring: new payloads use it, older ones still decode; restart workers to pick it up')
    .action(
      action(async () => {
        const file = path.join(resolveOptions().home, PAYLOAD_KEY_FILE_NAME);
        if (!fs.existsSync(file)) throw new UserError(`${file} does not exist: \`npx mmedpo stack up\` generates the first key`);
        const id = addPayloadKey(file);
        console.log(`payload key ${id} added to ${file} (${keyIds(file)}); restart workers and clients to encrypt with it — the codec server picks it up by itself`);
      }),
    );
}
