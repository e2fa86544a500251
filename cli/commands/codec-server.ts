import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { CODEC_TOKEN_FILE_NAME, createCodecServer, uiOrigins } from '../../lib/codec-server';
import { payloadCodecs, resolvePayloadKeys, AesGcmCodec } from '../../lib/codec';
import { resolveRuntime, stackHome } from '../../lib/env';
import { action, UserError } from '../util';

function readToken(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new UserError(`cannot read the codec server token from ${file} (${(e as NodeJS.ErrnoException).code}): run \`npx mmedpo stack up\`, or pass --token-file / set MMEDPO_CODEC_SERVER_TOKEN`);
  }
}

export function register(program: Command): void {
  program
    .command('codec-server')
    .description(
      'serve the payload codec over HTTP (POST /encode, /decode) so the Temporal Web UI and `temporal workflow show --codec-endpoint` show plaintext; bearer token required; `stack up` starts one for the local UI',
    )
    .option('--port <port>', 'TCP port', '8234')
    .option('--host <ip>', 'address to bind (production: behind your own authenticating proxy)', '127.0.0.1')
    .option('--origin <url...>', "browser origins allowed (CORS); default: the local stack's Web UI")
    .option('--token-file <file>', `bearer token file (default: MMEDPO_CODEC_SERVER_TOKEN, else <stack home>/${CODEC_TOKEN_FILE_NAME})`)
    .action(
      action(async (o: { port: string; host: string; origin?: string[]; tokenFile?: string }) => {
        const port = Number(o.port);
        if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new UserError(`--port ${o.port} is not a TCP port`);
        const token = o.tokenFile ? readToken(o.tokenFile) : (process.env.MMEDPO_CODEC_SERVER_TOKEN ?? readToken(path.join(stackHome(), CODEC_TOKEN_FILE_NAME)));
        const src = resolvePayloadKeys();
        if (src.kind === 'off') throw new UserError('MMEDPO_PAYLOAD_ENCRYPTION=off: there is nothing for a codec server to decode');
        const uiUrl = resolveRuntime().uiUrl;
        const origins = o.origin ?? (uiUrl ? uiOrigins(uiUrl) : []);
        // A key file is re-read when it changes (`stack rotate-key`); env keys are fixed for the process.
        let cached = { mtimeMs: -1, codecs: payloadCodecs() };
        const codecs = () => {
          if (src.kind !== 'file') return cached.codecs;
          const mtimeMs = fs.statSync(src.file).mtimeMs;
          if (mtimeMs !== cached.mtimeMs) cached = { mtimeMs, codecs: payloadCodecs() };
          return cached.codecs;
        };
        const server = createCodecServer({ codecs, token, allowedOrigins: origins });
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, o.host, resolve);
        });
        const ring = cached.codecs[0] as AesGcmCodec;
        console.error(
          `codec server on http://${o.host}:${port} (keys ${ring.keyIds.join(', ')}, from ${src.kind === 'file' ? src.file : src.name}; browser origins: ${origins.join(', ') || 'none'})`,
        );
        const stop = () => server.close(() => process.exit(0));
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      }),
    );
}
