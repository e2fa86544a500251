// `mmedpo campaign compare ID1 ID2 […] [--json]`: finished campaigns side by side — their results
// tables aligned (same metrics, same variants, intervals and paired p-values where recorded), the
// config difference (exactly the fields that differ, as paths with their values) and the artifact
// keys that differ. Reads each campaign's result from Temporal (the workflow's result payload,
// decoded by the client's data converter: no worker needed) and its manifest from S3.
//
// The comparison itself (compareCampaigns, renderComparison) is pure: data in, data/text out.
import type { Command } from 'commander';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { CampaignResult, MetricInterval, PairedComparison, ResultsStatistics } from '../../core/contracts';
import { cellOf, comparisonLabel, formatCell, formatDifference, GROUNDING_COLUMNS, orderRows, RESULTS_COLUMNS, resultsColumns, variantLabel, type ResultsColumn, type ResultsFormat } from '../../core/report';
import { artifactStore } from '../../lib/env';
import { connectClient } from '../../lib/temporal';
import { action, printJson, UserError } from '../util';

/** What compare needs of one finished campaign: its manifest's config, artifacts, results and statistics. */
export interface CampaignSnapshot {
  campaignId: string;
  configHash: string;
  config: unknown;
  format: ResultsFormat;
  /** The manifest's artifact keys (dataset manifest, shards, SFT data, preference sets, adapters, evaluations, reports). */
  artifacts: Record<string, unknown>;
  /** Totals per variant (mean over its seeds). */
  results: Record<string, Record<string, number>>;
  /** Intervals and paired p-values; null for a campaign reported before they existed. */
  statistics: ResultsStatistics | null;
}

/** A field that differs: its path (a.b[2].c) and its value in each campaign, in the order given; `absentIn`: campaigns without it. */
export interface FieldDifference {
  path: string;
  values: unknown[];
  absentIn?: string[];
}

export type Cell = MetricInterval | { estimate: number } | null;

export interface CampaignComparison {
  campaigns: { id: string; label: string; configHash: string; format: ResultsFormat }[];
  /** Exactly the config fields that differ (leaf paths); empty when the configs are equal. */
  config: FieldDifference[];
  /** Artifact keys (string leaves of the manifests' artifacts, the reports left out: they name their campaign). */
  artifacts: { same: string[]; different: FieldDifference[] };
  table: {
    columns: { header: string; key: string; decimals?: number }[];
    /** Per variant (paper order), per campaign (in order), per column. */
    rows: { variant: string; label: string; cells: Cell[][] }[];
    comparisons: { variant: string; baseline: string; label: string; cells: ((MetricInterval & { p: number }) | null)[][] }[];
  };
  /** Every cell (estimate, interval, p) equal across the campaigns. */
  tablesEqual: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Leaf paths of a JSON value: objects as a.b, arrays as a[0]; an empty object or array is a leaf. */
export function flattenPaths(value: unknown, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (Array.isArray(value) && value.length) value.forEach((v, i) => flattenPaths(v, `${prefix}[${i}]`, out));
  else if (isObject(value) && Object.keys(value).length) for (const [k, v] of Object.entries(value)) flattenPaths(v, prefix ? `${prefix}.${k}` : k, out);
  else out.set(prefix, value);
  return out;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The leaf paths whose values are not all equal (a path missing somewhere counts as different), in first-seen order. */
export function differingPaths(values: readonly unknown[], ids: readonly string[]): FieldDifference[] {
  const flat = values.map((v) => flattenPaths(v));
  const paths = [...new Set(flat.flatMap((f) => [...f.keys()]))];
  const out: FieldDifference[] = [];
  for (const p of paths) {
    const vs = flat.map((f) => f.get(p));
    const absent = flat.flatMap((f, i) => (f.has(p) ? [] : [ids[i]!]));
    if (!absent.length && vs.every((v) => same(v, vs[0]))) continue;
    out.push({ path: p, values: vs, ...(absent.length ? { absentIn: absent } : {}) });
  }
  return out;
}

const label = (i: number) => (i < 26 ? String.fromCharCode(65 + i) : `C${i + 1}`);
const cellsEqual = (a: Cell | (MetricInterval & { p?: number }), b: Cell | (MetricInterval & { p?: number })) => {
  if (!a || !b) return a === b;
  const near = (x?: number, y?: number) => (x === undefined || y === undefined ? x === y : Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x)));
  const ai = a as MetricInterval & { p?: number };
  const bi = b as MetricInterval & { p?: number };
  return near(ai.estimate, bi.estimate) && near(ai.lo, bi.lo) && near(ai.hi, bi.hi) && near(ai.p, bi.p);
};

/** Compare two or more finished campaigns (pure). */
export function compareCampaigns(snaps: readonly CampaignSnapshot[]): CampaignComparison {
  if (snaps.length < 2) throw new UserError('compare needs at least two campaign ids');
  const ids = snaps.map((s) => s.campaignId);
  const config = differingPaths(
    snaps.map((s) => s.config),
    ids,
  );
  const keysOnly = (a: Record<string, unknown>) => {
    const { reports: _reports, ...rest } = a ?? {};
    return new Map([...flattenPaths(rest)].filter(([, v]) => typeof v === 'string'));
  };
  const keyMaps = snaps.map((s) => keysOnly(s.artifacts));
  const artifactPaths = [...new Set(keyMaps.flatMap((m) => [...m.keys()]))];
  const artifacts = differingPaths(
    keyMaps.map((m) => Object.fromEntries(m)),
    ids,
  );
  const differing = new Set(artifacts.map((d) => d.path));
  const formats = [...new Set(snaps.map((s) => s.format))];
  // Each format's columns, then the grounding columns (phantom sets) that any campaign's own table shows.
  const shown = new Set(snaps.flatMap((s) => resultsColumns(s.format, Object.entries(s.results).map(([variant, totals]) => ({ variant, totals })), s.statistics ?? undefined).map((c) => c.key)));
  const columns: ResultsColumn[] = [...formats.flatMap((f) => RESULTS_COLUMNS[f]), ...GROUNDING_COLUMNS.filter((c) => shown.has(c.key))];
  const variants = orderRows([...new Set(snaps.flatMap((s) => [...Object.keys(s.results), ...(s.statistics?.variants.map((v) => v.variant) ?? [])]))].map((variant) => ({ variant })));
  const rows = variants.map(({ variant }) => ({
    variant,
    label: variantLabel(variant),
    cells: snaps.map((s) => columns.map((c) => (s.results[variant] || s.statistics?.variants.some((v) => v.variant === variant) ? (cellOf(c, { variant, totals: s.results[variant] ?? {} }, s.statistics ?? undefined) ?? null) : null))),
  }));
  const pairs = new Map<string, PairedComparison>();
  for (const s of snaps) for (const c of s.statistics?.comparisons ?? []) pairs.set(`${c.variant}\u0000${c.baseline}`, c);
  const comparisons = [...pairs.values()].map((pc) => ({
    variant: pc.variant,
    baseline: pc.baseline,
    label: comparisonLabel(pc),
    cells: snaps.map((s) => columns.map((c) => s.statistics?.comparisons.find((x) => x.variant === pc.variant && x.baseline === pc.baseline)?.metrics[c.key] ?? null)),
  }));
  const tablesEqual =
    rows.every((r) => r.cells.every((cs) => cs.every((x, j) => cellsEqual(x, r.cells[0]![j]!)))) &&
    comparisons.every((r) => r.cells.every((cs) => cs.every((x, j) => cellsEqual(x, r.cells[0]![j]!))));
  return {
    campaigns: snaps.map((s, i) => ({ id: s.campaignId, label: label(i), configHash: s.configHash, format: s.format })),
    config,
    artifacts: { same: artifactPaths.filter((p) => !differing.has(p)), different: artifacts },
    table: { columns: columns.map((c) => ({ header: c.header, key: c.key, ...(c.decimals !== undefined ? { decimals: c.decimals } : {}) })), rows, comparisons },
    tablesEqual,
  };
}

const show = (v: unknown) => (v === undefined ? '(absent)' : typeof v === 'string' ? v : JSON.stringify(v));

/** "datasetManifest, scan, shards[×4], preferenceSets.mmedpo.jsonl, …": paths with their indices collapsed. */
function summarizePaths(paths: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const p of paths) {
    const k = p.replace(/\[\d+\]/g, '[]');
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => (k.includes('[]') ? `${k.replace(/\[\]/g, '')}[×${n}]` : k)).join(', ');
}

/** The comparison as text: campaigns, the tables side by side (a row per variant per campaign), the config diff, the artifact keys that differ. */
export function renderComparison(c: CampaignComparison): string {
  const out: string[] = [];
  for (const k of c.campaigns) out.push(`${k.label}  ${k.id}  (config ${k.configHash.slice(0, 12)}, ${k.format})`);
  out.push('', '## Results', '');
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  out.push(`| Model | Campaign | ${c.table.columns.map((x) => esc(x.header)).join(' | ')} |`, `|---|---|${c.table.columns.map(() => '---:').join('|')}|`);
  for (const r of c.table.rows) c.campaigns.forEach((k, i) => out.push(`| ${i === 0 ? esc(r.label) : ''} | ${k.label} | ${r.cells[i]!.map((x, j) => formatCell(x ?? undefined, c.table.columns[j]!.decimals)).join(' | ')} |`));
  if (c.table.comparisons.length) {
    out.push(`| *paired difference [CI], p* | |${c.table.columns.map(() => ' ').join('|')}|`);
    for (const r of c.table.comparisons) c.campaigns.forEach((k, i) => out.push(`| ${i === 0 ? esc(r.label) : ''} | ${k.label} | ${r.cells[i]!.map((x, j) => formatDifference(x ?? undefined, c.table.columns[j]!.decimals)).join(' | ')} |`));
  }
  out.push('', c.tablesEqual ? 'Tables: equal.' : 'Tables: differ.');
  out.push('', '## Config', '');
  if (!c.config.length) out.push('no difference');
  for (const d of c.config) out.push(`${d.path}: ${d.values.map(show).join(' → ')}`);
  out.push('', '## Artifacts', '');
  out.push(`same in all: ${c.artifacts.same.length ? summarizePaths(c.artifacts.same) : 'none'}`);
  if (!c.artifacts.different.length) out.push('different: none (reports left out: they name their campaign)');
  for (const d of c.artifacts.different) {
    out.push(`${d.path}:`);
    c.campaigns.forEach((k, i) => out.push(`  ${k.label}  ${show(d.values[i])}`));
  }
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------- reading finished campaigns

interface Manifest {
  campaignId: string;
  configHash: string;
  config: { dataset?: { format?: string } } & Record<string, unknown>;
  artifacts: Record<string, unknown>;
  results: Record<string, Record<string, number>>;
  statistics?: ResultsStatistics | null;
}

/** A finished campaign's snapshot: its result from Temporal (decoded by the client's data converter), its manifest from S3. */
export async function loadSnapshot(client: Client, id: string): Promise<CampaignSnapshot> {
  const h = client.workflow.getHandle(id);
  let status: string;
  try {
    status = (await h.describe()).status.name;
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) throw new UserError(`no campaign ${id}`);
    throw e;
  }
  if (status !== 'COMPLETED') throw new UserError(`campaign ${id} is ${status}; compare reads finished campaigns (\`npx mmedpo campaign status ${id}\`)`);
  const result = (await h.result()) as CampaignResult;
  const m = await artifactStore().getJson<Manifest>(result.manifestKey);
  return {
    campaignId: id,
    configHash: m.configHash,
    config: m.config,
    format: m.config.dataset?.format === 'r2gen' ? 'report' : 'vqa',
    artifacts: m.artifacts ?? {},
    results: m.results ?? {},
    statistics: m.statistics ?? null,
  };
}

export function registerCompare(c: Command): void {
  c.command('compare')
    .description('finished campaigns side by side: results tables aligned, the config difference, the artifact keys that differ (no worker needed)')
    .argument('<ids...>', 'two or more campaign ids')
    .option('--json', 'machine-readable output')
    .action(
      action(async (ids: string[], o: { json?: boolean }) => {
        if (ids.length < 2) throw new UserError('compare needs at least two campaign ids');
        const client = await connectClient();
        let snaps: CampaignSnapshot[];
        try {
          snaps = [];
          for (const id of ids) snaps.push(await loadSnapshot(client, id));
        } finally {
          await client.connection.close();
        }
        const cmp = compareCampaigns(snaps);
        if (o.json) return printJson(cmp);
        process.stdout.write(renderComparison(cmp));
      }),
    );
}
