// A small rule-based finding extractor for the offline engines (no model): clinical findings with
// laterality and negation, per sentence, plus a conflict check against a ground truth. It is a
// heuristic stand-in for a labeler; it does not depend on core/chexpert.ts.

/** Findings the extractor knows, with surface forms; the first form is canonical. */
export const FINDINGS: Record<string, string[]> = {
  pneumonia: ['pneumonia', 'infection'],
  consolidation: ['consolidation', 'consolidations', 'airspace disease'],
  effusion: ['pleural effusion', 'effusions', 'effusion'],
  pneumothorax: ['pneumothorax'],
  cardiomegaly: ['cardiomegaly', 'enlarged heart', 'enlarged cardiac silhouette'],
  atelectasis: ['atelectasis', 'atelectatic'],
  edema: ['pulmonary edema', 'edema', 'vascular congestion'],
  nodule: ['nodule', 'nodules'],
  mass: ['mass', 'masses', 'tumor', 'tumour', 'lesion'],
  fracture: ['fracture', 'fractures'],
  opacity: ['opacity', 'opacities', 'infiltrate', 'infiltrates'],
  emphysema: ['emphysema', 'hyperinflation'],
  fibrosis: ['fibrosis', 'scarring'],
  hemorrhage: ['hemorrhage', 'haemorrhage', 'bleed', 'hematoma'],
  infarct: ['infarct', 'infarction', 'stroke', 'ischemia'],
  calcification: ['calcification', 'calcified', 'calcifications'],
  cyst: ['cyst', 'cysts'],
  abscess: ['abscess'],
  obstruction: ['obstruction', 'dilated bowel'],
  hernia: ['hernia'],
};

/** A plausible wrong neighbour for each finding (used by the perturbation engine). */
export const NEIGHBOURS: Record<string, string[]> = {
  pneumonia: ['atelectasis', 'edema'],
  consolidation: ['atelectasis', 'mass'],
  effusion: ['pneumothorax', 'consolidation'],
  pneumothorax: ['effusion', 'emphysema'],
  cardiomegaly: ['effusion', 'edema'],
  atelectasis: ['pneumonia', 'consolidation'],
  edema: ['pneumonia', 'fibrosis'],
  nodule: ['mass', 'calcification'],
  mass: ['cyst', 'abscess'],
  fracture: ['calcification', 'lesion'],
  opacity: ['nodule', 'consolidation'],
  emphysema: ['fibrosis', 'pneumothorax'],
  fibrosis: ['edema', 'emphysema'],
  hemorrhage: ['infarct', 'mass'],
  infarct: ['hemorrhage', 'cyst'],
  calcification: ['nodule', 'mass'],
  cyst: ['abscess', 'mass'],
  abscess: ['cyst', 'mass'],
  obstruction: ['hernia', 'mass'],
  hernia: ['obstruction', 'mass'],
};

export const ANATOMY = ['lung', 'lobe', 'base', 'apex', 'hilum', 'hilar', 'pleura', 'pleural', 'heart', 'cardiac', 'mediastinum', 'mediastinal', 'diaphragm', 'rib', 'spine', 'kidney', 'liver', 'brain', 'bowel', 'colon', 'abdomen', 'chest', 'lobar', 'ventricle', 'aorta', 'trachea', 'costophrenic', 'hemidiaphragm'];

const NEGATION = /\b(no|without|negative for|free of|absent|not|resolved|clear of)\b/i;

export type Laterality = 'left' | 'right' | 'bilateral' | null;

export interface Finding {
  finding: string;
  laterality: Laterality;
  negated: boolean;
  /** The sentence it came from. */
  sentence: string;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const FORM_RE: [string, RegExp][] = Object.entries(FINDINGS).flatMap(([f, forms]) => forms.map((form) => [f, new RegExp(`\\b${escapeRe(form)}\\b`, 'i')] as [string, RegExp]));

export function sentences(text: string): string[] {
  return text
    .split(/(?<=[.!?;])\s+|\n+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export function lateralityOf(s: string): Laterality {
  const l = /\bleft\b/i.test(s);
  const r = /\bright\b/i.test(s);
  if (/\bbilateral(ly)?\b|\bboth\b/i.test(s) || (l && r)) return 'bilateral';
  return l ? 'left' : r ? 'right' : null;
}

/** Findings per sentence, with laterality and negation (a negation cue before the finding in its clause). */
export function extractFindings(text: string): Finding[] {
  const out: Finding[] = [];
  for (const sentence of sentences(text)) {
    const seen = new Set<string>();
    for (const [f, re] of FORM_RE) {
      if (seen.has(f)) continue;
      const m = re.exec(sentence);
      if (!m) continue;
      seen.add(f);
      const before = sentence.slice(0, m.index);
      const clause = before.split(/[,;]|\bbut\b|\bhowever\b/i).pop() ?? before;
      out.push({ finding: f, laterality: lateralityOf(sentence), negated: NEGATION.test(clause), sentence });
    }
  }
  return out;
}

/** Clinical entities mentioned (findings + anatomy words), for the heuristic scorers. */
export function entities(text: string): { findings: string[]; anatomy: string[] } {
  const findings = [...new Set(extractFindings(text).map((f) => f.finding))];
  const lower = text.toLowerCase();
  const anatomy = ANATOMY.filter((a) => new RegExp(`\\b${a}\\b`).test(lower));
  return { findings, anatomy };
}

const YES = /^\s*(yes|yeah|true|present)\b/i;
const NO = /^\s*(no|false|absent|none|normal)\b/i;

/** Conflicts of a candidate with the ground truth: findings asserted vs denied, laterality, yes/no, short-answer mismatch. */
export function findConflicts(groundTruth: string, candidate: string): string[] {
  const conflicts: string[] = [];
  const gtShort = groundTruth.trim().split(/\s+/).length <= 4;
  if (gtShort) {
    const gy = YES.test(groundTruth), gn = NO.test(groundTruth);
    const cy = YES.test(candidate), cn = NO.test(candidate);
    if ((gy && cn) || (gn && cy)) conflicts.push(`answers "${candidate.trim()}" where the ground truth is "${groundTruth.trim()}"`);
  }
  const gt = extractFindings(groundTruth);
  const cand = extractFindings(candidate);
  const gtBy = new Map(gt.map((f) => [f.finding, f]));
  for (const c of cand) {
    const g = gtBy.get(c.finding);
    if (!g) {
      if (!c.negated) conflicts.push(`reports ${c.finding}${c.laterality ? ` (${c.laterality})` : ''}, absent from the ground truth`);
      continue;
    }
    if (g.negated !== c.negated) conflicts.push(`${c.negated ? 'denies' : 'asserts'} ${c.finding}, which the ground truth ${g.negated ? 'denies' : 'reports'}`);
    else if (!c.negated && g.laterality && c.laterality && g.laterality !== c.laterality) conflicts.push(`${c.finding} on the ${c.laterality} instead of the ${g.laterality}`);
  }
  const candBy = new Set(cand.map((f) => f.finding));
  for (const g of gt) if (!g.negated && !candBy.has(g.finding)) conflicts.push(`omits ${g.finding}`);
  if (gtShort && !conflicts.length) {
    const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9 ]/g, '').trim();
    if (norm(groundTruth) !== norm(candidate) && !(YES.test(groundTruth) && YES.test(candidate)) && !(NO.test(groundTruth) && NO.test(candidate))) {
      conflicts.push(`answers "${candidate.trim()}" where the ground truth is "${groundTruth.trim()}"`);
    }
  }
  return conflicts;
}
