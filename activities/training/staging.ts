// Dataset staging of a training run: the JSONL set and every image it names, from S3 into the run's own
// work dir (never shared with another run), each image decoded once by the canonical rule.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { BadImageError, decodeCanonical } from '../../lib/canonical-image';
import { artifactStore } from '../../lib/env';
import { sha256Hex } from '../../lib/hash';

function extOf(key: string): string {
  const m = /\.[A-Za-z0-9]{1,5}$/.exec(key);
  return m ? m[0].toLowerCase() : '.img';
}

/** A pair (or SFT example) left out of training because of its data, with the reason. */
export interface StagingQuarantine {
  id: string;
  reason: string;
}

/**
 * Download the set and every image it names; rewrite image keys to local paths. Every image is decoded
 * once by the canonical rule (lib/canonical-image.ts, the trainer's rule too): a record whose image x or
 * rejected image x* is missing or does not decode is quarantined with its reason (a data fault of that
 * pair, issue 13) instead of failing the run; a set with no record left fails as TrainingInputError.
 */
export async function stageDataset(datasetKey: string, dir: string, beat: () => void): Promise<{ file: string; records: number; quarantined: StagingQuarantine[] }> {
  const store = artifactStore();
  const raw = await store.tryGetBytes(datasetKey);
  if (!raw) throw ApplicationFailure.nonRetryable(`dataset ${datasetKey} not found in S3`, 'TrainingInputError');
  const text = raw.toString('utf8');
  let records: Record<string, unknown>[];
  try {
    records = text.trimStart().startsWith('[')
      ? (JSON.parse(text) as Record<string, unknown>[])
      : text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>);
  } catch (e) {
    throw ApplicationFailure.nonRetryable(`dataset ${datasetKey}: not JSON lines (${(e as Error).message})`, 'TrainingInputError');
  }
  if (records.length === 0) throw ApplicationFailure.nonRetryable(`dataset ${datasetKey} is empty`, 'TrainingInputError');
  const imgDir = path.join(dir, 'images');
  await fs.promises.mkdir(imgDir, { recursive: true });
  const keys = new Map<string, string>();
  for (const [i, r] of records.entries()) {
    for (const field of ['image', 'rejected_image']) {
      const k = r[field];
      if (k === undefined || k === null) continue;
      if (typeof k !== 'string') throw ApplicationFailure.nonRetryable(`dataset record ${String(r.id ?? i)}: ${field} must be an S3 key`, 'TrainingInputError');
      if (!keys.has(k)) keys.set(k, path.join(imgDir, sha256Hex(Buffer.from(k)).slice(0, 24) + extOf(k)));
    }
  }
  const todo = [...keys.entries()];
  const bad = new Map<string, string>(); // image key → why it cannot be trained on
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < todo.length) {
      const [k, local] = todo[next++];
      const bytes = await store.tryGetBytes(k);
      if (!bytes) {
        bad.set(k, `MissingArtifact: image ${k} not found in S3`);
        continue;
      }
      try {
        await decodeCanonical(bytes);
      } catch (e) {
        if (!(e instanceof BadImageError)) throw e;
        bad.set(k, `BadImage: ${k} does not decode (${e.message})`);
        continue;
      }
      await fs.promises.writeFile(local, bytes);
      if (++done % 50 === 0) beat();
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, todo.length) }, worker));
  const quarantined: StagingQuarantine[] = [];
  const kept = records.filter((r, i) => {
    const why = (['image', 'rejected_image'] as const).map((f) => (typeof r[f] === 'string' && bad.has(r[f] as string) ? `${f === 'image' ? 'image x' : 'rejected image x*'}: ${bad.get(r[f] as string)}` : undefined)).filter(Boolean);
    if (why.length) quarantined.push({ id: String(r.id ?? i), reason: why.join('; ') });
    return !why.length;
  });
  if (!kept.length) throw ApplicationFailure.nonRetryable(`dataset ${datasetKey}: no record left to train on (${quarantined[0]?.reason})`, 'TrainingInputError');
  const out = kept.map((r) => {
    const c = { ...r };
    for (const field of ['image', 'rejected_image']) if (typeof c[field] === 'string') c[field] = keys.get(c[field] as string);
    return JSON.stringify(c);
  });
  const file = path.join(dir, 'data.jsonl');
  await fs.promises.writeFile(file, out.join('\n') + '\n');
  return { file, records: kept.length, quarantined };
}
