// Curation throughput and cost against endpoints that behave like real ones (issue 17 §4).
//
//   npx tsx bench/curation-endpoints.ts [--items 5000]     the full run (judge-bound: ~45 min at 2 items/s)
//   npx tsx bench/curation-endpoints.ts --ci               the CI size (bench/curation-endpoints.ci.sh): asserts
//
// A real campaign's curation stage (training and evaluation off) on a stack of the bench's own (real
// Temporal dev server + MinIO on free ports, removed afterwards), with the curation worker and the model
// workers as their own OS processes (`workers/curation.ts`, `workers/models.ts`, as deployed), so the CPU
// and memory of each are read from /proc. Every role is an OpenAI-compatible endpoint served by the
// in-repo fake (test/helpers/fake-openai.ts `endpointLike`): lognormal latency (median 800 ms, p99 6 s),
// 1 % 429 with Retry-After and 0.5 % 500 (seeded), replies in the prompts' formats. The per-role rate
// limits are what one campaign gets from a GPT-4o tier (judge) and a shared vLLM (target, agents);
// `rateLimitPerSecond` becomes the model workers' task-queue limit. Items: the phantom chest X-ray set
// at 512 px (deterministic from the seed), ~3.2 train VQA items per study.
//
// The baseline measured in the same run is the bound the rate limits allow: for each role, its limit
// divided by the calls per item it received in this run (every attempt counts, a 429 or a 500 too: a
// retried activity is dispatched, and rate-limited, again); the smallest is the bound.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { parseCampaignConfig, type CampaignConfig, type ModelRole } from '../core/config';
import type { CampaignProgress, CampaignResult } from '../core/contracts';
import { freePort } from '../lib/ports';
import { PROJECT_ROOT, stackDown, stackEnv, stackUp, type StackInfo } from '../infra/stack';
import { configHash } from '../lib/config-file';
import { ensurePhantomDataset } from '../lib/phantom-dataset';
import { dataConverter } from '../lib/temporal';
import { endpointLike, startFakeOpenAI, type EndpointModelStats } from '../test/helpers/fake-openai';

/** What the issue measured before it (300 VQA-RAD items, per-item path, same latency model): for reference only. */
const EARLIER = { itemsPerSecond: 2.2, cpuMsPerItem: 710 } as const;

/** Role limits (requests/s): a shared vLLM for the target and each agent, a GPT-4o tier for the judge. */
const LIMITS = { target: 8, judge: 2, agent: 4 } as const;
const AGENT_MODELS = ['bench-med42-8b', 'bench-med42-70b', 'bench-biomistral-7b'] as const;

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const CI = process.argv.includes('--ci');

// ---------------------------------------------------------------- /proc readings

/** Fields of /proc/<pid>/stat after the command: [0] state, [2] pgrp, [11] utime, [12] stime (ticks). */
function statFields(pid: string | number): string[] | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // exited meanwhile
  }
}

/** The live pids of a process group (a worker's node, a wrapper, the dev server's children). */
function groupPids(pgrp: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const f = statFields(d);
    if (f && Number(f[2]) === pgrp) out.push(Number(d));
  }
  return out;
}

/** CPU seconds (user + system) used so far by a process group; USER_HZ is 100 on Linux. */
function groupCpuSeconds(pgrp: number): number {
  return groupPids(pgrp).reduce((sum, pid) => {
    const f = statFields(pid);
    return sum + (f ? (Number(f[11]) + Number(f[12])) / 100 : 0);
  }, 0);
}

/** Resident memory of a process group, MiB (VmRSS of each member). */
function groupRssMiB(pgrp: number): number {
  let kib = 0;
  for (const pid of groupPids(pgrp)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      kib += m ? Number(m[1]) : 0;
    } catch {
      /* exited meanwhile */
    }
  }
  return kib / 1024;
}

// ---------------------------------------------------------------- worker processes

interface WorkerProcess {
  name: string;
  child: ChildProcess;
  /** Its own process group (spawned detached): CPU and RSS are read over the group. */
  pgrp: number;
  log: string;
}

/** `node --import tsx workers/<entry>.ts` in a process group of its own, output to a log file. */
function spawnWorkerProcess(name: string, entry: string, env: NodeJS.ProcessEnv, logDir: string): WorkerProcess {
  const log = path.join(logDir, `${name}.log`);
  const out = fs.openSync(log, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'workers', `${entry}.ts`)], { cwd: PROJECT_ROOT, env, stdio: ['ignore', out, out], detached: true });
  fs.closeSync(out);
  return { name, child, pgrp: child.pid!, log };
}

async function stopWorker(w: WorkerProcess): Promise<void> {
  if (w.child.exitCode !== null || w.child.signalCode) return;
  const exited = new Promise((done) => w.child.once('exit', done));
  try {
    process.kill(-w.pgrp, 'SIGTERM');
  } catch {
    return;
  }
  const killed = setTimeout(() => {
    try {
      process.kill(-w.pgrp, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 15_000);
  await exited;
  clearTimeout(killed);
}

// ---------------------------------------------------------------- the campaign

function campaignConfig(o: { items: number; studies: number; seed: number; endpoint: string }): CampaignConfig {
  const role = (model: string, limit: number, extra: Partial<ModelRole> = {}): ModelRole =>
    ({ baseURL: o.endpoint, model, rateLimitPerSecond: limit, temperature: 0.7, maxTokens: 256, timeoutMs: 120_000, ...extra }) as ModelRole;
  return parseCampaignConfig({
    name: 'bench-curation-endpoints',
    seed: o.seed,
    dataset: { format: 'phantom', root: path.join(os.tmpdir(), `mmedpo-phantom-bench-endpoints-s${o.seed}-${o.studies}x512`), phantom: { studies: o.studies, size: 512, testFraction: 0.2 }, limit: o.items },
    models: {
      target: role('bench-llava-med-7b', LIMITS.target, { temperature: 1.0 }),
      // The judge behind an API key, as GPT-4o is: the key reaches the model worker through its env only.
      judge: role('bench-gpt-4o', LIMITS.judge, { temperature: 0, maxTokens: 512, apiKeyEnv: 'BENCH_FAKE_OPENAI_KEY' }),
      agents: AGENT_MODELS.map((m) => role(m, LIMITS.agent, { temperature: 0 })),
    },
    // Curation settings are the campaign defaults (shards of 200, 4 in flight, 16 items each), except that a
    // run of fewer than 800 items gets smaller shards: still 4 in flight, so as many items are in flight
    // (64) as in a full-size campaign.
    curation: { shardSize: Math.min(200, Math.ceil(o.items / 4)) },
    training: { enabled: false },
    evaluation: { enabled: false },
  });
}

interface RoleFigures {
  role: string;
  models: string[];
  limit: number;
  calls: number;
  ok: number;
  rateLimited: number;
  serverErrors: number;
  promptTokens: number;
  completionTokens: number;
  /** Highest calls/s over any 10-s window (is the task-queue limit held?). */
  peak10s: number;
}

function roleFigures(stats: Map<string, EndpointModelStats>, role: string, models: string[], limit: number): RoleFigures {
  const f: RoleFigures = { role, models, limit, calls: 0, ok: 0, rateLimited: 0, serverErrors: 0, promptTokens: 0, completionTokens: 0, peak10s: 0 };
  const perSecond = new Map<number, number>();
  for (const m of models) {
    const s = stats.get(m);
    if (!s) continue;
    f.calls += s.calls;
    f.ok += s.ok;
    f.rateLimited += s.rateLimited;
    f.serverErrors += s.serverErrors;
    f.promptTokens += s.promptTokens;
    f.completionTokens += s.completionTokens;
    // Per model: each agent has its own limit, so the peak is the busiest agent's.
    const own = [...s.perSecond.entries()];
    for (const [sec] of own) {
      let n = 0;
      for (let k = 0; k < 10; k++) n += s.perSecond.get(sec + k) ?? 0;
      perSecond.set(sec, Math.max(perSecond.get(sec) ?? 0, n / 10));
    }
  }
  f.peak10s = Math.max(0, ...perSecond.values());
  return f;
}

/**
 * The text item that took longest, with its slowest activity: how long it took from schedule to
 * close, its attempts and the last failure (what a tail in the throughput comes from).
 */
async function slowestItem(client: Client, campaignId: string): Promise<string | undefined> {
  let worst: { id: string; ms: number } | undefined;
  for await (const w of client.workflow.list({ query: `WorkflowType = 'textItemWorkflow' AND WorkflowId STARTS_WITH '${campaignId}/'` })) {
    const ms = (w.closeTime?.getTime() ?? Date.now()) - w.startTime.getTime();
    if (!worst || ms > worst.ms) worst = { id: w.workflowId, ms };
  }
  if (!worst) return undefined;
  const history = await client.workflow.getHandle(worst.id).fetchHistory();
  const scheduled = new Map<string, { type: string; at: number }>();
  const ms = (t: unknown) => Number((t as { seconds?: { toNumber(): number } | number })?.seconds?.valueOf() ?? 0) * 1000 + Math.round(Number((t as { nanos?: number })?.nanos ?? 0) / 1e6);
  let slow: { type: string; ms: number; attempt: number; failure: string } | undefined;
  let attempt = 1;
  let failure = '';
  for (const e of history.events ?? []) {
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes) scheduled.set(id, { type: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?', at: ms(e.eventTime) });
    if (e.activityTaskStartedEventAttributes) {
      attempt = e.activityTaskStartedEventAttributes.attempt ?? 1;
      failure = e.activityTaskStartedEventAttributes.lastFailure?.message ?? '';
    }
    const closed = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
    if (closed) {
      const s = scheduled.get(String(closed.scheduledEventId));
      const took = ms(e.eventTime) - (s?.at ?? 0);
      if (s && (!slow || took > slow.ms)) slow = { type: s.type, ms: took, attempt, failure };
    }
  }
  const act = slow ? `; its slowest activity ${slow.type} took ${fmt(slow.ms / 1000, 1)} s in ${slow.attempt} attempt(s)${slow.failure ? ` (last failure: ${slow.failure.slice(0, 160)})` : ''}` : '';
  return `${worst.id} took ${fmt(worst.ms / 1000, 1)} s${act}`;
}

const fmt = (x: number, d = 2) => x.toFixed(d);
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function main(): Promise<void> {
  const items = Number(arg('items', CI ? '100' : '5000'));
  const seed = Number(arg('seed', '1'));
  // ~4 questions per study, 80 % of studies train: 3.2 train items a study, with a margin.
  const studies = Math.ceil(items / 3.2) + 20;
  const rssCheckpoint = Math.ceil(items / 5); // 1,000 of 5,000
  const t00 = Date.now();

  const fake = endpointLike({ seed });
  const server = await startFakeOpenAI(fake.handler, 0, { backlog: 8192, keepLog: false });
  const cfg = campaignConfig({ items, studies, seed, endpoint: server.url });

  // The phantom set is generated before the clock starts (the campaign's prepare step then finds it).
  const g0 = Date.now();
  const gen = await ensurePhantomDataset({ out: path.resolve(PROJECT_ROOT, cfg.dataset.root), studies, size: 512, seed, testFraction: 0.2 });
  console.log(`phantom set: ${studies} studies at 512 px ${gen.generated ? `generated in ${fmt((Date.now() - g0) / 1000, 1)} s` : 'reused'} (${cfg.dataset.root})`);

  const home = path.join(PROJECT_ROOT, '.mmedpo', `bench-endpoints-${process.pid}`);
  fs.mkdirSync(path.join(home, 'logs'), { recursive: true });
  let info: StackInfo | undefined;
  const workers: WorkerProcess[] = [];
  let connection: Connection | undefined;
  let failed = false;
  try {
    info = await stackUp({ home, temporalPort: await freePort(), minioPort: await freePort(), minioConsolePort: await freePort(), headless: true });
    const cfgFile = path.join(home, 'config.json');
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    const env: NodeJS.ProcessEnv = {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_') && k !== 'MMEDPO_UI_URL')),
      ...stackEnv(info),
      MMEDPO_HOME: home,
      MMEDPO_CONFIG: cfgFile,
      MMEDPO_QUEUE_PREFIX: '',
      MMEDPO_LOG_LEVEL: process.env.MMEDPO_LOG_LEVEL ?? 'ERROR',
      BENCH_FAKE_OPENAI_KEY: 'sk-bench-fake-key-not-a-secret',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    delete env.MMEDPO_TASK_QUEUE;
    const curationWorker = spawnWorkerProcess('curation', 'curation', env, path.join(home, 'logs'));
    const modelWorker = spawnWorkerProcess('models', 'models', env, path.join(home, 'logs'));
    workers.push(curationWorker, modelWorker);
    for (const w of workers) w.child.once('exit', (code, sig) => !stopping && console.error(`${w.name} worker exited (${code ?? sig}); its log: ${w.log}`));

    connection = await Connection.connect({ address: info.temporalAddress });
    const client = new Client({ connection, namespace: 'default', dataConverter: dataConverter(stackEnv(info)) });
    const id = `bench-endpoints-${Date.now().toString(36)}`;
    const c0 = Date.now();
    const handle = await client.workflow.start('campaignWorkflow', { taskQueue: 'curation', workflowId: id, args: [{ campaignId: id, config: cfg, configHash: configHash(cfg) }] });
    const resultP = handle.result() as Promise<CampaignResult>;
    let closed = false;
    void resultP.finally(() => (closed = true)).catch(() => undefined);

    // CPU and the endpoint's counters from the start of the curation stage (after prepare and ingest).
    const pgrps = { curation: curationWorker.pgrp, models: modelWorker.pgrp, temporal: info.temporalPid, minio: info.minioPid };
    while (!closed) {
      const p = await handle.query<CampaignProgress>('progress').catch(() => undefined);
      if (p && p.stage !== 'prepare' && p.stage !== 'ingest') break;
      await sleep(200);
    }
    fake.reset();
    const cpuStart = Object.fromEntries(Object.entries(pgrps).map(([k, g]) => [k, groupCpuSeconds(g)])) as Record<keyof typeof pgrps, number>;
    const benchCpuStart = process.cpuUsage();
    const curationStartedAt = Date.now();
    console.log(`campaign ${id}: prepare + ingest of ${items} items took ${fmt((curationStartedAt - c0) / 1000, 1)} s; curating`);

    // Text items done, from visibility; RSS when the checkpoint and the last item are reached.
    const rss: { at: number; curation: number; models: number }[] = [];
    const textDone = async () =>
      (await client.workflow.count(`WorkflowType = 'textItemWorkflow' AND ExecutionStatus = 'Completed' AND WorkflowId STARTS_WITH '${id}/'`)).count;
    let lastReport = Date.now();
    while (!closed) {
      const done = await textDone().catch(() => -1);
      if (done >= rssCheckpoint && !rss.length) rss.push({ at: done, curation: groupRssMiB(curationWorker.pgrp), models: groupRssMiB(modelWorker.pgrp) });
      if (done >= items && rss.length === 1) rss.push({ at: done, curation: groupRssMiB(curationWorker.pgrp), models: groupRssMiB(modelWorker.pgrp) });
      if (Date.now() - lastReport >= (CI ? 30_000 : 60_000)) {
        lastReport = Date.now();
        const s = (Date.now() - curationStartedAt) / 1000;
        console.error(`  ${done}/${items} text items done after ${fmt(s, 0)} s (${fmt(done / s)} items/s)`);
      }
      await sleep(CI ? 1000 : 3000);
    }
    const result = await resultP;
    const cpuEnd = Object.fromEntries(Object.entries(pgrps).map(([k, g]) => [k, groupCpuSeconds(g)])) as Record<keyof typeof pgrps, number>;
    const benchCpu = process.cpuUsage(benchCpuStart);
    if (rss.length === 1) rss.push({ at: await textDone(), curation: groupRssMiB(curationWorker.pgrp), models: groupRssMiB(modelWorker.pgrp) });

    // Curation span (first shard start → last shard close), item completion times, largest history.
    let first = Infinity;
    let last = 0;
    let maxEvents = 0;
    let maxEventsWho = '';
    let maxBytes = 0;
    let maxBytesWho = '';
    let executions = 0;
    const itemClose: number[] = [];
    for await (const w of client.workflow.list({ query: `WorkflowId STARTS_WITH '${id}'` })) {
      executions++;
      if (w.type === 'curationShardWorkflow') {
        first = Math.min(first, w.startTime.getTime());
        last = Math.max(last, w.closeTime?.getTime() ?? Date.now());
      }
      if (w.type === 'textItemWorkflow' && w.closeTime) itemClose.push(w.closeTime.getTime());
      if (w.historyLength > maxEvents) [maxEvents, maxEventsWho] = [w.historyLength, `${w.type} ${w.workflowId}`];
      if ((w.historySize ?? 0) > maxBytes) [maxBytes, maxBytesWho] = [w.historySize ?? 0, `${w.type} ${w.workflowId}`];
    }
    itemClose.sort((a, b) => a - b);
    const slowest = await slowestItem(client, id);
    const curated = result.progress?.items.curated ?? 0;
    const quarantined = result.quarantined;
    const spanS = (last - first) / 1000;
    const itemsPerSecond = curated / spanS;
    // Steady state: the rate between the 10th and the 90th percentile of item completions (no ramp-up, no tail).
    const q = (f: number) => itemClose[Math.min(itemClose.length - 1, Math.floor(f * itemClose.length))]!;
    const steady = itemClose.length >= 20 ? (0.8 * itemClose.length) / ((q(0.9) - q(0.1)) / 1000) : NaN;

    // The bound: per role, limit ÷ calls per item (attempts included); the smallest binds.
    const roles = [
      roleFigures(fake.stats, 'target', ['bench-llava-med-7b'], LIMITS.target),
      roleFigures(fake.stats, 'judge', ['bench-gpt-4o'], LIMITS.judge),
      ...AGENT_MODELS.map((m, i) => roleFigures(fake.stats, `agent-${i}`, [m], LIMITS.agent)),
    ];
    const bounds = roles.map((r) => ({ role: r.role, bound: r.calls ? r.limit / (r.calls / curated) : Infinity }));
    const binding = bounds.reduce((a, b) => (b.bound < a.bound ? b : a));
    const ratio = itemsPerSecond / binding.bound;

    const cpuMs = (k: keyof typeof pgrps) => ((cpuEnd[k] - cpuStart[k]) / curated) * 1000;
    const cpu = { curation: cpuMs('curation'), models: cpuMs('models'), temporal: cpuMs('temporal'), minio: cpuMs('minio') };
    const cpuTotal = cpu.curation + cpu.models + cpu.temporal + cpu.minio;
    const benchMs = ((benchCpu.user + benchCpu.system) / 1000 / curated).toFixed(0);

    console.log(`\n== ${curated} items curated (${items} asked), ${quarantined} quarantined; wall ${fmt((Date.now() - t00) / 60000, 1)} min in all, curation ${fmt(spanS, 1)} s`);
    console.log(`throughput: ${fmt(itemsPerSecond)} items/s over the curation span (steady state p10–p90: ${fmt(steady)} items/s)`);
    console.log(`bound the rate limits allow: ${fmt(binding.bound)} items/s (${binding.role}-bound; ${bounds.map((b) => `${b.role} ${fmt(b.bound)}`).join(', ')})`);
    console.log(`ratio throughput / bound: ${fmt(ratio)}× (goal ≥ 0.9×); steady state ${fmt(steady / binding.bound)}×`);
    console.log(`CPU per item: ${cpuTotal.toFixed(0)} ms (curation worker ${cpu.curation.toFixed(0)}, model worker ${cpu.models.toFixed(0)}, Temporal server ${cpu.temporal.toFixed(0)}, MinIO ${cpu.minio.toFixed(0)}); bench + fake endpoints ${benchMs} ms (not counted)`);
    console.log(`  for reference only, the issue's earlier figure (300 VQA-RAD items): ${EARLIER.itemsPerSecond} items/s, ${EARLIER.cpuMsPerItem} ms CPU/item → now ${fmt(itemsPerSecond / EARLIER.itemsPerSecond)}× the items/s, ${fmt(cpuTotal / EARLIER.cpuMsPerItem)}× the CPU/item`);
    console.log('model calls and tokens per item, by role (as the endpoint saw them; calls include 429/500 attempts):');
    for (const r of roles) {
      console.log(
        `  ${r.role.padEnd(8)} ${fmt(r.calls / curated)} calls (${r.rateLimited} × 429, ${r.serverErrors} × 500), ${(r.promptTokens / curated).toFixed(0)} prompt + ${(r.completionTokens / curated).toFixed(0)} completion tokens; limit ${r.limit}/s, peak 10-s rate ${fmt(r.peak10s)}/s`,
      );
    }
    const [rssA, rssB] = rss;
    if (rssA && rssB) {
      const growth = (a: number, b: number) => `${b >= a ? '+' : ''}${fmt(((b - a) / a) * 100, 1)} %`;
      console.log(`worker RSS at ${rssA.at} → ${rssB.at} items: curation ${rssA.curation.toFixed(0)} → ${rssB.curation.toFixed(0)} MiB (${growth(rssA.curation, rssB.curation)}), models ${rssA.models.toFixed(0)} → ${rssB.models.toFixed(0)} MiB (${growth(rssA.models, rssB.models)}) (goal: flat within 10 %)`);
    }
    console.log(`histories: ${executions} workflow executions; largest ${maxEvents} events (${maxEventsWho}); largest ${(maxBytes / 1024).toFixed(0)} KiB (${maxBytesWho})`);

    if (slowest) console.log(`slowest item: ${slowest}`);

    const problems: string[] = [];
    if (quarantined !== 0) problems.push(`${quarantined} items quarantined (429/500 must be retried, not quarantined)`);
    if (curated !== items) problems.push(`${curated} of ${items} items curated`);
    if (maxEvents > 10_000) problems.push(`a history has ${maxEvents} events (> 10,000)`);
    // A small run's span is mostly ramp-up and tail (~15 s of ~70), and one slow item (an activity
    // retried after its start-to-close timeout: "slowest item" above) stretches it by minutes, so the CI
    // size asserts the steady-state rate; the full size the goal on the whole span.
    if (CI && !(steady / binding.bound >= 0.7)) problems.push(`steady-state throughput ${fmt(steady / binding.bound)}× the rate-limit bound, below 0.7×`);
    if (!CI && !(ratio >= 0.9)) problems.push(`throughput ${fmt(ratio)}× the rate-limit bound, below the 0.9× goal`);
    if (problems.length) {
      console.log(`FAILED: ${problems.join('; ')}`);
      failed = CI || quarantined !== 0 || curated !== items;
    }
  } finally {
    stopping = true;
    await Promise.all(workers.map(stopWorker));
    await connection?.close().catch(() => undefined);
    await server.close();
    if (info) await stackDown({ home });
    if (process.env.MMEDPO_KEEP_BENCH !== '1') fs.rmSync(home, { recursive: true, force: true });
  }
  if (failed) process.exitCode = 1;
}

let stopping = false;

main().then(
  () => process.exit(process.exitCode ?? 0),
  (e: Error) => {
    console.error(`bench/curation-endpoints: ${e.stack ?? e.message}`);
    process.exit(1);
  },
);
