/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
// The campaign's HTML report from records in (in-memory) S3, opened in a real headless browser: Debian's
// Chromium (/usr/bin/chromium, infra/setup.sh installs it) driven by playwright-core. The records are
// those a campaign writes: phantom studies' images, D_v pairs made by the real visual branch
// (activities/visual.ts: ONNX tool heatmap, Eq. 2 noise), text pairs and debate transcripts of the
// shapes the text branch stores, shard results, a preference set built and normalized by
// core/preference.ts, trainer metrics and a quarantine list. The browser must find the gallery (≥ 12
// pairs, each with every part, images decoded), the charts, and make no request beyond the file.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { parseCampaignConfig } from '../../core/config';
import type { ItemCuration, MergeResult, ResultsStatistics, ShardResult, TrainOutcome } from '../../core/contracts';
import { evaluateDebate, type DebateTurnRecord } from '../../core/debate';
import { generateStudy } from '../../core/phantom';
import { buildVariantSet, toJsonl, type CuratedPair } from '../../core/preference';
import { encodeGrayPng } from '../../lib/phantom';
import { MemoryStore } from '../helpers/memory-store';

const mockStore = new MemoryStore('fx/');
jest.mock('../../lib/env', () => ({ ...jest.requireActual('../../lib/env'), artifactStore: () => mockStore }));

// After the mock: these modules read S3 through artifactStore().
import { HTML_REPORT_MAX_BYTES, renderCampaignHtml } from '../../activities/campaign-report';
import { drawGallery } from '../../activities/report-curation';
import { curateVisualItem } from '../../activities/visual';

const CHROMIUM = '/usr/bin/chromium';
const SEED = 5;
const STUDIES = 22;

const config = parseCampaignConfig({ name: 'report-fixture', seed: SEED, dataset: { format: 'phantom', root: path.join(os.tmpdir(), 'unused') }, debate: { rounds: 2 } });
const agents = config.models.agents.map((a) => a.model);

/** A debate: consensus on `score` in g turns, or (atCap) differing scores for every turn up to the cap. */
function debateTurns(scores: number[]): DebateTurnRecord[] {
  return scores.map((s, turn) => ({
    turn,
    agent: turn % agents.length,
    model: agents[turn % agents.length]!,
    score: s,
    agree: turn > 0 && s === scores[turn - 1],
    reason: `turn ${turn + 1}: the error is ${s >= 6 ? 'clinically significant' : 'minor'} <b>(escaped)</b>`,
    valid: true,
    latencyMs: 1,
    replyKeys: [],
    promptVersion: 'debate.v1',
  }));
}

interface Fixture {
  input: Parameters<typeof renderCampaignHtml>[1];
  table: Parameters<typeof renderCampaignHtml>[2];
  bothBranches: number;
}

/** Writes a small campaign's records into the memory store; returns what the report activity is given. */
async function writeFixture(): Promise<Fixture> {
  const items: ItemCuration[] = [];
  const text: CuratedPair[] = [];
  const visual: CuratedPair[] = [];
  for (let i = 0; i < STUDIES; i++) {
    const s = generateStudy({ seed: SEED, studies: STUDIES, size: 128, testFraction: 0 }, i);
    const imageKey = (await mockStore.putBytes('images', await encodeGrayPng(s.pixels, s.size, s.size), { ext: '.png' })).key;
    const q = s.questions[0]!;
    const c: ItemCuration = { itemId: s.id, quarantined: [] };
    if (i === STUDIES - 1) {
      // one item lost to the text branch (its reason counted in the quarantine section)
      c.quarantined.push({ itemId: s.id, stage: 'text', reason: `judge offline-heuristic reply invalid after the corrective re-ask: item ${s.id} "index" must be an integer` });
    } else {
      const y_l = /^yes$/i.test(q.answer) ? 'No.' : /^no$/i.test(q.answer) ? 'Yes, a large right-sided mass.' : `Not ${q.answer}; a left apical nodule.`;
      const pairKey = (await mockStore.putJson('text-pairs', { itemId: s.id, kind: 'vqa', question: q.question, imageKey, y_w: q.answer, y_l, source: i % 3 ? 'sampled' : 'generated', conflicts: [`says "${y_l}" where the ground truth says "${q.answer}"`], replyKeys: [] })).key;
      // every 4th debate runs to the cap (2 rounds × 3 agents) without consensus; the others agree on a
      // score spread over the scale, so the z-score clips both ends
      const atCap = i % 4 === 1;
      const turns = debateTurns(atCap ? [2, 9, 4, 8, 3, 7] : Array.from({ length: agents.length }, () => 1 + ((i * 7) % 10)));
      const outcome = evaluateDebate(turns, { agents: agents.length, rounds: config.debate.rounds });
      const transcriptKey = (await mockStore.putJson('debate-transcripts', { itemId: s.id, mode: 'multi', response: y_l, scale: config.debate.scale, agents, rounds: config.debate.rounds, turns, outcome })).key;
      // Half the items carry the transcript's key (a shard that does); the others are found by the report's scan.
      c.text = { pairKey, score: outcome.score!, consensus: outcome.consensus, turns: outcome.turns, atCap: outcome.atCap, source: 'sampled', transcriptKey } as ItemCuration['text'];
      text.push({ id: s.id, branch: 'text', image: imageKey, prompt: q.question, chosen: q.answer, rejected: y_l, score: outcome.score! });
    }
    if (i % 10 !== 9) {
      const v = await curateVisualItem({ seed: SEED, itemId: s.id, imageKey, noise: config.noise, visualTool: config.visualTool });
      c.visual = { pairKey: v.pairKey, confidence: v.summary.s_v };
      visual.push({ id: s.id, branch: 'visual', image: imageKey, rejectedImage: v.summary.noisedImageKey, prompt: q.question, chosen: q.answer, rejected: q.answer, score: v.summary.s_v });
    }
    items.push(c);
  }
  const shards: ShardResult[] = [];
  for (const [start, end] of [
    [0, 12],
    [12, STUDIES],
  ] as const) {
    const part = items.slice(start, end);
    const shardKey = (await mockStore.putJson('shards', { shardStart: start, items: part })).key;
    shards.push({ shardKey, items: part.length, textPairs: part.filter((x) => x.text).length, visualPairs: part.filter((x) => x.visual).length, quarantined: part.filter((x) => x.quarantined.length).length, debatesAtCap: part.filter((x) => x.text?.atCap).length, consensus: part.filter((x) => x.text?.consensus).length, turns: 0 });
  }
  const sets: MergeResult['sets'] = [];
  for (const variant of ['dpo', 'mmedpo'] as const) {
    const set = buildVariantSet(variant, text, visual, [], config.normalization, config.debate.scale);
    const datasetKey = (await mockStore.putBytes('preference-sets', Buffer.from(toJsonl(set.pairs)), { ext: '.jsonl' })).key;
    sets.push({ variant, datasetKey, llavaKey: 'unused', pairs: set.pairs.length, stats: set.stats });
  }
  const quarantineKey = (await mockStore.putJson('quarantine', items.flatMap((x) => x.quarantined).concat([{ itemId: 'phantom-000900', stage: 'ingest', reason: 'bad image images/phantom-000900.png: unsupported image format' }, { itemId: 'phantom-000901', stage: 'ingest', reason: 'bad image images/phantom-000901.png: unsupported image format' }]))).key;
  const trainQuarantineKey = (await mockStore.putJson('training/quarantine', [{ id: 'phantom-000003#visual', reason: 'rejected image fx/visual/noised/ab/abc.png is missing' }])).key;
  const steps = 12;
  const metrics = async (dpo: boolean) =>
    (
      await mockStore.putJson('training/metrics', {
        lossCurve: Array.from({ length: steps }, (_, k) => 0.69 - 0.02 * k),
        stepCurve: Array.from({ length: steps }, (_, k) => k + 1),
        ...(dpo ? { rewardMarginCurve: Array.from({ length: steps }, (_, k) => 0.01 * k), rewardAccuracyCurve: Array.from({ length: steps }, (_, k) => Math.min(1, 0.4 + 0.05 * k)) } : {}),
      })
    ).key;
  const trains: TrainOutcome[] = [
    { variant: 'sft', metricsKey: await metrics(false) },
    { variant: 'dpo', metricsKey: await metrics(true) },
    { variant: 'mmedpo', metricsKey: await metrics(true), quarantined: 1, quarantineKey: trainQuarantineKey },
  ];
  const merge: MergeResult = { sets, sftKey: 'unused', sftItems: STUDIES, quarantineKey, quarantined: 3 };
  const iv = (estimate: number) => ({ estimate, lo: estimate - 4.25, hi: estimate + 3.75 });
  const statistics: ResultsStatistics = {
    method: 'percentile bootstrap',
    resamples: 200,
    confidence: 0.95,
    seed: SEED,
    items: 40,
    strata: [40],
    // fixture_grounding: a metric no RESULTS_COLUMNS entry names; the table must still show it with its interval
    variants: ['base', 'sft', 'dpo', 'mmedpo'].map((variant, k) => ({ variant, seeds: [0, 1], metrics: { open_recall: iv(10 + k), closed_accuracy: iv(50 + k), fixture_grounding: iv(20 + 5 * k) } })),
    comparisons: [],
    notes: [],
  };
  const rows = statistics.variants.map((v) => ({ variant: v.variant, totals: { open_recall: v.metrics.open_recall!.estimate, closed_accuracy: v.metrics.closed_accuracy!.estimate } }));
  return {
    input: { campaignId: 'fx-campaign', config, shards, merge, trains },
    table: { rows, format: 'vqa', statistics, notes: ['a note'] },
    bothBranches: items.filter((x) => x.text && x.visual).length,
  };
}

/** What the page shows of each gallery card and chart (read in the browser, after layout and image decoding). */
interface PageView {
  cards: {
    item: string | null;
    images: { cls: string; decoded: boolean; src: string | null; shown: boolean }[];
    question: string;
    chosen: string;
    rejected: string;
    turns: string[];
    reasons: string[];
    textRaw: string;
    textWeight: string;
    visualRaw: string;
    visualWeight: string;
    badges: string[];
  }[];
  charts: { label: string | null; cls: string | null; bins: number[]; lines: number[]; markers: number; height: number }[];
  resultsHeaders: string[];
  resultsCells: string[];
  quarantine: string[][];
  scripts: number;
}

// Runs in the page (plain JS: the project's TypeScript has no DOM types).
const READ_PAGE = `(() => {
  const txt = (el) => ((el && el.textContent) || '').trim();
  const cards = [...document.querySelectorAll('.gallery article.pair')].map((card) => ({
    item: card.getAttribute('data-item'),
    images: [...card.querySelectorAll('.images figure')].map((f) => {
      const img = f.querySelector('img');
      return { cls: f.className, decoded: !!img && img.complete && img.naturalWidth > 0, src: img ? img.getAttribute('src').slice(0, 23) : null, shown: !!img && img.getBoundingClientRect().width > 0 };
    }),
    question: txt(card.querySelector('.question')).replace(/^Question:\\s*/, ''),
    chosen: txt(card.querySelector('.chosen')).replace(/^Chosen y\\s*w:\\s*/, ''),
    rejected: txt(card.querySelector('.rejected')),
    turns: [...card.querySelectorAll('table.debate tr.turn td.score')].map(txt),
    reasons: [...card.querySelectorAll('table.debate tr.turn td.reason')].map(txt),
    textRaw: txt(card.querySelector('.text-scores .raw-score')),
    textWeight: txt(card.querySelector('.text-scores .weight')),
    visualRaw: txt(card.querySelector('.visual-scores .raw-score')),
    visualWeight: txt(card.querySelector('.visual-scores .weight')),
    badges: [...card.querySelectorAll('.badge')].map(txt),
  }));
  const charts = [...document.querySelectorAll('svg')].map((svg) => ({
    label: svg.getAttribute('aria-label'),
    cls: svg.getAttribute('class'),
    bins: [...svg.querySelectorAll('rect.bin')].map((r) => Number(r.getAttribute('height'))),
    lines: [...svg.querySelectorAll('polyline')].map((p) => (p.getAttribute('points') || '').trim().split(/\\s+/).length),
    markers: svg.querySelectorAll('line.marker').length,
    height: svg.getBoundingClientRect().height,
  }));
  const results = document.querySelector('table.results');
  return {
    cards,
    charts,
    resultsHeaders: results ? [...results.querySelectorAll('th')].map(txt) : [],
    resultsCells: results ? [...results.querySelectorAll('td')].map(txt) : [],
    quarantine: [...document.querySelectorAll('table.quarantine tr.quarantine-reason')].map((tr) => [...tr.querySelectorAll('td')].map(txt)),
    scripts: document.scripts.length,
  };
})()`;

const readPage = async (page: Page): Promise<PageView> => (await page.evaluate(READ_PAGE)) as PageView;

describe('HTML report in a headless browser', () => {
  let fixture: Fixture;
  let html: string;
  let context: BrowserContext;
  let profile: string;
  let reportDir: string;
  const requests: string[] = [];
  let seen: PageView;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run bash infra/setup.sh (it installs Debian's chromium)`);
    fixture = await writeFixture();
    html = await renderCampaignHtml(mockStore, fixture.input, fixture.table);
    reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-report-'));
    const file = path.join(reportDir, 'report.html');
    fs.writeFileSync(file, html);
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-chromium-profile-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1400, height: 1000 },
    });
    const page = await context.newPage();
    // Every request the page makes is recorded; anything but the file itself and its data: URLs is refused.
    await page.route('**/*', (route) => {
      const url = route.request().url();
      requests.push(url);
      return url.startsWith('file://') || url.startsWith('data:') ? route.continue() : route.abort();
    });
    await page.goto(`file://${file}`, { waitUntil: 'load' });
    seen = await readPage(page);
    if (process.env.MMEDPO_REPORT_SCREENSHOT) await page.screenshot({ path: process.env.MMEDPO_REPORT_SCREENSHOT, fullPage: true });
  });
  afterAll(async () => {
    await context?.close();
    for (const dir of [profile, reportDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is one self-contained file under 10 MB: no script, no stylesheet, no URL but data: images, no request', () => {
    expect(Buffer.byteLength(html)).toBeLessThan(HTML_REPORT_MAX_BYTES);
    expect(html).not.toMatch(/<script|<link|<iframe|<object|<embed|url\(/i);
    // every src/href is a data: URL; the only http(s) text is the SVG namespace
    const refs = [...html.matchAll(/\b(?:src|href)\s*=\s*"([^"]*)"/gi)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThanOrEqual(36);
    expect(refs.filter((r) => !r.startsWith('data:image/'))).toEqual([]);
    expect(html.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, '')).not.toMatch(/https?:\/\//);
    expect(seen.scripts).toBe(0);
    expect(requests.filter((u) => !u.startsWith('file://') && !u.startsWith('data:'))).toEqual([]);
  });

  it('shows a gallery of at least 12 curated pairs, each with its images, texts, debate turns, raw scores and weights', () => {
    expect(fixture.bothBranches).toBeGreaterThanOrEqual(16);
    expect(seen.cards.length).toBe(16);
    expect(new Set(seen.cards.map((c) => c.item)).size).toBe(seen.cards.length);
    const num = /^-?\d+\.\d+/;
    for (const c of seen.cards) {
      expect(c.images.map((i) => i.cls)).toEqual(['original', 'heatmap', 'noised']);
      for (const i of c.images) expect(i).toMatchObject({ decoded: true, shown: true, src: 'data:image/jpeg;base64,' });
      expect(c.question.length).toBeGreaterThan(5);
      expect(c.chosen.length).toBeGreaterThan(0);
      expect(c.rejected).toMatch(/^Rejected y\s*l \((sampled|generated)\):\s*\S/);
      expect(c.turns.length).toBeGreaterThanOrEqual(agents.length);
      for (const s of c.turns) expect(s).toMatch(/^\d+$/);
      expect(c.reasons[0]).toContain('<b>(escaped)</b>');
      for (const v of [c.textRaw, c.textWeight, c.visualRaw, c.visualWeight]) expect(v).toMatch(num);
    }
  });

  it('draws clipped and at-cap cases, deterministically from the campaign seed', async () => {
    const badges = seen.cards.flatMap((c) => c.badges);
    expect(badges).toContain('debate at the round cap');
    expect(badges.some((b) => /^text weight clipped (low|high)$/.test(b))).toBe(true);
    expect(badges.some((b) => /^clipped (low|high)$/.test(b))).toBe(true);
    // a capped debate shows all 2 rounds × 3 agents
    const capped = seen.cards.find((c) => c.badges.includes('debate at the round cap'))!;
    expect(capped.turns).toEqual(['2', '9', '4', '8', '3', '7']);
    // same seed → same draw; another seed → another
    const again = await renderCampaignHtml(mockStore, fixture.input, fixture.table);
    const ids = (h: string) => [...h.matchAll(/<article class="pair" id="pair-\d+" data-item="([^"]+)"/g)].map((m) => m[1]);
    expect(ids(again)).toEqual(seen.cards.map((c) => c.item));
    const other = await renderCampaignHtml(mockStore, { ...fixture.input, config: { ...fixture.input.config, seed: SEED + 1 } }, fixture.table);
    expect(ids(other)).not.toEqual(ids(html));
  });

  it('draws score histograms per branch, DPO reward margins and accuracies per step, grounding intervals and quarantine counts', () => {
    const hist = seen.charts.filter((c) => c.cls === 'chart histogram');
    expect(hist.map((c) => c.label)).toEqual(['text: raw score', 'text: normalized weight', 'visual: raw score', 'visual: normalized weight']);
    for (const h of hist) {
      expect(h.height).toBeGreaterThan(100);
      expect(h.bins.some((b) => b > 0)).toBe(true);
    }
    expect(hist.filter((h) => h.markers === 2).map((h) => h.label)).toEqual(['text: normalized weight', 'visual: normalized weight']);
    for (const label of ['DPO reward margin per step', 'DPO reward accuracy per step']) {
      const chart = seen.charts.find((c) => c.label === label);
      expect(chart?.lines).toEqual([12, 12]); // dpo and mmedpo, 12 steps each
    }
    expect(seen.resultsHeaders).toContain('fixture_grounding');
    const col = seen.resultsHeaders.indexOf('fixture_grounding') - 1; // the first header is the Model column
    expect(seen.resultsCells[seen.resultsHeaders.length * 3 + 1 + col]).toBe('35.00 [30.75, 38.75]'); // mmedpo row
    expect(seen.quarantine).toEqual(
      expect.arrayContaining([
        ['ingest', 'bad image <key>: unsupported image format', '2'],
        ['training (mmedpo)', 'rejected image <key> is missing', '1'],
      ]),
    );
    expect(seen.quarantine.find((r) => r[0] === 'text')?.[2]).toBe('1');
  });

  it('drawGallery: the special cases first, up to their quota, then the rest at random', () => {
    const cands = Array.from({ length: 30 }, (_, i) => ({ itemId: `i${String(i).padStart(2, '0')}`, cases: i < 5 ? ['debate at the round cap'] : i < 7 ? ['text weight clipped high'] : [] }));
    const d = drawGallery(cands, 10, 1);
    expect(d).toHaveLength(10);
    // drawn first: both clipped ones, 3 of the 5 at-cap items (the quota); then the rest at random
    expect(d.slice(0, 2).map((x) => x.index).sort()).toEqual([5, 6]);
    expect(d.slice(2, 5).every((x) => x.index < 5)).toBe(true);
    expect(d.filter((x) => x.index >= 7).length).toBeGreaterThanOrEqual(3);
    expect(drawGallery(cands, 10, 1)).toEqual(d);
    expect(drawGallery(cands, 50, 1)).toHaveLength(30);
  });
});
