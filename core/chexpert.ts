// Rule-based finding labeler for chest X-ray reports: the 14 CheXpert observations.
//
// THIS IS AN APPROXIMATION of the CheXpert labeler (stanfordmlgroup/chexpert-labeler, MIT).
// The original uses mention phrase lists + negation/uncertainty patterns over a dependency
// graph (NegBio). Here, without a parser, we use:
//   1. mention: per observation, phrase lists matched on word tokens (lowercased), minus
//      "unmention" phrases that overlap (e.g. "pericardial effusion" is not a pleural effusion);
//   2. classify each mention with a NegEx-style window inside its sentence (clauses end at
//      . ; : ? ! and at termination words such as "but", "however", "there"):
//        a. uncertainty phrases that contain a negation ("cannot be excluded") → uncertain (-1),
//        b. negation triggers before (≤ 8 tokens; "normal"/"unremarkable" ≤ 2) or after (≤ 5 tokens)
//           the mention → negative (0); negation words inside NegEx pseudo-negations
//           ("no change", "no interval change", …) do not count,
//        c. uncertainty triggers before / after, or "or"/"versus" right next to it → uncertain (-1),
//        d. otherwise positive (1).
//      "Anatomy" mentions (e.g. "heart size", "cardiomediastinal silhouette") are neutral:
//      positive only with an abnormality qualifier nearby ("enlarged", "widened", ...),
//      negative when negated/normal ("heart size is normal"), otherwise no label.
//   3. aggregate per observation over mentions: positive > uncertain > negative > null (blank).
//      No Finding = 1 when no observation other than Support Devices is 1 or -1, else null.
// Pure module (no I/O); reused by the evaluation metrics and the text-curation judge.

export const OBSERVATIONS = [
  'No Finding',
  'Enlarged Cardiomediastinum',
  'Cardiomegaly',
  'Lung Lesion',
  'Lung Opacity',
  'Edema',
  'Consolidation',
  'Pneumonia',
  'Atelectasis',
  'Pneumothorax',
  'Pleural Effusion',
  'Pleural Other',
  'Fracture',
  'Support Devices',
] as const;
export type Observation = (typeof OBSERVATIONS)[number];
export type ChexLabel = 1 | 0 | -1 | null;
export type ChexLabels = Record<Observation, ChexLabel>;

interface ObservationRules {
  /** Phrases that are a finding by themselves (positive unless negated/uncertain). */
  finding: string[];
  /** Neutral anatomy phrases: positive only with an abnormality qualifier nearby. */
  anatomy?: string[];
  /** Phrases that must not count as a mention (overlapping matches are dropped). */
  unmention?: string[];
}

const RULES: Record<Exclude<Observation, 'No Finding'>, ObservationRules> = {
  'Enlarged Cardiomediastinum': {
    finding: ['enlarged cardiomediastinum', 'widened mediastinum', 'mediastinal widening', 'mediastinal enlargement', 'widening of the mediastinum', 'enlargement of the mediastinum', 'mediastinal mass', 'enlarged mediastinum'],
    anatomy: ['cardiomediastinal silhouette', 'cardiomediastinal contour', 'cardiomediastinal contours', 'cardiomediastinal silhouettes', 'mediastinal silhouette', 'mediastinal contour', 'mediastinal contours', 'mediastinum', 'cardiomediastinal', 'hilar contours', 'mediastinal and hilar contours'],
  },
  Cardiomegaly: {
    finding: ['cardiomegaly', 'enlarged heart', 'cardiac enlargement', 'enlargement of the heart', 'enlargement of the cardiac silhouette', 'enlarged cardiac silhouette', 'heart is enlarged', 'cardiac silhouette is enlarged'],
    anatomy: ['heart size', 'cardiac size', 'cardiac silhouette', 'cardiac contour', 'cardiac shadow', 'heart', 'size of the heart'],
  },
  'Lung Lesion': {
    finding: ['mass', 'masses', 'nodule', 'nodules', 'nodular opacity', 'nodular opacities', 'nodular density', 'lesion', 'lesions', 'tumor', 'tumors', 'neoplasm', 'carcinoma', 'cavitary lesion', 'cavitation', 'cavity', 'granuloma', 'granulomas', 'metastasis', 'metastases', 'metastatic disease'],
    unmention: ['mediastinal mass', 'soft tissue mass', 'bone lesion', 'osseous lesion', 'lytic lesion', 'sclerotic lesion', 'blastic lesion', 'skin lesion'],
  },
  'Lung Opacity': {
    finding: ['opacity', 'opacities', 'opacification', 'opacifications', 'infiltrate', 'infiltrates', 'infiltration', 'reticulation', 'reticular', 'scarring', 'scar', 'interstitial markings', 'interstitial marking', 'interstitial disease', 'interstitial lung disease', 'interstitial abnormality', 'airspace disease', 'air-space disease', 'airspace process', 'haziness', 'hazy', 'density', 'densities', 'fibrosis', 'fibrotic', 'ground-glass', 'ground glass'],
    unmention: ['bone density', 'pleural scarring', 'pleural-parenchymal scarring', 'pleural fibrosis', 'nodular opacity', 'nodular opacities', 'nodular density'],
  },
  Edema: {
    finding: ['edema', 'pulmonary edema', 'heart failure', 'chf', 'vascular congestion', 'pulmonary congestion', 'pulmonary vascular congestion', 'vascular prominence', 'cephalization', 'kerley', 'indistinctness of the pulmonary vasculature', 'interstitial edema', 'alveolar edema', 'fluid overload'],
    unmention: ['soft tissue edema', 'subcutaneous edema'],
  },
  Consolidation: {
    finding: ['consolidation', 'consolidations', 'consolidative', 'airspace consolidation', 'consolidated'],
  },
  Pneumonia: {
    finding: ['pneumonia', 'pneumonias', 'infection', 'infections', 'infectious process', 'infectious', 'bronchopneumonia', 'pneumonitis'],
  },
  Atelectasis: {
    finding: ['atelectasis', 'atelectases', 'atelectatic', 'collapse', 'collapsed', 'volume loss', 'loss of volume'],
  },
  Pneumothorax: {
    finding: ['pneumothorax', 'pneumothoraces', 'pneumothoraxes', 'hydropneumothorax'],
  },
  'Pleural Effusion': {
    finding: ['pleural effusion', 'pleural effusions', 'effusion', 'effusions', 'pleural fluid', 'fluid in the pleural space', 'hydropneumothorax', 'hydrothorax'],
    unmention: ['pericardial effusion', 'pericardial effusions', 'joint effusion'],
  },
  'Pleural Other': {
    finding: ['pleural thickening', 'fibrothorax', 'pleural scar', 'pleural scarring', 'pleural fibrosis', 'pleural plaque', 'pleural plaques', 'pleural calcification', 'pleural calcifications', 'pleural-parenchymal scarring', 'pleural parenchymal scarring', 'pleural reaction', 'pleural abnormality'],
  },
  Fracture: {
    finding: ['fracture', 'fractures', 'fractured', 'rib fracture', 'rib fractures', 'compression deformity'],
  },
  'Support Devices': {
    finding: ['pacemaker', 'pacer', 'picc', 'picc line', 'central line', 'central venous catheter', 'catheter', 'catheters', 'tube', 'tubes', 'endotracheal tube', 'et tube', 'ett', 'nasogastric tube', 'ng tube', 'og tube', 'chest tube', 'tracheostomy', 'sternotomy wires', 'sternotomy', 'wires', 'wire', 'lead', 'leads', 'clip', 'clips', 'stent', 'stents', 'device', 'devices', 'hardware', 'drain', 'port', 'port-a-cath', 'portacath', 'icd', 'aicd', 'defibrillator', 'valve replacement', 'prosthetic valve', 'swan-ganz', 'line', 'lines'],
    unmention: ['line of', 'midline', 'lines of'],
  },
};

const NEG_UNCERTAIN = ['cannot exclude', 'cannot be excluded', 'can not exclude', 'can not be excluded', 'not be excluded', 'not excluded', 'cannot rule out', 'can not rule out', 'cannot be ruled out', 'can not be ruled out', 'not ruled out', 'not be ruled out', 'not entirely excluded', 'difficult to exclude', 'not definitely excluded', 'cannot be entirely excluded'];
// Pre-mention negations that only count right before the mention (≤ 2 tokens): "normal heart size".
const PRE_NEG_NEAR = ['normal', 'unremarkable'];
// NegEx pseudo-negations: a negation word inside these phrases does not negate.
const PSEUDO_NEG = ['no change', 'no interval change', 'no significant change', 'no significant interval change', 'no definite change', 'no substantial change', 'no appreciable change', 'no increase', 'no significant increase', 'not only', 'without change', 'without interval change', 'not changed', 'no change in', 'not significantly changed'];
const PRE_NEG = ['no', 'not', 'without', 'negative for', 'free of', 'clear of', 'absence of', 'absent', 'resolution of', 'resolved', 'removal of', 'removed', 'never', 'nor', 'no evidence of', 'no signs of', 'rather than', 'interval resolution of'];
const POST_NEG = ['is normal', 'are normal', 'is unremarkable', 'are unremarkable', 'within normal limits', 'normal in size', 'normal size', 'is not seen', 'are not seen', 'not seen', 'not identified', 'is not identified', 'are not identified', 'not present', 'is absent', 'are absent', 'has resolved', 'have resolved', 'resolved', 'not appreciated', 'not demonstrated', 'not visualized', 'has been removed', 'have been removed', 'removed', 'is negative', 'not enlarged', 'is not enlarged', 'are not enlarged', 'not evident', 'is clear', 'are clear'];
const PRE_UNC = ['possible', 'possibly', 'probable', 'probably', 'likely', 'may', 'might', 'could', 'suspicious for', 'suspected', 'suspect', 'suspicion of', 'suggestive of', 'suggesting', 'suggest', 'suggests', 'concerning for', 'concern for', 'worrisome for', 'question of', 'questionable', 'equivocal', 'borderline', 'versus', 'vs', 'differential', 'rule out', 'evaluate for', 'presumed', 'vague', 'ill-defined', 'cannot', 'indeterminate', 'uncertain'];
const POST_UNC = ['is possible', 'is likely', 'is suspected', 'is questioned', 'may be present', 'is not excluded', 'could be present', 'can not be excluded', 'is questionable', 'is uncertain'];
const QUALIFIERS = ['enlarged', 'enlargement', 'large', 'widened', 'widening', 'prominent', 'prominence', 'increased', 'mildly enlarged', 'moderately enlarged', 'severely enlarged', 'top normal', 'upper limits of normal', 'globular', 'abnormal', 'widen'];
const TERMINATORS = new Set(['but', 'however', 'although', 'though', 'whereas', 'while', 'which', 'except', 'aside', 'apart', 'yet', 'there', 'otherwise', 'though']);
const PRE_WINDOW = 8;
const POST_WINDOW = 5;

type Phrase = string[];
const tok = (s: string): string[] => s.toLowerCase().match(/[a-z0-9]+(?:[-'][a-z0-9]+)*/g) ?? [];
const phrases = (xs: string[]): Phrase[] => xs.map(tok).sort((a, b) => b.length - a.length);

const COMPILED = Object.fromEntries(
  Object.entries(RULES).map(([k, r]) => [k, { finding: phrases(r.finding), anatomy: phrases(r.anatomy ?? []), unmention: phrases(r.unmention ?? []) }]),
) as Record<keyof typeof RULES, { finding: Phrase[]; anatomy: Phrase[]; unmention: Phrase[] }>;
const P = {
  negUnc: phrases(NEG_UNCERTAIN),
  preNeg: phrases(PRE_NEG),
  preNegNear: phrases(PRE_NEG_NEAR),
  pseudo: phrases(PSEUDO_NEG),
  postNeg: phrases(POST_NEG),
  preUnc: phrases(PRE_UNC),
  postUnc: phrases(POST_UNC),
  qual: phrases(QUALIFIERS),
};

function matchAt(toks: string[], i: number, p: Phrase): boolean {
  if (i + p.length > toks.length) return false;
  for (let j = 0; j < p.length; j++) if (toks[i + j] !== p[j]) return false;
  return true;
}

/** All [start, end) occurrences of any phrase in toks. */
function findAll(toks: string[], ps: Phrase[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < toks.length; i++) for (const p of ps) if (matchAt(toks, i, p)) out.push([i, i + p.length]);
  return out;
}

function containsPhrase(toks: string[], lo: number, hi: number, ps: Phrase[], masked?: boolean[]): boolean {
  for (let i = lo; i < hi; i++) {
    if (masked?.[i]) continue;
    for (const p of ps) if (i + p.length <= hi && matchAt(toks, i, p)) return true;
  }
  return false;
}

/** Token positions covered by a pseudo-negation ("no change"), whose negation words are ignored. */
function pseudoMask(toks: string[]): boolean[] {
  const m = new Array<boolean>(toks.length).fill(false);
  for (const [a, b] of findAll(toks, P.pseudo)) for (let i = a; i < b; i++) m[i] = true;
  return m;
}

/** Split into clauses (sentences and ; : breaks), each as word tokens. */
export function clauses(text: string): string[][] {
  return text
    .toLowerCase()
    .split(/(?:\.(?!\d)|[;:?!\n])+/)
    .map(tok)
    .filter((t) => t.length > 0);
}

/** Classify one mention at [s, e) in a clause: 1, 0, -1, or null (neutral anatomy with no qualifier). */
function classify(toks: string[], s: number, e: number, anatomy: boolean, pseudo: boolean[]): ChexLabel {
  let lo = s;
  while (lo > 0 && s - lo < PRE_WINDOW && !TERMINATORS.has(toks[lo - 1])) lo--;
  let hi = e;
  while (hi < toks.length && hi - e < POST_WINDOW && !TERMINATORS.has(toks[hi])) hi++;
  if (containsPhrase(toks, lo, s, P.negUnc) || containsPhrase(toks, e, hi, P.negUnc)) return -1;
  if (containsPhrase(toks, lo, s, P.preNeg, pseudo) || containsPhrase(toks, Math.max(lo, s - 2), s, P.preNegNear) || containsPhrase(toks, e, hi, P.postNeg, pseudo)) return 0;
  // "X or Y" / "X versus Y": the alternative words count only right next to the mention.
  const alt = (t: string | undefined) => t === 'or' || t === 'versus' || t === 'vs';
  const altNear = (s > 0 && alt(toks[s - 1])) || alt(toks[e]);
  if (altNear || containsPhrase(toks, lo, s, P.preUnc) || containsPhrase(toks, e, hi, P.postUnc)) return anatomy && !containsPhrase(toks, lo, hi, P.qual) ? null : -1;
  if (anatomy) return containsPhrase(toks, lo, hi, P.qual) ? 1 : null;
  return 1;
}

const rank = (l: ChexLabel): number => (l === 1 ? 3 : l === -1 ? 2 : l === 0 ? 1 : 0);

/** Label one report. Blank (null) = not mentioned. Never throws; empty text → all null except No Finding = 1. */
export function labelReport(text: string): ChexLabels {
  const out = Object.fromEntries(OBSERVATIONS.map((o) => [o, null])) as ChexLabels;
  const cls = clauses(typeof text === 'string' ? text : '');
  for (const toks of cls) {
    const pseudo = pseudoMask(toks);
    for (const obs of Object.keys(COMPILED) as Array<keyof typeof COMPILED>) {
      const r = COMPILED[obs];
      const blocked = findAll(toks, r.unmention);
      const taken = new Array<boolean>(toks.length).fill(false);
      for (const [a, b] of blocked) for (let i = a; i < b; i++) taken[i] = true;
      const consider = (ps: Phrase[], anatomy: boolean) => {
        for (let i = 0; i < toks.length; i++) {
          if (taken[i]) continue;
          for (const p of ps) {
            if (!matchAt(toks, i, p)) continue;
            let free = true;
            for (let j = i; j < i + p.length; j++) if (taken[j]) free = false;
            if (!free) continue;
            for (let j = i; j < i + p.length; j++) taken[j] = true;
            const l = classify(toks, i, i + p.length, anatomy, pseudo);
            if (rank(l) > rank(out[obs])) out[obs] = l;
            break;
          }
        }
      };
      consider(r.finding, false);
      consider(r.anatomy, true);
    }
  }
  const anyFinding = OBSERVATIONS.some((o) => o !== 'No Finding' && o !== 'Support Devices' && (out[o] === 1 || out[o] === -1));
  out['No Finding'] = anyFinding ? null : 1;
  return out;
}

/** R2Gen's binarization for clinical efficacy: 1 → 1; 0, -1 (uncertain) and blank → 0. */
export function binarize(labels: ChexLabels): Record<Observation, 0 | 1> {
  return Object.fromEntries(OBSERVATIONS.map((o) => [o, labels[o] === 1 ? 1 : 0])) as Record<Observation, 0 | 1>;
}
