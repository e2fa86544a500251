// The grounding testbed of an evaluation on a phantom set, staged from S3: the training worker may be another
// machine than the one that generated the set, so it never reads the campaign's local phantom root. Ingest
// stored the ground truth (DatasetManifest.phantom: phantom.json, the question files, every image's lesion
// mask); this writes a phantom root for `python -m trainer ground` (trainer/grounding.py load_testbed:
// phantom.json, testset.json or trainset.json, images/, masks/) holding the split's questions that the
// manifest kept (a quarantined item is not graded here either), each with its canonical image and its mask.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveInside, UnsafePathError } from '../../lib/datasets';
import { artifactStore } from '../../lib/env';
import type { DatasetManifest } from '../ingest';

export interface StagedTestbed {
  /** The phantom root to hand `trainer ground --phantom`. */
  root: string;
  /** The split as the trainer names it (train | test). */
  split: 'train' | 'test';
  /** Questions staged. */
  questions: number;
  /** The trainer's question id (qid) → the manifest item id (what the predictions and scores are keyed by). */
  idOf: Map<number, string>;
}

/** Where a phantom-relative path lands in the staged root; undefined for one that would leave it (the project's
 *  one rule, lib/datasets resolveInside). */
function stagedPath(dir: string, rel: unknown): string | undefined {
  if (typeof rel !== 'string' || !rel) return undefined;
  try {
    return resolveInside(dir, rel);
  } catch (e) {
    if (e instanceof UnsafePathError) return undefined;
    throw e;
  }
}

interface PhantomStudy {
  image: string;
  mask: string;
}

/**
 * Stages the testbed of `split` from a phantom set's manifest into dir; undefined when there is none to grade
 * (not a phantom set, a manifest ingested before the ground truth was stored, a split the trainer does not
 * know, or no question left with its image and mask).
 */
export async function stagePhantomTestbed(m: DatasetManifest, split: string, dir: string): Promise<StagedTestbed | undefined> {
  if (m.format !== 'phantom' || !m.phantom || (split !== 'test' && split !== 'train')) return undefined;
  const questionsFile = split === 'train' ? 'trainset.json' : 'testset.json';
  const pjKey = m.phantom.files['phantom.json'];
  const qKey = m.phantom.files[questionsFile];
  if (!pjKey || !qKey) return undefined;
  const store = artifactStore();
  await fs.promises.mkdir(dir, { recursive: true });
  const pjBytes = await store.getBytes(pjKey);
  const pj = JSON.parse(pjBytes.toString('utf8')) as { items: PhantomStudy[] };
  const rows = JSON.parse((await store.getBytes(qKey)).toString('utf8')) as { qid: number; image_name: string }[];
  const studyOf = new Map(pj.items.map((s) => [path.posix.basename(s.image), s]));
  const itemOf = new Map(m.items.filter((i) => i.split === split && i.kind === 'vqa').map((i) => [String(i.sourceIds.qid), i]));
  const kept: typeof rows = [];
  const idOf = new Map<number, string>();
  const written = new Set<string>();
  const write = async (file: string, key: string) => {
    if (written.has(file)) return;
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    await fs.promises.writeFile(file, await store.getBytes(key));
    written.add(file);
  };
  for (const r of rows) {
    const item = itemOf.get(String(r.qid));
    const study = studyOf.get(r.image_name);
    const maskKey = study ? m.phantom.masks[study.mask] : undefined;
    // a study whose paths would leave the staged root is not graded
    const imageFile = study && stagedPath(dir, study.image);
    const maskFile = study && stagedPath(dir, study.mask);
    if (!item || !maskKey || !item.imageKeys[0] || !imageFile || !maskFile) continue;
    await write(imageFile, item.imageKeys[0]);
    await write(maskFile, maskKey);
    kept.push(r);
    idOf.set(r.qid, item.id);
  }
  if (!kept.length) return undefined;
  await fs.promises.writeFile(path.join(dir, 'phantom.json'), pjBytes);
  await fs.promises.writeFile(path.join(dir, questionsFile), JSON.stringify(kept));
  return { root: dir, split, questions: kept.length, idOf };
}
