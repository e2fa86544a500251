// Curation throughput through Temporal against the same offline engines and activity code
// called in a plain loop, measured in the same run on the same items; and (with --scale N) a
// scale run of N items through the campaign's curation stage that prints the largest history.
//
//   npx tsx bench/curation.ts [--limit 480] [--shards-in-flight 4] [--concurrency 16] [--lane-slots 8]
//                                                               throughput ratio (goal ≥ 0.7×)
//   npx tsx bench/curation.ts --scale 20000                     scale run, training off
//
// Both arms run on a stack of the bench's own (free ports, headless, removed afterwards), with
// the same number of items in flight (shards in flight × concurrency), a cold reply cache each (the
// arms use different campaign seeds, so neither reads the other's cached replies) and items of their
// own. Each arm prints its CPU per item (this process, the Temporal server, MinIO); afterwards every
// shard and lane history of the run is replayed.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { parseCampaignConfig, type CampaignConfig } from '../core/config';
import type { CampaignProgress, CampaignResult } from '../core/contracts';
import { agentForTurn, DebateTurnRecord, evaluateDebate, previousVote, resolveVote } from '../core/debate';
import { freePort, PROJECT_ROOT, stackDown, stackEnv, stackUp } from '../infra/stack';

/** A /proc stat line's process group and CPU seconds (user + system), or undefined once it has exited. */
function procStat(file: string): { pgrp: number; cpuSeconds: number } | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the parenthesised command: state ppid pgrp … utime(14) stime(15), in USER_HZ ticks.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pgrp: Number(f[2]), cpuSeconds: (Number(f[11]) + Number(f[12])) / 100 };
}

/** CPU seconds used so far by every process in the given process groups (Linux /proc). */
function groupCpuSeconds(groups: number[]): number {
  let seconds = 0;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const p = procStat(`/proc/${d}/stat`);
    if (p && groups.includes(p.pgrp)) seconds += p.cpuSeconds;
  }
  return seconds;
}

/** CPU seconds of this process's main thread (where activities and the SDK's dispatch run). */
function mainThreadCpuSeconds(): number {
  return procStat(`/proc/self/task/${process.pid}/stat`)?.cpuSeconds ?? 0;
}

/** CPU used by this process (worker + bench; its main thread apart), the Temporal server and MinIO between two calls. */
function cpuMeter(info: { temporalPid?: number; minioPid?: number }) {
  const read = () => ({ worker: process.cpuUsage(), main: mainThreadCpuSeconds(), server: groupCpuSeconds([info.temporalPid ?? -1]), minio: groupCpuSeconds([info.minioPid ?? -1]) });
  const start = read();
  return (items: number): string => {
    const now = read();
    const worker = (now.worker.user + now.worker.system - start.worker.user - start.worker.system) / 1e6;
    const ms = (s: number) => ((s / items) * 1000).toFixed(0);
    const main = now.main - start.main;
    const server = now.server - start.server;
    const minio = now.minio - start.minio;
    return `CPU per item: ${ms(worker + server + minio)} ms (worker process ${ms(worker)} — main thread ${ms(main)} —, Temporal server ${ms(server)}, MinIO ${ms(minio)})`;
  };
}

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const scale = arg('scale') ? Number(arg('scale')) : 0;
  // 480 items an arm: at ~15–20 items/s the ramp-up and the last items' tail are a small share.
  const limit = scale || Number(arg('limit', '480'));
  // The phantom generator writes ~4 VQA items per study (80 % train). The throughput arms curate
  // disjoint halves of one set (items [0, limit) and [limit, 2·limit)): the visual tool's heatmaps
  // are content-addressed by image, so an arm given the other's images would skip their inference.
  const studies = Number(arg('studies', String(Math.ceil((scale || 2 * limit) / 3.2) + 30)));
  const home = path.join(PROJECT_ROOT, '.mmedpo', `bench-curation-${process.pid}`);
  fs.mkdirSync(home, { recursive: true });
  const info = await stackUp({ home, temporalPort: await freePort(), minioPort: await freePort(), minioConsolePort: await freePort(), headless: true });
  Object.assign(process.env, { MMEDPO_HOME: home, ...stackEnv(info) });
  // Imported after the env is set: the artifact store and the Temporal client read it once.
  const activities = await import('../activities');
  const { createCurationWorker } = await import('../workers/curation');
  const { createModelWorkers } = await import('../workers/models');
  const { configHash } = await import('../lib/config-file');
  process.env.MMEDPO_LOG_LEVEL ??= 'ERROR';

  const cfg = (seed: number): CampaignConfig =>
    parseCampaignConfig({
      name: 'bench',
      seed,
      dataset: { format: 'phantom', root: path.join(os.tmpdir(), `mmedpo-phantom-bench-${studies}`), phantom: { studies, size: 128, testFraction: 0.2 }, limit },
      // Throughput arm: one shard per lane group (limit / shardsInFlight items each), so neither arm
      // idles on a wave's tail that the other does not have.
      // Concurrency, shards in flight and lane slots are the campaign defaults unless given.
      curation: {
        shardSize: scale ? 100 : Math.ceil(limit / Number(arg('shards-in-flight', '4'))),
        ...(arg('concurrency') ? { concurrency: Number(arg('concurrency')) } : {}),
        ...(arg('shards-in-flight') ? { shardsInFlight: Number(arg('shards-in-flight')) } : {}),
        ...(arg('lane-slots') ? { laneSlots: Number(arg('lane-slots')) } : {}),
      },
      training: { enabled: false },
      evaluation: { enabled: false },
    });
  const connection = await Connection.connect({ address: info.temporalAddress });
  const client = new Client({ connection, dataConverter: (await import('../lib/temporal')).dataConverter() });
  const workers: Worker[] = [await createCurationWorker({ maxConcurrentActivities: 32 }), ...(await createModelWorkers(cfg(1), { maxConcurrentActivities: 32 }))];
  const runs = workers.map((w) => w.run());
  try {
    // ---- through Temporal: the campaign with training and evaluation off
    const c1 = cfg(1);
    const id = `bench-${Date.now().toString(36)}`;
    const t0 = Date.now();
    const h = await client.workflow.start('campaignWorkflow', { taskQueue: 'curation', workflowId: id, args: [{ campaignId: id, config: c1, configHash: configHash(c1) }] });
    const timer = scale
      ? setInterval(() => {
          void h.query<CampaignProgress>('progress').then((p) => console.error(`  ${p.items.curated}/${limit} items in finished shards, ${((Date.now() - t0) / 1000).toFixed(0)} s`));
        }, 60_000)
      : undefined;
    // CPU is metered from the start of curation (after ingest) to the campaign's end.
    let temporalCpu: ((items: number) => string) | undefined;
    const resultP = h.result() as Promise<CampaignResult>;
    let closed = false;
    void resultP.finally(() => (closed = true)).catch(() => undefined);
    while (!closed && !temporalCpu) {
      const p = await h.query<CampaignProgress>('progress').catch(() => undefined);
      if (p && p.stage !== 'prepare' && p.stage !== 'ingest') temporalCpu = cpuMeter(info);
      else await new Promise((r) => setTimeout(r, 100));
    }
    const result = await resultP;
    if (timer) clearInterval(timer);
    const wall = (Date.now() - t0) / 1000;
    // Curation span: first shard start → last shard close.
    let first = Infinity;
    let last = 0;
    let maxEvents = 0;
    let maxWho = '';
    let maxBytes = 0;
    let executions = 0;
    const replayIds: string[] = [];
    for await (const w of client.workflow.list({ query: `WorkflowId STARTS_WITH '${id}'` })) {
      executions++;
      if (w.type === 'curationLaneWorkflow' || w.type === 'curationShardWorkflow') replayIds.push(w.workflowId);
      if (w.workflowId.includes('/shard-') && !w.workflowId.includes('/text/')) {
        first = Math.min(first, w.startTime.getTime());
        last = Math.max(last, w.closeTime?.getTime() ?? Date.now());
      }
      if (w.historyLength > maxEvents) {
        maxEvents = w.historyLength;
        maxWho = `${w.type} ${w.workflowId}`;
      }
      maxBytes = Math.max(maxBytes, w.historySize ?? 0);
    }
    const items = result.progress?.items.curated ?? limit;
    const temporalS = (last - first) / 1000;
    console.log(`through Temporal: ${items} items curated in ${temporalS.toFixed(1)} s (${(items / temporalS).toFixed(2)} items/s); campaign wall ${wall.toFixed(1)} s, quarantined ${result.quarantined}`);
    if (temporalCpu) console.log(`  ${temporalCpu(items)}`);
    console.log(`histories: ${executions} workflow executions; largest ${maxEvents} events (${maxWho}), largest size ${(maxBytes / 1024).toFixed(0)} KiB`);
    if (maxEvents > 10_000) throw new Error(`a history exceeded 10,000 events: ${maxEvents}`);
    if (scale) return;

    // ---- plain loop: the same activity functions, the same lane count, no Temporal
    const c2 = cfg(2);
    const manifestKey = result.progress!.artifacts.datasetManifest!;
    const shardItems = await activities.loadShardItems({ manifestKey, split: c2.dataset.trainSplit, start: limit, end: 2 * limit });
    if (shardItems.length !== limit) throw new Error(`the phantom set has ${limit + shardItems.length} train items, the bench needs ${2 * limit}: raise --studies`);
    const m = c2.models;
    const curateDirect = async (item: (typeof shardItems)[number]): Promise<void> => {
      const common = { campaignSeed: c2.seed, itemId: item.id, kind: item.kind, question: item.question, groundTruth: item.answer };
      const text = async () => {
        const samples = await Promise.all(Array.from({ length: c2.curation.samples }, (_, k) => activities.sampleTarget({ ...common, role: m.target, imageKey: item.imageKeys[0], sampleIndex: k })));
        const candidates = samples.filter((s) => s.ok && s.text).map((s) => s.text!);
        let yl: string | undefined;
        if (candidates.length) {
          const sel = await activities.judgeSelect({ ...common, role: m.judge, candidates });
          if (sel.index !== null && sel.index !== undefined) yl = candidates[sel.index];
        }
        yl ??= (await activities.judgeGenerate({ ...common, role: m.judge })).text!;
        await activities.storeTextPair({ itemId: item.id, kind: item.kind, question: item.question, imageKey: item.imageKeys[0], y_w: item.answer, y_l: yl, source: 'sampled', conflicts: [], replyKeys: [] });
        const turns: DebateTurnRecord[] = [];
        const params = { agents: m.agents.length, rounds: c2.debate.rounds };
        let outcome = evaluateDebate(turns, params);
        while (!outcome.done) {
          const turn = turns.length;
          const agent = agentForTurn(turn, m.agents.length);
          const previous = previousVote(turns);
          const r = await activities.debateTurn({ role: m.agents[agent]!, agent, turn, round: Math.floor(turn / m.agents.length), campaignSeed: c2.seed, itemId: item.id, response: yl, groundTruth: item.answer, previous, scale: c2.debate.scale });
          const res = resolveVote(r.ok && r.agree !== undefined ? { agree: r.agree, score: r.score ?? NaN, reason: r.reason ?? '' } : null, previous);
          turns.push({ turn, agent, model: m.agents[agent]!.model, score: res.score, agree: res.agree, reason: r.reason ?? '', valid: r.ok, latencyMs: r.latencyMs, replyKeys: r.replyKeys, promptVersion: r.promptVersion });
          outcome = evaluateDebate(turns, params);
        }
        await activities.storeDebateTranscript({ itemId: item.id, mode: 'multi', response: yl, scale: c2.debate.scale, agents: m.agents.map((a) => a.model), rounds: c2.debate.rounds, turns, outcome });
      };
      const visual = () => activities.curateVisual({ seed: c2.seed, itemId: item.id, imageKey: item.imageKeys[0]!, noise: c2.noise, visualTool: c2.visualTool });
      await Promise.all([text(), visual()]);
    };
    const lanes = c2.curation.shardsInFlight * c2.curation.concurrency;
    let next = 0;
    const plainCpu = cpuMeter(info);
    const p0 = Date.now();
    await Promise.all(
      Array.from({ length: lanes }, async () => {
        while (next < shardItems.length) await curateDirect(shardItems[next++]!);
      }),
    );
    const plainS = (Date.now() - p0) / 1000;
    console.log(`plain loop:       ${shardItems.length} items curated in ${plainS.toFixed(1)} s (${(shardItems.length / plainS).toFixed(2)} items/s), ${lanes} lanes`);
    console.log(`  ${plainCpu(shardItems.length)}`);
    const ratio = plainS / temporalS;
    console.log(`ratio Temporal/plain throughput: ${ratio.toFixed(2)}× (goal ≥ 0.7×)`);
    // The lanes ran their items side by side under load, so their local activities completed in an
    // order of their own: each lane and shard must still replay (what a restarted worker does).
    // In a process of its own: replaying installs the SDK's promise hooks on the thread it runs on.
    const replay = spawnSync('npx', ['tsx', 'test/histories/replay-live.ts', ...replayIds.sort()], { cwd: PROJECT_ROOT, env: process.env, encoding: 'utf8' });
    if (replay.status !== 0) throw new Error(`the run's histories do not replay: ${replay.stderr || replay.stdout}`);
    console.log(`replay: ${replay.stdout.trim()} (every shard and lane of this run)`);
  } finally {
    for (const w of workers) w.shutdown();
    await Promise.allSettled(runs);
    await connection.close();
    await stackDown({ home });
    fs.rmSync(home, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(`bench/curation: ${e.stack ?? e.message}`);
    process.exit(1);
  },
);
