import { renderWaiting, waitingOf, type Waiting } from '../../lib/waiting';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, WorkflowIdReusePolicy } from '@temporalio/common';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { CampaignConfig } from '../../core/config';
import type { TrainingHeartbeat } from '../../activities/training';
import { emptyProgress, type CampaignProgress, type CampaignResult } from '../../core/contracts';
import { queueOf } from '../../core/queues';
import { CampaignIdKey, DatasetKey, StageKey } from '../../core/search-attributes';
import { configHash, loadCampaignConfig } from '../../lib/config-file';
import { artifactStore, resolveRuntime, stackHome, workflowUrl } from '../../lib/env';
import { decodePayloadsIn } from '../../lib/codec';
import { connectClient } from '../../lib/temporal';
import { action, printJson, UserError } from '../util';
import { registerCompare } from './compare';
import type { ShardProgress } from '../../workflows/curation-shard';

export interface StartedCampaign {
  campaignId: string;
  runId: string;
  url: string | null;
  configKey: string;
}

/** Validates the config, stores it in S3 and starts the campaign workflow. */
export async function startCampaign(client: Client, cfg: CampaignConfig, o: { id?: string; rerunOf?: string } = {}): Promise<StartedCampaign> {
  const hash = configHash(cfg);
  const campaignId = o.id ?? `${cfg.name}-${hash.slice(0, 8)}-${Date.now().toString(36)}`;
  if (!/^[A-Za-z0-9._-]+$/.test(campaignId)) throw new UserError(`campaign id "${campaignId}" may hold only letters, digits, '.', '_' and '-'`);
  const configKey = (await artifactStore().putJson('configs', cfg)).key;
  const handle = await client.workflow.start('campaignWorkflow', {
    taskQueue: queueOf(cfg.temporal.queuePrefix, 'curation'),
    workflowId: campaignId,
    args: [{ campaignId, config: cfg, configHash: hash, rerunOf: o.rerunOf }],
    workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    typedSearchAttributes: [
      { key: CampaignIdKey, value: campaignId },
      { key: StageKey, value: 'prepare' },
      { key: DatasetKey, value: cfg.dataset.format },
    ],
    memo: { configHash: hash, configKey, rerunOf: o.rerunOf ?? null },
    staticSummary: `MMedPO campaign ${cfg.name} on ${cfg.dataset.format}`.slice(0, 200),
    staticDetails: `config hash \`${hash}\`, seed ${cfg.seed}, variants ${cfg.training.variants.join(', ')}`,
  });
  return { campaignId, runId: handle.firstExecutionRunId, url: workflowUrl(resolveRuntime(), campaignId, handle.firstExecutionRunId), configKey };
}

/** Why a campaign closed without a result: the innermost cause of its failure and the stage it was in. */
export interface CampaignFailure {
  stage: string;
  /** The innermost cause's type (an ApplicationFailure's type, e.g. BadInput; else the error's name). */
  type: string;
  /** Its message, first line (our own messages: ids, keys, paths — no item text). */
  message: string;
  /** Where it happened, outermost first: child workflows and the activity (e.g. "activity prepareDataset"). */
  where: string[];
}

/**
 * The failure of a closed campaign (FAILED, TIMED_OUT, TERMINATED), read the way the SDK reads a
 * result: the client's data converter decrypts the failure, so the reason is no longer only in the
 * history. `stage`: the Stage search attribute, the stage the campaign was in when it stopped.
 */
export async function failureOf(h: WorkflowHandle, stage: string): Promise<CampaignFailure | undefined> {
  let err: unknown;
  try {
    await h.result();
    return undefined;
  } catch (e) {
    err = e;
  }
  if (!(err instanceof WorkflowFailedError)) return { stage, type: (err as Error).name ?? 'Error', message: firstLine((err as Error).message), where: [] };
  const where: string[] = [];
  let e: Error = err;
  while (e.cause instanceof Error) {
    e = e.cause;
    if (e instanceof ChildWorkflowFailure) where.push(`child ${e.execution.workflowId}`);
    if (e instanceof ActivityFailure) where.push(`activity ${e.activityType}`);
  }
  const type = e instanceof ApplicationFailure ? (e.type ?? 'Error') : e.name;
  return { stage, type, message: firstLine(e.message), where };
}

function firstLine(s: string | undefined): string {
  const line = (s ?? '').split('\n')[0]!;
  return line.length > 300 ? line.slice(0, 297) + '...' : line;
}

/**
 * The campaign's progress query, plus item-level progress of the shards in flight (each
 * shard answers its own query). The campaign only counts a shard when it completes, which
 * keeps its history small; the live counts are added here, on the reading side. A campaign
 * that failed also gets its failure (failureOf).
 */
export async function progressOf(client: Client, id: string): Promise<{ progress: CampaignProgress; status: string; failure?: CampaignFailure; waiting?: Waiting[] }> {
  const h = client.workflow.getHandle(id);
  const d = await h.describe();
  if (d.status.name === 'COMPLETED') {
    const r = (await h.result()) as CampaignResult;
    if (r.progress) return { progress: r.progress, status: d.status.name };
  }
  let progress: CampaignProgress;
  try {
    progress = await h.query<CampaignProgress>('progress');
  } catch (e) {
    if (d.status.name === 'RUNNING') throw new UserError(`campaign ${id} is running but did not answer its progress query (${(e as Error).message}): is a curation worker up?`);
    // A closed campaign answers queries only while a worker can replay it: show what the server knows.
    progress = emptyProgress(id, String(d.typedSearchAttributes?.get(StageKey) ?? 'unknown') as CampaignProgress['stage']);
  }
  if (d.status.name === 'FAILED' || d.status.name === 'TIMED_OUT' || d.status.name === 'TERMINATED') {
    const stage = String(d.typedSearchAttributes?.get(StageKey) ?? progress.stage);
    return { progress, status: d.status.name, failure: await failureOf(h, stage) };
  }
  if (d.status.name === 'RUNNING') {
    // The training step and loss live in the training activity's heartbeat, not in history
    // (encrypted like every payload: decoded with the client's own codec).
    const converter = client.options.loadedDataConverter;
    for (const a of d.raw.pendingActivities ?? []) {
      const p = a.activityType?.name === 'trainVariant' ? a.heartbeatDetails?.payloads?.[0] : undefined;
      if (!p) continue;
      try {
        await decodePayloadsIn(p, converter.payloadCodecs);
        const hb = converter.payloadConverter.fromPayload(p) as TrainingHeartbeat;
        Object.assign(progress.training, { step: hb.step, totalSteps: hb.totalSteps, loss: hb.loss });
        // Runs side by side: each heartbeat names its variant and seed (older trainers' do not: the one run).
        const runs = progress.training.running ?? [];
        const run = runs.find((r) => r.variant === hb.variant && r.seed === hb.seed) ?? (runs.length === 1 && hb.variant === undefined ? runs[0] : undefined);
        if (run) Object.assign(run, { step: hb.step, totalSteps: hb.totalSteps, loss: hb.loss });
      } catch {
        /* a heartbeat under a key this client does not hold: no live step */
      }
    }
    for (const shardId of progress.shards.runningIds ?? []) {
      try {
        const sp = await client.workflow.getHandle(shardId).query<ShardProgress>('shardProgress');
        progress.items.curated += sp.done;
        progress.items.quarantined += sp.quarantined;
      } catch {
        /* shard not started yet or just finished: its counts arrive with the campaign's next answer */
      }
    }
    // Activities Temporal is retrying after an infrastructure fault: what the campaign waits on, since when.
    const waiting = await waitingOf(client, id).catch(() => []);
    if (waiting.length) return { progress, status: d.status.name, waiting };
  }
  return { progress, status: d.status.name };
}

/** The training curve in the terminal: one block per refresh, scaled to the run's min/max loss. */
export function sparkline(xs: number[]): string {
  const blocks = '▁▂▃▄▅▆▇█';
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return xs.map((x) => blocks[hi > lo ? Math.round(((x - lo) / (hi - lo)) * (blocks.length - 1)) : 0]).join('');
}

function bar(done: number, total: number, width = 24): string {
  const f = total > 0 ? Math.min(1, done / total) : 0;
  const n = Math.round(f * width);
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}] ${done}/${total}`;
}

/** One run in flight: `dpo@1 step 3/8, loss 0.6931`. */
function runLine(r: { run: string; step?: number; totalSteps?: number; loss?: number }): string {
  return `${r.run}${r.step !== undefined ? ` step ${r.step}${r.totalSteps ? `/${r.totalSteps}` : ''}${r.loss !== undefined ? `, loss ${r.loss.toFixed(4)}` : ''}` : ''}`;
}

export function renderProgress(p: CampaignProgress, status: string, failure?: CampaignFailure): string {
  const running = p.training.running;
  // Campaigns from before runs went side by side carry no `running`: the one run under `variant`.
  const now = running
    ? running.length
      ? `  (now ${running.map(runLine).join('; ')})`
      : ''
    : p.training.variant && !p.training.done.includes(p.training.variant)
      ? `  (now ${runLine({ run: p.training.variant, ...p.training })})`
      : '';
  return [
    `campaign ${p.campaignId}  ${status}${p.paused ? ' (paused)' : ''}  stage ${p.stage}`,
    ...(failure ? [`failed    ${failure.type}: ${failure.message} (stage ${failure.stage}${failure.where.length ? `, ${failure.where.join(' → ')}` : ''})`] : []),
    `curation  ${bar(p.items.curated, p.items.total)}  shards ${p.shards.done}/${p.shards.total}, quarantined ${p.items.quarantined}`,
    `debates   ${p.debates.done} done, consensus ${p.debates.consensus}, at cap ${p.debates.atCap}, turns ${p.debates.turns}`,
    `pairs     text ${p.pairs.text}, visual ${p.pairs.visual}`,
    `training  ${p.training.done.join(', ') || '-'}${now}`,
    `evaluate  ${p.evaluation.done.join(', ') || '-'}${p.evaluation.running?.length ? `  (now ${p.evaluation.running.join(', ')})` : ''}`,
  ].join('\n');
}

/** Report files are also written locally so a researcher can open them. */
export async function saveReport(result: CampaignResult): Promise<{ dir: string; html: string; markdown: string; csv: string }> {
  const dir = path.join(stackHome(), 'reports', result.campaignId);
  fs.mkdirSync(dir, { recursive: true });
  const store = artifactStore();
  const files = { html: path.join(dir, 'report.html'), markdown: path.join(dir, 'results.md'), csv: path.join(dir, 'results.csv') };
  fs.writeFileSync(files.html, await store.getBytes(result.reportKeys.html));
  fs.writeFileSync(files.markdown, await store.getBytes(result.reportKeys.markdown));
  fs.writeFileSync(files.csv, await store.getBytes(result.reportKeys.csv));
  return { dir, ...files };
}

export function register(program: Command): void {
  const c = program.command('campaign').description('start, watch, pause, resume, compare MMedPO campaigns');
  const withClient = async <T>(fn: (client: Client) => Promise<T>): Promise<T> => {
    const client = await connectClient();
    try {
      return await fn(client);
    } finally {
      await client.connection.close();
    }
  };

  c.command('start')
    .description('validate CONFIG (YAML/JSON; MMEDPO__* env overrides) and start a campaign; workers run separately (`npx mmedpo worker …`)')
    .argument('[config]', 'config file; omitted = the built-in defaults (phantom set, offline engines)')
    .option('--id <id>', 'campaign id (default <name>-<config hash>-<time>)')
    .option('--json', 'machine-readable output')
    .action(
      action(async (file: string | undefined, o: { id?: string; json?: boolean }) => {
        const cfg = loadCampaignConfig(file);
        const s = await withClient((cl) => startCampaign(cl, cfg, { id: o.id }));
        if (o.json) return printJson(s);
        console.log(`campaign ${s.campaignId} started`);
        if (s.url) console.log(`web ui   ${s.url}`);
      }),
    );

  c.command('list')
    .description('campaigns, newest first')
    .option('--json', 'machine-readable output')
    .action(
      action(async (o: { json?: boolean }) => {
        const rows = await withClient(async (cl) => {
          const out: { id: string; status: string; start: string; stage?: string }[] = [];
          for await (const w of cl.workflow.list({ query: `WorkflowType = 'campaignWorkflow'` })) {
            out.push({ id: w.workflowId, status: w.status.name, start: w.startTime.toISOString(), stage: String(w.typedSearchAttributes?.get(StageKey) ?? '') });
          }
          return out;
        });
        if (o.json) return printJson(rows);
        for (const r of rows) console.log(`${r.start}  ${r.status.padEnd(10)} ${String(r.stage).padEnd(9)} ${r.id}`);
        if (!rows.length) console.log('no campaigns');
      }),
    );

  c.command('status')
    .description('progress of a campaign, with its Web UI link')
    .argument('<id>')
    .option('--json', 'machine-readable output')
    .action(
      action(async (id: string, o: { json?: boolean }) => {
        const { progress, status, failure, waiting } = await withClient((cl) => progressOf(cl, id));
        const url = workflowUrl(resolveRuntime(), id);
        if (o.json) return printJson({ status, url, ...progress, ...(failure ? { failure } : {}), ...(waiting ? { waiting } : {}) });
        console.log(renderProgress(progress, status, failure));
        for (const line of renderWaiting(waiting ?? [])) console.log(line);
        if (url) console.log(`web ui    ${url}`);
      }),
    );

  c.command('watch')
    .description('live progress bars per stage until the campaign ends')
    .argument('<id>')
    .option('--interval <ms>', 'refresh interval', '2000')
    .option('--json', 'print one JSON progress line per refresh')
    .action(
      action(async (id: string, o: { interval: string; json?: boolean }) => {
        await withClient(async (cl) => {
          // One loss curve per run in flight (runs train side by side), kept while the run is.
          const curves = new Map<string, { step: number; loss: number[] }>();
          for (;;) {
            const { progress, status } = await progressOf(cl, id);
            const t = progress.training;
            const inFlight = t.running ?? (t.variant && !t.done.includes(t.variant) ? [{ run: t.variant, step: t.step, loss: t.loss }] : []);
            for (const run of [...curves.keys()]) if (!inFlight.some((r) => r.run === run)) curves.delete(run);
            for (const r of inFlight) {
              if (r.loss === undefined || r.step === undefined) continue;
              const c = curves.get(r.run) ?? { step: -1, loss: [] };
              if (r.step !== c.step) c.loss.push(r.loss);
              curves.set(r.run, { step: r.step, loss: c.loss });
            }
            const lines = [...curves.entries()].filter(([, c]) => c.loss.length > 1).map(([run, c]) => `loss      ${sparkline(c.loss.slice(-60))}  (${run})\n`);
            if (o.json) console.log(JSON.stringify({ status, ...progress }));
            else process.stdout.write(`\x1b[2J\x1b[H${renderProgress(progress, status)}\n${lines.join('')}`);
            if (status !== 'RUNNING') return;
            await new Promise((r) => setTimeout(r, Number(o.interval)));
          }
        });
      }),
    );

  for (const [name, update, desc] of [
    ['pause', 'pause', 'stop taking new items into curation (finished items are kept)'],
    ['resume', 'resume', 'resume curation'],
  ] as const) {
    c.command(name)
      .description(desc)
      .argument('<id>')
      .option('--json', 'machine-readable output')
      .action(
        action(async (id: string, o: { json?: boolean }) => {
          const p = await withClient((cl) => cl.workflow.getHandle(id).executeUpdate<CampaignProgress, []>(update));
          if (o.json) return printJson(p);
          console.log(`campaign ${id} ${p.paused ? 'paused' : 'running'} at stage ${p.stage}`);
        }),
      );
  }

  c.command('cancel')
    .description('cancel a campaign (training checkpoints are written before the trainer exits)')
    .argument('<id>')
    .action(
      action(async (id: string) => {
        await withClient((cl) => cl.workflow.getHandle(id).cancel());
        console.log(`cancellation requested for ${id}`);
      }),
    );

  c.command('report')
    .description('results table of a finished campaign; writes report.html/results.md/results.csv locally')
    .argument('<id>')
    .option('--json', 'machine-readable output')
    .action(
      action(async (id: string, o: { json?: boolean }) => {
        const result = await withClient(async (cl) => {
          const h = cl.workflow.getHandle(id);
          const d = await h.describe();
          if (d.status.name !== 'COMPLETED') throw new UserError(`campaign ${id} is ${d.status.name}; \`npx mmedpo campaign status ${id}\` shows its progress`);
          return (await h.result()) as CampaignResult;
        });
        const files = await saveReport(result);
        const url = workflowUrl(resolveRuntime(), id);
        if (o.json) return printJson({ ...result, files, url });
        console.log(result.table);
        console.log(`\nreport    ${files.html}`);
        console.log(`manifest  ${result.manifestKey}`);
        if (url) console.log(`web ui    ${url}`);
      }),
    );

  registerCompare(c);

  c.command('rerun')
    .description('start a new campaign with the exact config of ID (with the reply cache warm, same artifact keys)')
    .argument('<id>')
    .option('--json', 'machine-readable output')
    .action(
      action(async (id: string, o: { json?: boolean }) => {
        const s = await withClient(async (cl) => {
          const d = await cl.workflow.getHandle(id).describe();
          const key = d.memo?.configKey as string | undefined;
          if (!key) throw new UserError(`campaign ${id} has no stored config`);
          const cfg = await artifactStore().getJson<CampaignConfig>(key);
          return startCampaign(cl, cfg, { rerunOf: id });
        });
        if (o.json) return printJson(s);
        console.log(`campaign ${s.campaignId} started (rerun of ${id})`);
        if (s.url) console.log(`web ui   ${s.url}`);
      }),
    );
}
