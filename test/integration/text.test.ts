// The text branch (D_t) and the multi-Med-LLM debate on the real Temporal server and MinIO, against a
// local OpenAI-compatible fake server reached through the real `openai` client:
//  - 20 items: scripted agents give immediate consensus, the cap (mean of history) and invalid replies;
//    a re-run with the reply cache warm makes 0 requests and writes the same D_t + transcript objects;
//  - 429 (Retry-After) then 200 costs exactly one extra request; 401 quarantines that item with the
//    endpoint's message while the others finish; 500 then 200 is retried;
//  - SIGKILL of the worker process mid-debate: on restart completed turns are not re-called;
//  - the API key value is in no workflow history, no worker log and no cached reply.
import { spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

const PREFIX = `it-text-${process.pid}-${Date.now().toString(36)}`;
process.env.MMEDPO_S3_PREFIX = PREFIX; // cold reply cache for this run (read when the store is first made)
const KEY_ENV = 'MMEDPO_TEST_LLM_KEY';
const KEY = `sk-test-${randomBytes(12).toString('hex')}`;
process.env[KEY_ENV] = KEY;

import type { Worker } from '@temporalio/worker';
import { storeDebateTranscript, storeTextPair, type DebateTranscript, type TextPairRecord } from '../../activities/text';
import { parseCampaignConfig } from '../../core/config';
import { artifactStore } from '../../lib/env';
import { modelActivities } from '../../activities/models';
import { createModelWorkers } from '../../workers/models';
import type { TextItemInput, TextItemResult } from '../../workflows/text';
import { OFFLINE_GROUND_TRUTHS, playOfflineDebate } from '../helpers/offline-debate';
import { startFakeOpenAI, FakeOpenAI, FakeRequest, FakeAction } from '../helpers/fake-openai';
import { connectClient, makeWorker, uniqueQueue, workflowBundle } from '../helpers/temporal';
import { decodePayloadsIn, payloadCodecs } from '../../lib/codec';

jest.setTimeout(170_000);
const ROOT = path.resolve(__dirname, '../..');

function allText(r: FakeRequest): string {
  return r.messages.map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content))).join('\n');
}
function caseOf(r: FakeRequest): number {
  const m = /case (\d+)/.exec(allText(r));
  return m ? Number(m[1]) : -1;
}
const agentJson = (o: object) => JSON.stringify(o);

/** Scripted endpoints. Agents: a always scores 7; b agrees on even cases, else scores 3; c agrees, but on cases ≡ 3 (mod 5) it answers prose (invalid, also after the re-ask). */
function scripted(extra?: (r: FakeRequest) => FakeAction | undefined) {
  return (r: FakeRequest): FakeAction => {
    const x = extra?.(r);
    if (x) return x;
    const n = caseOf(r);
    switch (r.model) {
      case 'fake-target':
        return { text: `No acute finding in case ${n}; the heart is normal in size.` };
      case 'fake-judge':
        if (allText(r).includes('Candidates') || /\[0\]/.test(allText(r))) {
          return { text: n % 2 === 0 ? agentJson({ index: 1, conflicts: [`case ${n}: misses the effusion`] }) : agentJson({ index: null, conflicts: [] }) };
        }
        return { text: agentJson({ response: `Large right pleural effusion with cardiomegaly in case ${n}.`, conflicts: ['invented effusion', 'invented cardiomegaly'] }) };
      case 'fake-agent-a':
        return { text: agentJson({ agree: false, score: 7, reason: 'wrong diagnosis is clinically serious' }) };
      case 'fake-agent-b':
        return { text: n % 2 === 0 ? agentJson({ agree: true, score: 7, reason: 'agree' }) : agentJson({ agree: false, score: 3, reason: 'minor' }) };
      case 'fake-agent-c':
        if (n % 5 === 3) return { text: 'I think this response is moderately relevant.' };
        return { text: agentJson({ agree: true, reason: 'agree' }) };
      default:
        return { status: 404, message: `The model ${r.model} does not exist` };
    }
  };
}

/** Hand-computed expectations for the script above with 3 agents and a round cap of 2 (6 turns). */
function expected(n: number): { score: number; consensus: boolean; turns: number } {
  const invalid = n % 5 === 3;
  if (n % 2 === 0 && !invalid) return { score: 7, consensus: true, turns: 3 }; // 7, agree 7, agree 7
  if (n % 2 === 0) return { score: 7, consensus: false, turns: 6 }; // 7, 7, ∅, 7, 7, ∅ → mean 7
  if (!invalid) return { score: 26 / 6, consensus: false, turns: 6 }; // 7, 3, 3, 7, 3, 3 → 26/6
  return { score: 5, consensus: false, turns: 6 }; // 7, 3, ∅, 7, 3, ∅ → 20/4
}

function makeConfig(url: string) {
  const role = (model: string) => ({ baseURL: url, model, apiKeyEnv: KEY_ENV, temperature: 0, maxTokens: 64, timeoutMs: 2000, rateLimitPerSecond: 200 });
  return parseCampaignConfig({
    models: { target: { ...role('fake-target'), temperature: 1 }, judge: role('fake-judge'), agents: [role('fake-agent-a'), role('fake-agent-b'), role('fake-agent-c')] },
    curation: { samples: 3 },
    debate: { rounds: 2 },
  });
}

describe('text branch + debate against an OpenAI-compatible endpoint', () => {
  let fake: FakeOpenAI;
  let client: Awaited<ReturnType<typeof connectClient>>;
  const wfQueue = uniqueQueue('text-wf');
  const modelPrefix = `${uniqueQueue('tm')}-`;
  let wfWorker: Awaited<ReturnType<typeof makeWorker>>;
  let modelWorkers: Worker[] = [];
  let running: Promise<unknown>;
  let config: ReturnType<typeof makeConfig>;
  const workflowIds: string[] = [];
  const workerLogs: string[] = [];

  beforeAll(async () => {
    fake = await startFakeOpenAI(scripted());
    config = makeConfig(fake.url);
    client = await connectClient();
    wfWorker = await makeWorker({ taskQueue: wfQueue, activities: { storeTextPair, storeDebateTranscript, ...modelActivities } });
    modelWorkers = await createModelWorkers(config, { queuePrefix: modelPrefix });
    running = Promise.all([wfWorker.worker.run(), ...modelWorkers.map((w) => w.run())]);
  });

  afterAll(async () => {
    wfWorker?.worker.shutdown();
    for (const w of modelWorkers) w.shutdown();
    await running;
    await wfWorker?.connection.close();
    await fake?.close();
    await client?.connection.close();
  });

  /** The item's words in S3, as ingest writes them (workflows get the key). */
  async function itemText(id: string, kind: 'vqa' | 'report', answer: string, question?: string): Promise<string> {
    return (await artifactStore().putJson('item-texts', { id, kind, ...(question !== undefined ? { question } : {}), answer })).key;
  }
  async function input(n: number, question?: string): Promise<TextItemInput> {
    return {
      campaignSeed: 7,
      itemId: `item-${n}`,
      textKey: await itemText(`item-${n}`, 'vqa', 'no', question ?? `Is there a pleural effusion in case ${n}?`),
      kind: 'vqa',
      config: { models: config.models, curation: config.curation, debate: config.debate },
      queuePrefix: modelPrefix,
    };
  }
  async function runItems(ns: number[], tag: string, queue = wfQueue, mk: (n: number) => Promise<TextItemInput> = input): Promise<TextItemResult[]> {
    return Promise.all(
      ns.map(async (n) => {
        const id = `text-${tag}-${n}-${PREFIX}`;
        workflowIds.push(id);
        return client.client.workflow.execute('textItemWorkflow', { taskQueue: queue, workflowId: id, args: [await mk(n)] });
      }),
    );
  }

  const items = Array.from({ length: 20 }, (_, i) => i);
  let cold: TextItemResult[];

  test('20 items: debate outcomes match hand-computed values; pair and transcript records in S3', async () => {
    const before = fake.log.length;
    const t0 = Date.now();
    cold = await runItems(items, 'cold');
    const requests = fake.log.length - before;
    console.log(`text branch, 20 items cold: ${requests} requests, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    for (const n of items) {
      const r = cold[n]!;
      const e = expected(n);
      expect(r.quarantined).toBeUndefined();
      expect(r.score).toBeCloseTo(e.score, 12);
      expect(r.consensus).toBe(e.consensus);
      expect(r.turns).toBe(e.turns);
      const pair = await artifactStore().getJson<TextPairRecord>(r.pairKey!);
      expect(pair.y_w).toBe('no');
      expect(pair.source).toBe(n % 2 === 0 ? 'sampled' : 'generated');
      expect(pair.y_l).toContain(`case ${n}`);
      expect(pair.replyKeys.length).toBe(n % 2 === 0 ? 4 : 5); // 3 samples + select (+ generate)
      const tr = await artifactStore().getJson<DebateTranscript>(r.transcriptKey!);
      expect(tr.turns).toHaveLength(e.turns);
      expect(tr.turns.map((t) => t.model)).toEqual(Array.from({ length: e.turns }, (_, t) => ['fake-agent-a', 'fake-agent-b', 'fake-agent-c'][t % 3]));
      const invalid = tr.turns.filter((t) => !t.valid);
      expect(invalid.length).toBe(n % 5 === 3 ? 2 : 0);
      for (const t of invalid) {
        expect(t.score).toBeNull();
        expect(t.invalid).toMatch(/after the corrective re-ask/);
        expect(t.replyKeys).toHaveLength(2);
      }
    }
    // Counters: the even cases not ≡ 3 (mod 5) reach consensus: 0, 2, 4, 6, 10, 12, 14, 16.
    expect(cold.filter((r) => r.consensus).length).toBe(items.filter((n) => n % 2 === 0 && n % 5 !== 3).length);
    // Every agent re-ask is visible on the wire: c's invalid turns cost 2 requests each.
    const cRequests = fake.log.slice(before).filter((r) => r.model === 'fake-agent-c' && caseOf(r) === 3).length;
    expect(cRequests).toBe(4);
    // The query shows the turns.
    const view = await client.client.workflow.getHandle(workflowIds[1]!).query<{ phase: string; debate: { turns: unknown[]; outcome?: { consensus: boolean } } }>('textItemState');
    expect(view.phase).toBe('done');
    expect(view.debate.turns).toHaveLength(6);
    expect(view.debate.outcome?.consensus).toBe(false);
  });

  test('re-run with the reply cache warm: 0 model requests, identical D_t and transcript objects', async () => {
    const before = fake.log.length;
    const t0 = Date.now();
    const warm = await runItems(items, 'warm');
    console.log(`text branch, 20 items warm: ${fake.log.length - before} requests, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(fake.log.length - before).toBe(0);
    expect(warm).toEqual(cold);
    for (const n of [0, 3, 7]) {
      const a = await artifactStore().getBytes(warm[n]!.transcriptKey!);
      const b = await artifactStore().getBytes(cold[n]!.transcriptKey!);
      expect(a.equals(b)).toBe(true);
    }
  });

  test('429 with Retry-After then 200: one extra request; 401 fails only that item with the endpoint message; 500 then 200 retries', async () => {
    const seen = new Set<number>();
    fake.setHandler(
      scripted((r) => {
        const n = caseOf(r);
        if (r.model !== 'fake-target') return undefined;
        if (n === 101 && !seen.has(n)) {
          seen.add(n);
          return { status: 429, message: 'Rate limit reached for requests', headers: { 'retry-after': '1' } };
        }
        if (n === 102) return { status: 401, message: `Incorrect API key provided: ${KEY}` }; // an endpoint that echoes the key
        if (n === 104 && !seen.has(n)) {
          seen.add(n);
          return { status: 500, message: 'upstream overloaded' };
        }
        return undefined;
      }),
    );
    // Items 103 and 104 carry an image: inline as a data URL, and as a presigned S3 URL.
    const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), randomBytes(64)]);
    const { key: imageKey } = await artifactStore().putBytes('images', png, { ext: '.png', contentType: 'image/png' });
    const mk = async (n: number): Promise<TextItemInput> => {
      const base = await input(n);
      if (n === 103) return { ...base, imageKey };
      if (n === 104) return { ...base, imageKey, config: { ...base.config, models: { ...base.config.models, target: { ...base.config.models.target, imageTransport: 'presigned' } } } };
      return base;
    };
    const before = fake.log.length;
    const [r101, r102, r103, r104] = await runItems([101, 102, 103, 104], 'errors', wfQueue, mk);
    const log = fake.log.slice(before);
    const targetFor = (n: number) => log.filter((r) => r.model === 'fake-target' && caseOf(r) === n);
    expect(r101!.quarantined).toBeUndefined();
    expect(r101!.score).toBeCloseTo(26 / 6, 12);
    expect(targetFor(101)).toHaveLength(3 + 1);
    const t429 = targetFor(101);
    const gap = t429[t429.length - 1]!.at - t429[0]!.at;
    expect(gap).toBeGreaterThanOrEqual(900); // Retry-After: 1 honoured (nextRetryDelay)
    expect(r102!.quarantined).toMatch(/Incorrect API key provided/);
    expect(r102!.quarantined).toMatch(/401/);
    expect(r102!.quarantined!.includes(KEY)).toBe(false); // redacted before it reaches history
    expect(r102!.pairKey).toBeUndefined();
    expect(targetFor(102)).toHaveLength(3); // non-retryable: no retries
    expect(r103!.quarantined).toBeUndefined();
    expect(r104!.quarantined).toBeUndefined();
    expect(targetFor(104)).toHaveLength(4);
    const imageUrls = (n: number) =>
      targetFor(n).map((r) => {
        const parts = r.messages.flatMap((m) => (Array.isArray(m.content) ? (m.content as { type: string; image_url?: { url: string } }[]) : []));
        return parts.find((p) => p.type === 'image_url')?.image_url?.url ?? '';
      });
    expect(imageUrls(103)).toEqual(Array(3).fill(`data:image/png;base64,${png.toString('base64')}`));
    for (const u of imageUrls(104)) {
      expect(u).toMatch(/^http.*X-Amz-Signature=/);
      expect(Buffer.from(await (await fetch(u)).arrayBuffer()).equals(png)).toBe(true);
    }
    expect(imageUrls(101)).toEqual(Array(4).fill('')); // no image → text only
    fake.setHandler(scripted());
  });

  test('SIGKILL of the worker mid-debate: restart resumes without re-calling completed turns', async () => {
    const queue = uniqueQueue('text-kill');
    const prefix = `${uniqueQueue('tk')}-`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-text-it-'));
    const bundle = await workflowBundle();
    fs.writeFileSync(path.join(dir, 'bundle.js'), bundle.code);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ models: config.models, curation: config.curation, debate: config.debate }));
    let agentCalls = 0;
    let hung!: () => void;
    const hungPromise = new Promise<void>((ok) => (hung = ok));
    fake.setHandler(
      scripted((r) => {
        if (caseOf(r) !== 201 || !r.model.startsWith('fake-agent')) return undefined;
        agentCalls++;
        if (agentCalls === 4) {
          hung(); // turns 1–3 are complete; turn 4 is in flight and never answered
          return { hang: true };
        }
        return undefined;
      }),
    );
    const start = (): ChildProcess => {
      const p = spawn('npx', ['tsx', 'test/helpers/text-worker.ts'], {
        cwd: ROOT,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, MMEDPO_CONFIG: path.join(dir, 'config.json'), MMEDPO_TEXT_WF_QUEUE: queue, MMEDPO_QUEUE_PREFIX: prefix, MMEDPO_WORKFLOW_BUNDLE: path.join(dir, 'bundle.js') },
      });
      p.stdout!.on('data', (b: Buffer) => workerLogs.push(b.toString()));
      p.stderr!.on('data', (b: Buffer) => workerLogs.push(b.toString()));
      return p;
    };
    const kill = (p: ChildProcess) =>
      new Promise<void>((ok) => {
        p.once('exit', () => ok());
        process.kill(-p.pid!, 'SIGKILL');
      });
    const id = `text-kill-201-${PREFIX}`;
    workflowIds.push(id);
    let child = start();
    try {
      const handle = await client.client.workflow.start('textItemWorkflow', { taskQueue: queue, workflowId: id, args: [{ ...(await input(201)), queuePrefix: prefix }] });
      await hungPromise;
      const beforeKill = fake.log.filter((r) => caseOf(r) === 201 && r.model.startsWith('fake-agent')).length;
      await kill(child);
      expect(beforeKill).toBe(4);
      const desc = await handle.describe();
      expect(desc.status.name).toBe('RUNNING');
      child = start();
      const r = (await handle.result()) as TextItemResult;
      expect(r.score).toBeCloseTo(26 / 6, 12);
      expect(r.turns).toBe(6);
      const agentReqs = fake.log.filter((x) => caseOf(x) === 201 && x.model.startsWith('fake-agent'));
      // 6 turns, plus the one request lost with the killed worker; turns 1–3 were called exactly once.
      expect(agentReqs).toHaveLength(7);
      // On the wire: a, b, c (turns 1–3, before the kill), a (turn 4, lost), then a, b, c (turns 4–6).
      expect(agentReqs.map((x) => x.model)).toEqual(['fake-agent-a', 'fake-agent-b', 'fake-agent-c', 'fake-agent-a', 'fake-agent-a', 'fake-agent-b', 'fake-agent-c']);
      const bodies = agentReqs.map((x) => `${x.model}\n${allText(x)}`);
      expect(bodies[4]).toBe(bodies[3]); // the interrupted turn 4 re-asked after the restart…
      expect(bodies[4]).not.toBe(bodies[0]); // …not turn 1 (G1 sees no previous score there)
      const tr = await artifactStore().getJson<DebateTranscript>(r.transcriptKey!);
      expect(tr.turns.map((t) => t.score)).toEqual([7, 3, 3, 7, 3, 3]);
    } finally {
      await kill(child).catch(() => undefined);
      fake.setHandler(scripted());
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('single-agent mode (Single-LLM ablation): one agent, one turn; also beside the multi-agent debate', async () => {
    const [beside, only] = await runItems([401, 403], 'single', wfQueue, async (n) => {
      const base = await input(n);
      return n === 401 ? { ...base, alsoSingleAgent: true } : { ...base, config: { ...base.config, debate: { ...config.debate, singleAgent: true } } };
    },
    );
    // 401 (odd): multi-agent debate hits the cap at 26/6; the single agent (a) scores 7 in one turn.
    expect(beside).toMatchObject({ turns: 6, consensus: false, singleScore: 7 });
    expect(beside!.score).toBeCloseTo(26 / 6, 12);
    const single = await artifactStore().getJson<DebateTranscript>(beside!.singleTranscriptKey!);
    expect(single).toMatchObject({ mode: 'single', rounds: 1, agents: ['fake-agent-a'] });
    expect(single.turns).toHaveLength(1);
    // 403 with debate.singleAgent: the only debate is one turn of agent a.
    expect(only).toMatchObject({ turns: 1, consensus: true, score: 7 });
    const tr = await artifactStore().getJson<DebateTranscript>(only!.transcriptKey!);
    expect(tr.mode).toBe('single');
  });

  test('per-role rate limit is the task-queue activity rate limit of that role\'s worker', async () => {
    const limited = makeConfig(fake.url);
    limited.models.target.rateLimitPerSecond = 2;
    const prefix = `${uniqueQueue('tr')}-`;
    const workers = await createModelWorkers(limited, { queuePrefix: prefix });
    const run = Promise.all(workers.map((w) => w.run()));
    const before = fake.log.length;
    try {
      const rs = await runItems([300, 302, 304], 'ratelimit', wfQueue, async (n) => ({ ...(await input(n)), config: { models: limited.models, curation: limited.curation, debate: limited.debate }, queuePrefix: prefix }));
      expect(rs.every((r) => r.consensus && r.score === 7)).toBe(true);
      const at = fake.log.slice(before).filter((r) => r.model === 'fake-target').map((r) => r.at);
      expect(at).toHaveLength(9);
      const spanMs = Math.max(...at) - Math.min(...at);
      console.log(`9 target requests at 2/s: span ${spanMs} ms`);
      expect(spanMs).toBeGreaterThanOrEqual(2500); // 9 requests at 2/s cannot fit in less than ~3.5 s (minus a burst)
    } finally {
      for (const w of workers) w.shutdown();
      await run;
    }
  });

  test('offline roles (no baseURL) go through the same activities: results equal the pure heuristic debate', async () => {
    const offline = parseCampaignConfig({});
    expect(offline.models.agents.map((a) => a.model)).toEqual(['offline-heuristic-entity', 'offline-heuristic-anatomy', 'offline-heuristic-distance']);
    const prefix = `${uniqueQueue('to')}-`;
    const workers = await createModelWorkers(offline, { queuePrefix: prefix });
    const run = Promise.all(workers.map((w) => w.run()));
    const before = fake.log.length;
    try {
      const results = await runItems(OFFLINE_GROUND_TRUTHS.map((_, i) => i), 'offline', wfQueue, async (i) => {
        const gt = OFFLINE_GROUND_TRUTHS[i]!;
        const short = gt.split(' ').length < 4;
        return {
          campaignSeed: 11,
          itemId: `offline-${i}`,
          textKey: await itemText(`offline-${i}`, short ? 'vqa' : 'report', gt, short ? `What is shown in image ${i}?` : undefined),
          kind: short ? 'vqa' : 'report',
          config: { models: offline.models, curation: offline.curation, debate: offline.debate },
          queuePrefix: prefix,
        };
      });
      expect(fake.log.length - before).toBe(0);
      let consensus = 0;
      for (const [i, r] of results.entries()) {
        expect(r.quarantined).toBeUndefined();
        const pair = await artifactStore().getJson<TextPairRecord>(r.pairKey!);
        expect(pair.y_l).not.toBe(pair.y_w);
        const ref = playOfflineDebate({ yl: pair.y_l, groundTruth: OFFLINE_GROUND_TRUTHS[i]!, models: offline.models.agents.map((a) => a.model), rounds: offline.debate.rounds, scale: offline.debate.scale });
        expect(r.score).toBeCloseTo(ref.outcome.score!, 12);
        expect(r.turns).toBe(ref.outcome.turns);
        expect(r.consensus).toBe(ref.outcome.consensus);
        const tr = await artifactStore().getJson<DebateTranscript>(r.transcriptKey!);
        expect(tr.turns.map((t) => t.score)).toEqual(ref.scores);
        expect(tr.turns.every((t) => t.model.startsWith('offline-heuristic-'))).toBe(true);
        if (r.consensus) consensus++;
      }
      console.log(`offline debates: ${consensus}/${results.length} consensus, turns ${results.map((r) => r.turns).join(',')}`);
      expect(consensus).toBeGreaterThan(0); // the heuristics settle some debates…
      expect(consensus).toBeLessThan(results.length); // …and run others to the cap
    } finally {
      for (const w of workers) w.shutdown();
      await run;
    }
  });

  test('the API key value appears in no workflow history, worker log or cached reply (and did reach the endpoint)', async () => {
    expect(fake.authHeaders.length).toBeGreaterThan(0);
    expect(fake.authHeaders.every((h) => h === `Bearer ${KEY}`)).toBe(true);
    // Payload bytes are Buffers whose protobuf toJSON gives base64: walk the history (its payloads
    // decrypted with the process's codec first: encryption is on by default) and decode them.
    const texts = (v: unknown, out: string[]): string[] => {
      if (v instanceof Uint8Array) out.push(Buffer.from(v).toString('utf8'));
      else if (typeof v === 'string') out.push(v);
      else if (v && typeof v === 'object') for (const x of Object.values(v)) texts(x, out);
      return out;
    };
    let withEnvName = 0;
    for (const id of workflowIds) {
      const h = await decodePayloadsIn(await client.client.workflow.getHandle(id).fetchHistory(), payloadCodecs());
      const json = `${JSON.stringify(h)}\n${texts(h, []).join('\n')}`;
      expect(json.includes(KEY)).toBe(false);
      expect(json.includes(KEY.slice(8))).toBe(false);
      if (json.includes(KEY_ENV)) withEnvName++; // positive control: payloads are decoded and greppable
    }
    expect(withEnvName).toBe(workflowIds.filter((id) => !id.includes('-offline-')).length);
    const logs = workerLogs.join('');
    expect(logs).toContain('text worker ready');
    expect(logs.includes(KEY)).toBe(false);
    const replies = await artifactStore().list(`${PREFIX}/model-replies/`);
    expect(replies.length).toBeGreaterThan(50);
    for (const k of replies.slice(0, 40)) expect((await artifactStore().getBytes(k)).toString('utf8').includes(KEY)).toBe(false);
  });
});
