// Shared CLI plumbing: one-line errors (stack traces only with --verbose) and --json output.
import { ConfigError } from '../core/config';

export class UserError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'UserError';
  }
}

export function isVerbose(): boolean {
  return process.argv.includes('--verbose') || process.env.MMEDPO_VERBOSE === '1';
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Wraps a command action: known errors become one line on stderr and a non-zero exit. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      const err = e as Error & { code?: string; exitCode?: number };
      if (isVerbose()) console.error(err.stack ?? err);
      let msg = err.message?.split('\n')[0] ?? String(e);
      if (err instanceof ConfigError) msg = err.message;
      else if (!/stack up|cannot reach Temporal/.test(msg) && (err.code === 'ECONNREFUSED' || /ECONNREFUSED|Failed to connect/i.test(msg)))
        msg = `${msg} — is the stack up? run \`npx mmedpo stack up\``;
      console.error(`mmedpo: ${msg}`);
      process.exitCode = err instanceof UserError ? err.exitCode : 1;
    }
  };
}
