// What the campaign curated, read back from S3 for the HTML report (core/report.ts renders it): a
// deterministic gallery of curated pairs with their images embedded as downscaled data: URLs, the raw and
// normalized scores per branch, and the quarantine reasons counted.
//
// Only keys reach here (the shard results' ItemCuration: text/visual pair keys and scores); every
// record is read from S3 in this activity, so nothing of it travels through workflow history. Shapes
// read (unchanged by the keys-only refactor):
//   shard result      {shardStart, items: ItemCuration[]}
//   text pair         {itemId, kind, question?, imageKey?, y_w, y_l, source, conflicts, replyKeys}
//   debate transcript {itemId, mode, response, scale, agents, rounds, turns: TranscriptTurn[], outcome}
//   visual pair       activities/visual.ts VisualPairRecord (imageKey, noisedImageKey, heatmapKey, mask, s_v)
//   preference set    JSONL of core/preference.ts TrainerPair ({id: "<item>#text|visual", weight, …})
//   quarantine        QuarantineRecord[] (merge), StagingQuarantine[] {id, reason} (training)
// The transcript's key is the item's curation's (`text.transcriptKey`).
import sharp from 'sharp';
import type { CampaignConfig } from '../core/config';
import { VARIANT_SPECS, type ItemCuration, type MergeResult, type QuarantineRecord, type TrainOutcome } from '../core/contracts';
import type { TranscriptTurn } from './text';
import { promptOf, type TrainerPair } from '../core/preference';
import type { GalleryPair, QuarantineCount, ReportGallery, ScoreDistribution } from '../core/report';
import { seededRng } from '../core/rng';
import type { ArtifactStore } from '../lib/storage';

/** The reads the report makes (ArtifactStore's; a test passes an in-memory store). */
export type ReportStore = Pick<ArtifactStore, 'getJson' | 'tryGetJson' | 'tryGetBytes' | 'list' | 'namedKey'>;

/** Pairs the gallery shows by default: enough to see the spread, small enough for the 10 MB budget (≈ 25 KB a pair). */
export const DEFAULT_GALLERY_PAIRS = 16;
/** Longest side of an embedded image, in pixels (phantom images are 128–256). */
export const THUMBNAIL_PX = 168;

interface TextPairRecord {
  itemId: string;
  kind: 'vqa' | 'report';
  question?: string;
  imageKey?: string;
  y_w: string;
  y_l: string;
  source?: string;
  conflicts?: string[];
}

interface DebateTranscriptRecord {
  itemId: string;
  mode: 'multi' | 'single';
  response: string;
  scale: { min: number; max: number };
  agents: string[];
  rounds: number;
  turns: TranscriptTurn[];
  outcome: { score?: number; consensus: boolean; atCap: boolean; turns: number; rounds: number };
}

interface VisualPairRecordView {
  imageKey: string;
  noisedImageKey: string;
  heatmapKey: string;
  mask?: { coverage?: number };
  s_v?: number;
}

/** An item's curation as a shard stores it. */
type ShardItem = ItemCuration;

export interface CurationReport {
  gallery?: ReportGallery;
  scores: ScoreDistribution[];
  quarantine: QuarantineCount[];
}

/** Every item's curation, in shard order. */
async function readShards(store: ReportStore, shardKeys: readonly string[]): Promise<ShardItem[]> {
  const out: ShardItem[] = [];
  for (const key of shardKeys) out.push(...(await store.getJson<{ items: ShardItem[] }>(key)).items);
  return out;
}

/**
 * The set whose weights the report shows: mmedpo, else the first with normalized weights on both
 * branches, else on any branch, else the first set.
 */
function weightSet(sets: MergeResult['sets']): MergeResult['sets'][number] | undefined {
  const crs = (s: MergeResult['sets'][number]) => VARIANT_SPECS[s.variant]?.weights === 'crs';
  return sets.find((s) => s.variant === 'mmedpo') ?? sets.find((s) => crs(s) && VARIANT_SPECS[s.variant]?.text && VARIANT_SPECS[s.variant]?.visual) ?? sets.find(crs) ?? sets[0];
}

/** Pair id ("<item>#text" | "<item>#visual") → weight, from the set's JSONL. */
async function readWeights(store: ReportStore, datasetKey: string): Promise<Map<string, number>> {
  const bytes = await store.tryGetBytes(datasetKey);
  const out = new Map<string, number>();
  if (!bytes) return out;
  for (const line of bytes.toString('utf8').split('\n')) {
    if (!line.trim()) continue;
    const p = JSON.parse(line) as Pick<TrainerPair, 'id' | 'weight'>;
    out.set(p.id, p.weight);
  }
  return out;
}

/** Which side a weight was clipped on: at α or β exactly (z-score mode only; raw weights are never clipped). */
function clipSide(w: number | undefined, norm: CampaignConfig['normalization']): 'low' | 'high' | undefined {
  if (w === undefined || norm.mode !== 'zscore') return undefined;
  if (w <= norm.alpha) return 'low';
  if (w >= norm.beta) return 'high';
  return undefined;
}

/**
 * The gallery's draw, deterministic from `seed`: candidates sorted by item id; first up to `quota`
 * of each special case (text weight clipped high, clipped low, visual weight clipped, debate at the
 * round cap) in a seeded order, then the rest at random, up to `size`. Returns indices into the
 * candidates with why each was drawn.
 */
export function drawGallery(
  candidates: ReadonlyArray<{ itemId: string; cases: readonly string[] }>,
  size: number,
  seed: number,
  quota = 3,
): { index: number; why: string[] }[] {
  const rng = seededRng(seed, 'report', 'gallery');
  const order = candidates.map((c, i) => ({ c, i })).sort((a, b) => (a.c.itemId < b.c.itemId ? -1 : a.c.itemId > b.c.itemId ? 1 : a.i - b.i));
  const picked = new Map<number, string[]>();
  const caseNames = ['text weight clipped high', 'text weight clipped low', 'visual weight clipped high', 'visual weight clipped low', 'debate at the round cap'];
  for (const name of caseNames) {
    const members = rng.shuffle(order.filter((x) => x.c.cases.includes(name)).map((x) => x.i));
    let taken = 0;
    for (const i of members) {
      if (picked.size >= size || taken >= quota) break;
      if (picked.has(i)) continue;
      picked.set(i, [...candidates[i]!.cases]);
      taken++;
    }
  }
  for (const { i } of rng.shuffle([...order])) {
    if (picked.size >= size) break;
    if (!picked.has(i)) picked.set(i, candidates[i]!.cases.length ? [...candidates[i]!.cases] : ['random']);
  }
  return [...picked].map(([index, why]) => ({ index, why }));
}

// ---------------------------------------------------------------- images

/** A JPEG data: URL of `bytes` downscaled to THUMBNAIL_PX (never enlarged); undefined when it does not decode. */
async function thumbnail(bytes: Buffer | undefined): Promise<string | undefined> {
  if (!bytes) return undefined;
  try {
    const jpg = await sharp(bytes).resize(THUMBNAIL_PX, THUMBNAIL_PX, { fit: 'inside', withoutEnlargement: true }).flatten({ background: '#000' }).jpeg({ quality: 80 }).toBuffer();
    return `data:image/jpeg;base64,${jpg.toString('base64')}`;
  } catch {
    return undefined;
  }
}

/** The "jet" colour map at t ∈ [0, 1] (blue → cyan → yellow → red), as 0–255 RGB. */
function jet(t: number): [number, number, number] {
  const c = (x: number) => Math.round(255 * Math.max(0, Math.min(1, x)));
  return [c(1.5 - Math.abs(4 * t - 3)), c(1.5 - Math.abs(4 * t - 2)), c(1.5 - Math.abs(4 * t - 1))];
}

/**
 * The heatmap (8-bit, min-max normalized, at the tool's resolution) resized onto the image and blended
 * over its grey levels in the jet map, opacity rising with the heat (cold regions show the image), as a
 * JPEG data: URL; undefined when either does not decode.
 */
async function heatmapOverlay(imageBytes: Buffer | undefined, heatBytes: Buffer | undefined): Promise<string | undefined> {
  if (!imageBytes || !heatBytes) return undefined;
  try {
    const base = await sharp(imageBytes).resize(THUMBNAIL_PX, THUMBNAIL_PX, { fit: 'inside', withoutEnlargement: true }).greyscale().raw().toBuffer({ resolveWithObject: true });
    const { width, height } = base.info;
    const heat = await sharp(heatBytes).greyscale().resize(width, height, { fit: 'fill' }).raw().toBuffer();
    const rgb = Buffer.alloc(width * height * 3);
    for (let i = 0; i < width * height; i++) {
      const g = base.data[i * base.info.channels]!;
      const h = heat[i]! / 255;
      const a = 0.65 * h;
      const col = jet(h);
      for (let k = 0; k < 3; k++) rgb[i * 3 + k] = Math.round(g * (1 - a) + col[k]! * a);
    }
    const jpg = await sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: 80 }).toBuffer();
    return `data:image/jpeg;base64,${jpg.toString('base64')}`;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- quarantine

/** A reason with its item-specific parts (S3 keys, paths, hashes, numbers) replaced, so equal causes count together. */
export function reasonClass(reason: string): string {
  return reason
    .replace(/\s+/g, ' ')
    .replace(/\b[\w.-]*\/[\w./-]+/g, '<key>')
    .replace(/\b[0-9a-f]{16,}\b/gi, '<hash>')
    .replace(/\b\d+(\.\d+)?\b/g, 'N')
    .trim()
    .slice(0, 200);
}

function countReasons(records: ReadonlyArray<{ stage: string; reason: string }>): QuarantineCount[] {
  const by = new Map<string, QuarantineCount>();
  for (const r of records) {
    const reason = reasonClass(r.reason);
    const k = `${r.stage}\u0000${reason}`;
    const c = by.get(k) ?? { stage: r.stage, reason, count: 0 };
    c.count++;
    by.set(k, c);
  }
  return [...by.values()];
}

// ---------------------------------------------------------------- the whole

/**
 * Reads the campaign's curation back from S3 and builds the report's gallery (`galleryPairs` items with
 * a text and a visual pair, drawn from the campaign seed; none when there is no such item), the score
 * distributions per branch and the quarantine counts (merge + training). Missing records leave their part
 * out ("not found" in the card); a shard or pair record that is missing fails (S3 lost the campaign).
 */
export async function readCurationForReport(
  store: ReportStore,
  input: { config: CampaignConfig; shardKeys: readonly string[]; merge: MergeResult; trains: readonly TrainOutcome[] },
  o: { galleryPairs?: number } = {},
): Promise<CurationReport> {
  const cfg = input.config;
  const items = await readShards(store, input.shardKeys);
  const set = weightSet(input.merge.sets);
  const weights = set ? await readWeights(store, set.datasetKey) : new Map<string, number>();
  const norm = cfg.normalization;
  const clip = norm.mode === 'zscore' ? { alpha: norm.alpha, beta: norm.beta } : undefined;

  // Scores per branch: raw from the curation, normalized from the set's weights of the same pairs.
  const scores: ScoreDistribution[] = [];
  const text = items.filter((i) => i.text);
  const visual = items.filter((i) => i.visual);
  const weightsOf = (xs: ShardItem[], branch: string) => xs.map((i) => weights.get(`${i.itemId}#${branch}`)).filter((w): w is number => w !== undefined);
  if (text.length) scores.push({ branch: 'text', raw: text.map((i) => i.text!.score), rawRange: cfg.debate.scale, normalized: weightsOf(text, 'text'), ...(clip ? { clip } : {}) });
  if (visual.length) scores.push({ branch: 'visual', raw: visual.map((i) => i.visual!.confidence), rawRange: { min: 0, max: 1 }, normalized: weightsOf(visual, 'visual'), ...(clip ? { clip } : {}) });

  // Quarantine: the merge's list (ingest + curation) and each training run's.
  const records: { stage: string; reason: string }[] = [];
  const merged = await store.tryGetJson<QuarantineRecord[]>(input.merge.quarantineKey);
  records.push(...(merged ?? []).map((q) => ({ stage: q.stage, reason: q.reason })));
  for (const t of input.trains) {
    if (!t.quarantineKey) continue;
    const list = await store.tryGetJson<{ id: string; reason: string }[]>(t.quarantineKey);
    records.push(...(list ?? []).map((q) => ({ stage: `training (${t.variant})`, reason: q.reason })));
  }
  const quarantine = countReasons(records);

  // The gallery: items with both pairs, special cases first.
  const candidates = items
    .filter((i) => i.text && i.visual)
    .map((i) => {
      const tw = weights.get(`${i.itemId}#text`);
      const vw = weights.get(`${i.itemId}#visual`);
      const cases: string[] = [];
      const tc = clipSide(tw, norm);
      const vc = clipSide(vw, norm);
      if (tc) cases.push(`text weight clipped ${tc}`);
      if (vc) cases.push(`visual weight clipped ${vc}`);
      if (i.text!.atCap) cases.push('debate at the round cap');
      return { item: i, itemId: i.itemId, cases, tw, vw, tc, vc };
    });
  const size = o.galleryPairs ?? DEFAULT_GALLERY_PAIRS;
  if (!candidates.length || size <= 0) return { scores, quarantine };
  const drawn = drawGallery(candidates, size, cfg.seed);

  const records1 = await Promise.all(
    drawn.map(async ({ index }) => {
      const c = candidates[index]!;
      const [tp, vp] = await Promise.all([store.getJson<TextPairRecord>(c.item.text!.pairKey), store.getJson<VisualPairRecordView>(c.item.visual!.pairKey)]);
      const transcript = c.item.text!.transcriptKey ? await store.tryGetJson<DebateTranscriptRecord>(c.item.text!.transcriptKey) : undefined;
      return { c, tp, vp, transcript };
    }),
  );

  const pairs: GalleryPair[] = [];
  for (const [k, { c, tp, vp, transcript }] of records1.entries()) {
    const [imageBytes, heatBytes, noisedBytes] = await Promise.all([store.tryGetBytes(vp.imageKey), store.tryGetBytes(vp.heatmapKey), store.tryGetBytes(vp.noisedImageKey)]);
    const [original, heatmap, noised] = await Promise.all([thumbnail(imageBytes), heatmapOverlay(imageBytes, heatBytes), thumbnail(noisedBytes)]);
    const t = transcript;
    const ct = c.item.text!;
    pairs.push({
      itemId: c.itemId,
      question: promptOf({ kind: tp.kind, question: tp.question }),
      chosen: tp.y_w,
      rejected: tp.y_l,
      ...(tp.source ? { source: tp.source } : {}),
      conflicts: tp.conflicts ?? [],
      images: { original, heatmap, noised },
      text: { rawScore: ct.score, scale: t?.scale ?? cfg.debate.scale, weight: c.tw, clipped: c.tc, consensus: ct.consensus, atCap: ct.atCap, turns: ct.turns },
      visual: { confidence: c.item.visual!.confidence, weight: c.vw, clipped: c.vc, coverage: vp.mask?.coverage },
      ...(t
        ? {
            debate: {
              agents: t.agents,
              rounds: t.rounds,
              turns: t.turns.map((x) => ({ turn: x.turn, agent: x.agent, model: x.model, score: x.score, agree: x.agree, reason: x.reason, valid: x.valid, ...(x.invalid ? { invalid: x.invalid } : {}) })),
              outcome: { score: t.outcome.score, consensus: t.outcome.consensus, atCap: t.outcome.atCap, turns: t.outcome.turns },
            },
          }
        : {}),
      why: drawn[k]!.why,
    });
  }
  return { gallery: { pairs, candidates: candidates.length, seed: cfg.seed, ...(set ? { weightsOf: set.variant } : {}) }, scores, quarantine };
}
