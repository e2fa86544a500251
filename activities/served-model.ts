// A model trained by the campaign (its SFT model), served to the text branch as the target: one
// `python -m trainer serve` child per distinct model per worker process, started on first use and
// reused by every later call; the activity talks to it through the same OpenAI client path as any
// endpoint (cache, validation, error classification). A child that dies is restarted on the next
// call; the calls in flight fail retryably and Temporal retries them.
import { ApplicationFailure } from '@temporalio/common';
import type { ModelRole } from '../core/config';
import { sha256Hex } from '../lib/hash';
import { fetchAdapterDir, resolveBaseModel } from './training';
import { startTrainer, type TrainerProcess } from './training/supervisor';

type Served = NonNullable<ModelRole['served']>;

interface Endpoint {
  url: Promise<string>;
  proc?: TrainerProcess;
}

const endpoints = new Map<string, Endpoint>();

/** A stable name for the served model: part of the reply-cache key, so a new SFT model never reads the old one's replies. */
export function servedModelName(s: Served): string {
  return `mmedpo-served-${sha256Hex(Buffer.from(JSON.stringify([s.baseModel ?? `tiny-seed${s.seed}`, s.adapterKeys]))).slice(0, 16)}`;
}

async function start(s: Served, name: string, ep: Endpoint): Promise<string> {
  const model = await resolveBaseModel(s.baseModel, s.seed);
  const args = ['-m', 'trainer', 'serve', '--model', model, '--host', '127.0.0.1', '--port', '0', '--name', name, '--device', s.device];
  for (const k of s.adapterKeys) args.push('--adapter', await fetchAdapterDir(k));
  return new Promise<string>((resolve, reject) => {
    // No activity's cancellation stops it (later calls share it); it dies with this process (supervisor.ts).
    const p = startTrainer({
      what: `trainer serve ${name}`,
      args,
      onEvent: (ev) => {
        if (ev.event === 'listening' && typeof ev.url === 'string') resolve(ev.url);
      },
    });
    ep.proc = p;
    p.exited.then(
      (x) => {
        endpoints.delete(name);
        reject(ApplicationFailure.retryable(`trainer serve for ${name} exited (${String(x.code)}): ${x.why}`, 'EndpointUnavailable'));
      },
      (e: Error) => {
        endpoints.delete(name);
        reject(e);
      },
    );
  });
}

/** Base URL of the served model, starting its server on first use in this process. */
export async function servedEndpoint(s: Served): Promise<{ baseURL: string; model: string }> {
  const name = servedModelName(s);
  let ep = endpoints.get(name);
  if (!ep) {
    const fresh: Endpoint = { url: Promise.resolve('') };
    fresh.url = start(s, name, fresh);
    fresh.url.catch(() => endpoints.delete(name));
    endpoints.set(name, fresh);
    ep = fresh;
  }
  return { baseURL: await ep.url, model: name };
}

/** Stops every served model of this process (worker shutdown, tests). */
export function stopServedModels(): void {
  for (const ep of endpoints.values()) ep.proc?.terminate();
  endpoints.clear();
}

