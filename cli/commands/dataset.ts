import { Command } from 'commander';
import { formatProblem, overlapWarnings, summarize } from '../../core/dataset';
import { FORMATS, loadDataset } from '../../lib/datasets';
import * as path from 'node:path';
import { CampaignIdKey, DatasetKey, StageKey } from '../../core/search-attributes';
import { sha256Hex } from '../../lib/hash';
import type { DatasetManifest } from '../../activities/ingest';
import { artifactStore } from '../../lib/env';
import type { IngestResult } from '../../workflows/ingest';
import { runWorkflow } from '../run-workflow';
import { action, printJson, UserError } from '../util';

export function register(program: Command): Command {
  const dataset = program.command('dataset').description('dataset loaders, validation and ingest');
  dataset
    .command('validate')
    .description('load a dataset, decode every image by the canonical rule and report items, images, answer types, every problem by row, the images that needed a transform and the images/questions shared between splits')
    .requiredOption('--format <format>', `one of ${FORMATS.join(', ')}`)
    .requiredOption('--root <dir>', 'dataset folder')
    .option('--split <split>', 'only this split')
    .option('--language <lang>', 'SLAKE q_lang to keep (default en; "" keeps all)')
    .option('--strict', 'also fail (exit 2) on split-hygiene warnings: images or questions shared between splits')
    .option('--json', 'machine-readable output')
    .action(
      action(async (o: { format: string; root: string; split?: string; language?: string; strict?: boolean; json?: boolean }) => {
        const d = await loadDataset({ format: o.format, root: o.root, split: o.split, language: o.language });
        const s = summarize(d);
        const warnings = overlapWarnings(d.overlap);
        const transformed = d.images.filter((i) => i.transforms.length);
        if (o.json) {
          printJson({ ...s, problems: d.problems, warnings, overlap: d.overlap, transformed: transformed.map((i) => ({ image: i.image, transforms: i.transforms })) });
        } else {
          console.log(`${s.format}: ${s.items} items, ${s.images} images, splits ${s.splits.join(', ')}`);
          console.log(`answer types: ${Object.entries(s.answerTypes).map(([k, v]) => `${k} ${v}`).join(', ') || '-'}`);
          if (transformed.length) {
            console.log(`${transformed.length} image(s) need a transform to the canonical form (8-bit, gray or RGB; lib/canonical-image.ts):`);
            for (const i of transformed) console.log(`  ${i.image}: ${i.transforms.join('; ')}`);
          }
          for (const w of warnings) console.log(`warning: ${w}`);
          for (const p of d.problems) console.log(`problem: ${formatProblem(p)}`);
          console.log(d.problems.length ? `${d.problems.length} problem(s)` : 'no problems');
        }
        if (d.problems.length) throw new UserError(`${d.problems.length} problem(s) in ${o.root}`, 2);
        if (o.strict && warnings.length) throw new UserError(`${warnings.length} split-hygiene warning(s) in ${o.root} (--strict)`, 2);
      }),
    );
  dataset
    .command('ingest')
    .description('durable ingest: upload each image once to S3, write the dataset manifest (bad rows quarantined)')
    .requiredOption('--format <format>', `one of ${FORMATS.join(', ')}`)
    .requiredOption('--root <dir>', 'dataset folder (readable by the workers)')
    .option('--split <split>', 'only this split')
    .option('--language <lang>', 'SLAKE q_lang to keep (default en)')
    .option('--campaign <id>', 'campaign id for the CampaignId search attribute')
    .option('--chunk-size <n>', 'items per ingest chunk', '250')
    .option('--no-worker', 'do not run an in-process worker (use `npx mmedpo worker curation`)')
    .option('--json', 'machine-readable output')
    .action(
      action(async (o: { format: string; root: string; split?: string; language?: string; campaign?: string; chunkSize: string; worker: boolean; json?: boolean }) => {
        if (!(FORMATS as readonly string[]).includes(o.format)) throw new UserError(`unknown format "${o.format}": use one of ${FORMATS.join(', ')}`);
        const root = path.resolve(o.root);
        const workflowId = `ingest-${o.format}-${sha256Hex(`${root}\u0000${o.split ?? ''}\u0000${o.language ?? ''}`).slice(0, 12)}`;
        const { result, url } = await runWorkflow<IngestResult>('ingestWorkflow', {
          workflowId,
          args: [{ format: o.format, root, split: o.split, language: o.language, campaignId: o.campaign, chunkSize: Number(o.chunkSize) }],
          searchAttributes: [
            { key: StageKey, value: 'ingest' },
            { key: DatasetKey, value: o.format },
            ...(o.campaign ? [{ key: CampaignIdKey, value: o.campaign }] : []),
          ],
          staticSummary: `ingest ${o.format} ${path.basename(root)}${o.split ? ` (${o.split})` : ''}`,
          embeddedWorker: o.worker,
          onStarted: (u) => {
            if (!o.json) console.error(`ingest ${workflowId} started${u ? `: ${u}` : ''}`);
          },
        });
        const m = await artifactStore().tryGetJson<Partial<DatasetManifest>>(result.manifestKey);
        const stats = m?.stats;
        if (o.json) return printJson({ workflowId, url, ...result, ...(stats ? { transformedImages: stats.transformedImages, sharedImages: stats.sharedImages, repeatedQuestions: stats.repeatedQuestions } : {}) });
        console.log(`manifest  ${result.manifestKey}`);
        console.log(`items     ${result.items}   images ${result.images}   quarantined ${result.quarantined}`);
        if (stats) console.log(`canonical ${stats.transformedImages} image(s) transformed   split overlap: ${stats.sharedImages} shared image(s), ${stats.repeatedQuestions} repeated question(s)`);
        if (url) console.log(`web ui    ${url}`);
      }),
    );
  return dataset;
}
