// The campaign's last step: results table (Markdown + CSV) with bootstrap intervals and paired
// p-values (core/stats.ts, from each evaluation's per-item scores and predictions in S3, and on a phantom
// set its grounding records: core/grounding.ts), HTML report
// with training curves (loss; DPO reward margins and accuracies per step), the curated pairs, score
// histograms and quarantine counts (activities/report-curation.ts reads them from S3), and the
// campaign manifest — config and its hash, seeds, prompt versions, model ids, package and git
// versions, every artifact key, the results and their statistics.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EvalOutcome, ResultsStatistics } from '../core/contracts';
import { overlapWarnings } from '../core/dataset';
import type { GroundingDocument } from '../core/grounding';
import type { NormalizationStats } from '../core/normalize';
import { parsePredictionsJsonl, type Convention, type ItemScores } from '../core/metrics';
import { renderHtmlReport, renderResultsTable, type TrainingCurve } from '../core/report';
import type { CampaignConfig } from '../core/config';
import { DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, resultsStatistics, type ScoredRun } from '../core/stats';
import { artifactStore } from '../lib/env';
import type { ReportInput } from './campaign';
import type { DatasetManifest } from './ingest';
import { DEFAULT_GALLERY_PAIRS, readCurationForReport, type ReportStore } from './report-curation';

const ROOT = path.resolve(__dirname, '..');

function gitVersion(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

function packageVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of ['@temporalio/worker', '@aws-sdk/client-s3', 'openai', 'sharp', 'onnxruntime-node', 'zod']) {
    try {
      out[p] = (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', p, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      /* not installed */
    }
  }
  try {
    for (const line of fs.readFileSync(path.join(ROOT, 'trainer', 'requirements.txt'), 'utf8').split('\n')) {
      const m = /^([A-Za-z0-9_.-]+)==(\S+)/.exec(line.trim());
      if (m) out[`py:${m[1]}`] = m[2]!;
    }
  } catch {
    /* no trainer */
  }
  out.mmedpo = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  return out;
}

function promptVersions(): Record<string, string> {
  const dir = path.join(ROOT, 'prompts');
  if (!fs.existsSync(dir)) return {};
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.md'))
      .map((f) => {
        const m = /^(.*)\.(v\d+)\.md$/.exec(f);
        return m ? [m[1]!, m[2]!] : [f, 'unversioned'];
      }),
  );
}

/** The seed an evaluation's model was trained with (absent: the campaign seed). */
const seedOf = (e: EvalOutcome, campaignSeed: number) => e.seed ?? campaignSeed;

/** One row per variant: its totals averaged over the seeds it was evaluated with. */
function meanTotals(evals: readonly EvalOutcome[]): { variant: string; totals: Record<string, number> }[] {
  const by = new Map<string, EvalOutcome[]>();
  for (const e of evals) by.set(e.variant, [...(by.get(e.variant) ?? []), e]);
  return [...by.entries()].map(([variant, es]) => {
    const keys = Object.keys(es[0]!.totals).filter((k) => es.every((e) => typeof e.totals[k] === 'number'));
    return { variant, totals: Object.fromEntries(keys.map((k) => [k, es.reduce((a, e) => a + e.totals[k]!, 0) / es.length])) };
  });
}

/**
 * Intervals and paired p-values from the evaluations' stored per-item scores (scorePredictions'
 * document under scoresKey) and their predictions (for the corpus metrics); undefined with no evaluation.
 */
async function evaluationStatistics(input: ReportInput, format: 'vqa' | 'report'): Promise<ResultsStatistics | undefined> {
  if (!input.evals.length) return undefined;
  const store = artifactStore();
  const runs: ScoredRun[] = [];
  for (const e of input.evals) {
    const doc = await store.getJson<{ predictionsKey: string; convention: Convention; items: ItemScores[] }>(e.scoresKey);
    const predictions = parsePredictionsJsonl((await store.getBytes(doc.predictionsKey)).toString('utf8'));
    // phantom sets: the grounding metrics' per-question records, resampled with the same items
    const grounding = e.groundingKey ? (await store.getJson<GroundingDocument>(e.groundingKey)).items : undefined;
    runs.push({ variant: e.variant, seed: seedOf(e, input.config.seed), convention: doc.convention, predictions, perItem: doc.items, ...(grounding ? { grounding } : {}) });
  }
  // A campaign started before evaluation.bootstrap existed carries a config without it: the defaults.
  const b: Partial<CampaignConfig['evaluation']['bootstrap']> = input.config.evaluation.bootstrap ?? {};
  return resultsStatistics(format, runs, { seed: input.config.seed, resamples: b.resamples ?? DEFAULT_RESAMPLES, confidence: b.confidence ?? DEFAULT_CONFIDENCE });
}

/** The HTML report's upper bound (issue 16): one self-contained file that opens anywhere. */
export const HTML_REPORT_MAX_BYTES = 10 * 1024 * 1024;

/** The trainer's metrics.json (trainer/train.py): per-step curves; DPO runs add reward margins and accuracies. */
interface TrainerMetrics {
  lossCurve?: number[];
  loss?: number[];
  stepCurve?: (number | null)[];
  rewardMargin?: number[];
  rewardMarginCurve?: number[];
  rewardAccuracyCurve?: number[];
}

/** Each trained run's curves (label: variant, or variant@seed under training.seeds). */
async function trainingCurves(store: ReportStore, trains: ReportInput['trains']): Promise<TrainingCurve[]> {
  const curves: TrainingCurve[] = [];
  for (const t of trains) {
    if (!t.metricsKey) continue;
    const m = await store.tryGetJson<TrainerMetrics>(t.metricsKey);
    if (!m) continue;
    const steps = m.stepCurve?.every((s): s is number => typeof s === 'number') ? m.stepCurve : undefined;
    curves.push({
      variant: t.seed === undefined ? t.variant : `${t.variant}@${t.seed}`,
      loss: m.lossCurve ?? m.loss ?? [],
      ...(m.rewardMarginCurve ?? m.rewardMargin ? { rewardMargin: m.rewardMarginCurve ?? m.rewardMargin } : {}),
      ...(m.rewardAccuracyCurve ? { rewardAccuracy: m.rewardAccuracyCurve } : {}),
      ...(steps ? { steps } : {}),
    });
  }
  return curves;
}

/**
 * The HTML report of a campaign from its records in S3 (pure reads: nothing is written), with its
 * gallery of `galleryPairs` curated pairs; halves the gallery until the file is under
 * HTML_REPORT_MAX_BYTES (in bytes of UTF-8). `statistics` and `notes` as writeCampaignReport computes them.
 */
export async function renderCampaignHtml(
  store: ReportStore,
  input: Pick<ReportInput, 'campaignId' | 'config' | 'shards' | 'merge' | 'trains'>,
  table: { rows: { variant: string; totals: Record<string, number> }[]; format: 'vqa' | 'report'; statistics?: ResultsStatistics; notes: string[] },
  o: { galleryPairs?: number } = {},
): Promise<string> {
  const curves = await trainingCurves(store, input.trains);
  let galleryPairs = o.galleryPairs ?? DEFAULT_GALLERY_PAIRS;
  for (;;) {
    const curation = await readCurationForReport(store, { config: input.config, shardKeys: input.shards.map((s) => s.shardKey), merge: input.merge, trains: input.trains }, { galleryPairs });
    const html = renderHtmlReport({ title: `MMedPO campaign ${input.campaignId}`, ...table, curves, ...curation });
    if (Buffer.byteLength(html) <= HTML_REPORT_MAX_BYTES || galleryPairs === 0) return html;
    galleryPairs = Math.floor(galleryPairs / 2);
  }
}

/** The normalization of a set's weights per branch, in words (was a raw JSON line). */
function weightNotes(s: ReportInput['merge']['sets'][number]): string[] {
  return (['text', 'visual'] as const).flatMap((branch) => {
    const st = s.stats[branch] as Partial<NormalizationStats> | undefined;
    if (!st || typeof st.n !== 'number') return [];
    const f = (v: number | undefined) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(3) : '–');
    return [`Weights (${s.variant}, ${branch}): ${st.n} pair(s), raw score mean ${f(st.mean)} ± ${f(st.std)} (population std), weight mean ${f(st.weightMean)}; clipped low ${st.clippedLow ?? 0}, high ${st.clippedHigh ?? 0}.`];
  });
}

export async function writeCampaignReport(input: ReportInput): Promise<{ manifestKey: string; reportKeys: { markdown: string; csv: string; html: string }; table: string }> {
  const store = artifactStore();
  const format = input.config.dataset.format === 'r2gen' ? 'report' : 'vqa';
  const rows = meanTotals(input.evals);
  const statistics = await evaluationStatistics(input, format);
  const { markdown, csv } = renderResultsTable(rows, format, statistics);
  const s = input.merge.sets.find((x) => x.variant === 'mmedpo') ?? input.merge.sets[0];
  // Split hygiene of the dataset (issue 14 §5): test scores next to how much the test split leaks.
  const dm = await store.tryGetJson<Partial<DatasetManifest>>(input.ingest.manifestKey);
  const splitHygiene = dm?.overlap ? { sharedImages: dm.overlap.sharedImages.count, sharedImagesBySplit: dm.overlap.sharedImages.bySplit, repeatedQuestions: dm.overlap.repeatedQuestions.count } : null;
  const notes = [
    ...(dm?.overlap ? [`Split hygiene: ${splitHygiene!.sharedImages} image(s) shared between splits, ${splitHygiene!.repeatedQuestions} question(s) repeated across splits on the same image${overlapWarnings(dm.overlap).length ? ' — test scores include items the model may have seen in training' : ''}.`] : []),
    `Campaign ${input.campaignId}, config hash ${input.configHash}, seed ${input.config.seed}.`,
    `Items curated: ${input.shards.reduce((a, r) => a + r.items, 0)}; quarantined: ${input.merge.quarantined} (list: ${input.merge.quarantineKey}).`,
    `Debates: ${input.shards.reduce((a, r) => a + r.textPairs, 0)}, consensus ${input.shards.reduce((a, r) => a + r.consensus, 0)}, at the round cap ${input.shards.reduce((a, r) => a + r.debatesAtCap, 0)}.`,
    ...(s ? weightNotes(s) : []),
    ...input.trains.filter((t) => t.skipped).map((t) => `${t.variant}: not trained — ${t.skipped}`),
    ...input.trains.filter((t) => t.quarantined).map((t) => `${t.variant}${t.seed !== undefined ? `@${t.seed}` : ''}: ${t.quarantined} pair(s) quarantined at training — an image they name is missing or does not decode (list: ${t.quarantineKey}).`),
    ...(input.config.models.target.baseURL ? [] : ['Offline engines (heuristic judge and debate agents) produced the curation; see the README.']),
  ];
  const html = await renderCampaignHtml(store, input, { rows, format, notes, ...(statistics ? { statistics } : {}) });
  const reportKeys = {
    markdown: (await store.putBytes('reports', Buffer.from(markdown), { ext: '.md', contentType: 'text/markdown' })).key,
    csv: (await store.putBytes('reports', Buffer.from(csv), { ext: '.csv', contentType: 'text/csv' })).key,
    html: (await store.putBytes('reports', Buffer.from(html), { ext: '.html', contentType: 'text/html' })).key,
  };
  const artifacts = {
    datasetManifest: input.ingest.manifestKey,
    scan: input.ingest.scanKey,
    shards: input.shards.map((r) => r.shardKey),
    sft: input.merge.sftKey,
    quarantine: input.merge.quarantineKey,
    preferenceSets: Object.fromEntries(input.merge.sets.map((x) => [x.variant, { jsonl: x.datasetKey, llava: x.llavaKey, pairs: x.pairs, stats: x.stats }])),
    // variant, or variant@seed for a run with an explicit training seed (training.seeds)
    adapters: Object.fromEntries(input.trains.filter((t) => t.adapterKey).map((t) => [t.seed === undefined ? t.variant : `${t.variant}@${t.seed}`, { adapter: t.adapterKey, metrics: t.metricsKey, ...(t.quarantineKey ? { quarantine: t.quarantineKey } : {}) }])),
    // One entry per evaluation: the variant's name, or variant@seed for an evaluation with an explicit training seed.
    evaluations: Object.fromEntries(input.evals.map((e) => [e.seed === undefined ? e.variant : `${e.variant}@${e.seed}`, { predictions: e.predictionsKey, scores: e.scoresKey, ...(e.groundingKey ? { grounding: e.groundingKey } : {}) }])),
    reports: reportKeys,
  };
  const manifest = {
    version: 1,
    campaignId: input.campaignId,
    workflowId: input.workflowId,
    rerunOf: input.rerunOf ?? null,
    configHash: input.configHash,
    config: input.config,
    seeds: { campaign: input.config.seed, ...(input.config.training.seeds ? { training: input.config.training.seeds } : {}) },
    models: {
      target: input.config.models.target.model,
      judge: input.config.models.judge.model,
      agents: input.config.models.agents.map((a) => a.model),
      base: input.config.training.baseModel ?? `tiny-llava (seed ${input.config.seed})`,
    },
    promptVersions: promptVersions(),
    versions: { git: gitVersion(), packages: packageVersions() },
    artifacts,
    splitHygiene,
    // Totals per variant (mean over its seeds), and their intervals and paired p-values.
    results: Object.fromEntries(rows.map((r) => [r.variant, r.totals])),
    statistics: statistics ?? null,
  };
  const manifestKey = (await store.putJson('campaigns', manifest)).key;
  // A stable pointer per campaign id, for `campaign report` on a machine without the history.
  await store.putJsonAt(store.namedKey(`campaigns/by-id/${input.campaignId}.json`), { manifestKey });
  return { manifestKey, reportKeys, table: markdown };
}
