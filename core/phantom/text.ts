// Radiology-style reports and VQA questions for phantom studies, from the exact findings.
// Phrasing varies by seeded draws; the facts never do.
import { Rng, seededRng } from '../rng';
import { Finding, FINDING_NAMES, Side } from './catalogue';

function sideWord(s: Finding['side']): string {
  return s === 'bilateral' ? 'bilateral' : (s as Side);
}

function gradeWord(f: Finding): string {
  if (f.type === 'cardiomegaly') return f.grade === 'small' ? 'mild' : f.grade === 'moderate' ? 'moderate' : 'severe';
  return f.grade!;
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function positiveSentence(f: Finding, r: Rng): string {
  switch (f.type) {
    case 'nodule':
      return r.pick([
        `There is a ${f.sizeMm} mm nodule in the ${f.lobe}.`,
        `A ${f.sizeMm} mm rounded nodular opacity projects over the ${f.lobe}.`,
        `${cap(f.lobe!)} nodule measuring ${f.sizeMm} mm.`,
      ]);
    case 'mass':
      return r.pick([
        `There is a ${f.sizeMm} mm mass in the ${f.lobe}.`,
        `A lobulated ${f.sizeMm} mm mass is seen in the ${f.lobe}.`,
        `${cap(f.lobe!)} mass measuring ${f.sizeMm} mm.`,
      ]);
    case 'effusion':
      return f.side === 'bilateral'
        ? r.pick([`There are ${f.grade} bilateral pleural effusions.`, `${cap(f.grade!)} bilateral pleural effusions with blunting of both costophrenic angles.`])
        : r.pick([`There is a ${f.grade} ${f.side} pleural effusion.`, `${cap(f.grade!)} ${f.side} pleural effusion with blunting of the ${f.side} costophrenic angle.`]);
    case 'cardiomegaly':
      return r.pick([
        `The heart is enlarged (${gradeWord(f)} cardiomegaly), cardiothoracic ratio ${f.ctr!.toFixed(2)}.`,
        `${cap(gradeWord(f))} cardiomegaly.`,
        `The cardiac silhouette is ${gradeWord(f) === 'mild' ? 'mildly' : gradeWord(f) === 'moderate' ? 'moderately' : 'severely'} enlarged.`,
      ]);
    case 'pneumothorax':
      return r.pick([
        `There is a ${f.grade} ${f.side} pneumothorax.`,
        `${cap(f.grade!)} ${f.side}-sided pneumothorax with a visible pleural line.`,
      ]);
    case 'consolidation':
      return r.pick([
        `There is consolidation in the ${f.lobe}.`,
        `Patchy airspace consolidation in the ${f.lobe}.`,
        `Focal consolidation is seen in the ${f.lobe}.`,
      ]);
  }
}

export function reportFor(seed: number | string, studyId: string, findings: Finding[]): string {
  const r = seededRng(seed, studyId, 'phantom-report');
  const has = (t: Finding['type']) => findings.some((f) => f.type === t);
  const sentences: string[] = findings.map((f) => positiveSentence(f, r));
  const negatives: string[] = [];
  if (!has('cardiomegaly')) negatives.push(r.pick(['The heart size is normal.', 'Cardiomediastinal silhouette is within normal limits.', 'Normal heart size.']));
  if (!has('consolidation')) negatives.push(r.pick(['No focal consolidation.', 'There is no focal airspace consolidation.', 'The lungs are clear without consolidation.']));
  if (!has('nodule') && !has('mass')) negatives.push(r.pick(['No pulmonary nodules or masses.', 'No suspicious pulmonary nodule or mass.']));
  const pe = has('effusion'), ptx = has('pneumothorax');
  if (!pe && !ptx) negatives.push(r.pick(['No pleural effusion or pneumothorax.', 'There is no pleural effusion or pneumothorax.']));
  else if (!pe) negatives.push('No pleural effusion.');
  else if (!ptx) negatives.push('No pneumothorax.');
  negatives.push(r.pick(['The osseous structures are unremarkable.', 'No acute osseous abnormality.', 'Bony thorax is intact.']));
  const findingsText = [...sentences, ...negatives].join(' ');
  let impression: string;
  if (!findings.length) impression = r.pick(['No acute cardiopulmonary abnormality.', 'Normal chest radiograph.', 'No acute cardiopulmonary process.']);
  else
    impression = findings
      .map((f) => {
        switch (f.type) {
          case 'nodule':
          case 'mass':
            return `${cap(f.lobe!)} ${f.type} (${f.sizeMm} mm).`;
          case 'effusion':
            return `${cap(f.grade!)} ${f.side === 'bilateral' ? 'bilateral pleural effusions' : `${f.side} pleural effusion`}.`;
          case 'cardiomegaly':
            return `${cap(gradeWord(f))} cardiomegaly.`;
          case 'pneumothorax':
            return `${cap(f.grade!)} ${f.side} pneumothorax.`;
          case 'consolidation':
            return `${cap(f.lobe!)} consolidation.`;
        }
      })
      .join(' ');
  return `FINDINGS: ${findingsText} IMPRESSION: ${impression}`;
}

export interface PhantomQuestion {
  question: string;
  answer: string;
  answerType: 'OPEN' | 'CLOSED';
  /** VQA-RAD question types: PRES, ABN, POS, SIZE, … */
  questionType: string;
  /**
   * The planted text prior (TextPrior) on this question: 'aligned' — its wording is the one that cues its
   * answer; 'counter' — the wording cues the other answer; absent — no prior planted on it (open
   * questions, or a set generated without one).
   */
  prior?: 'aligned' | 'counter';
}

/**
 * A text prior planted in the phantom set (issue 16 §2): a shortcut in the question wording that predicts
 * a closed answer, which a model can learn instead of reading the image. Every closed question (PRES and
 * ABN) has two wordings; wording 0 is the cue for "yes", wording 1 the cue for "no". In the train split a
 * question gets the wording that cues its own answer with probability `strength` (else the other one);
 * in the test split it always gets the wording that cues the *other* answer (the counter-prior split), so
 * answering from the wording scores 0 there and only the image gives the answer. The answers, the
 * findings and every other draw are unchanged: the prior only chooses between two wordings of one
 * question, with its own stream seededRng(seed, studyId, 'phantom-text-prior').
 */
export interface TextPrior {
  /** P(cue wording | answer) in the train split, in [0.5, 1]; 0.5 plants no shortcut. */
  strength: number;
}

// q[0] is the wording that cues "yes" under a TextPrior, q[1] the one that cues "no".
const PRESENCE: { type: Finding['type']; q: [string, string] }[] = [
  { type: 'effusion', q: ['Is there a pleural effusion?', 'Is there fluid in the pleural space?'] },
  { type: 'cardiomegaly', q: ['Is the heart enlarged?', 'Is there cardiomegaly?'] },
  { type: 'pneumothorax', q: ['Is there a pneumothorax?', 'Is there air in the pleural space?'] },
  { type: 'nodule', q: ['Is there a lung nodule?', 'Is a pulmonary nodule present?'] },
  { type: 'mass', q: ['Is there a lung mass?', 'Is a mass present in the lungs?'] },
  { type: 'consolidation', q: ['Is there consolidation?', 'Is there an airspace opacity?'] },
];

const NORMAL_WORDINGS: [string, string] = ['Is this a normal chest x-ray?', 'Is this chest radiograph normal?'];

/**
 * 2–3 closed and 1–3 open questions per study, answers exact from the findings. With `prior` (and the
 * study's split) the closed questions' wordings carry the planted text prior (TextPrior); without it the
 * output is the same as before priors existed.
 */
export function questionsFor(seed: number | string, studyId: string, findings: Finding[], prior?: { textPrior: TextPrior; split: 'train' | 'test' }): PhantomQuestion[] {
  const r = seededRng(seed, studyId, 'phantom-questions');
  const pr = prior ? seededRng(seed, studyId, 'phantom-text-prior') : undefined;
  /** The closed question's wording: the seeded draw, or under a prior the cue (train: w.p. strength) or the anti-cue (test). */
  const closed = (wordings: [string, string], answer: 'yes' | 'no'): Pick<PhantomQuestion, 'question' | 'prior'> => {
    const drawn = r.pick(wordings); // always drawn, so the draws after it are those of a set without a prior
    if (!prior || !pr) return { question: drawn };
    const cue = answer === 'yes' ? 0 : 1;
    const aligned = prior.split === 'train' ? pr.next() < prior.textPrior.strength : false;
    return { question: wordings[aligned ? cue : 1 - cue], prior: aligned ? 'aligned' : 'counter' };
  };
  const out: PhantomQuestion[] = [];
  const byType = new Map(findings.map((f) => [f.type, f]));
  // Closed: one about a present finding (when any), one about an absent one, and the normal/abnormal one.
  const present = PRESENCE.filter((p) => byType.has(p.type));
  const absent = PRESENCE.filter((p) => !byType.has(p.type));
  if (present.length) {
    const p = r.pick(present);
    out.push({ ...closed(p.q, 'yes'), answer: 'yes', answerType: 'CLOSED', questionType: 'PRES' });
  }
  if (absent.length) {
    const p = r.pick(absent);
    out.push({ ...closed(p.q, 'no'), answer: 'no', answerType: 'CLOSED', questionType: 'PRES' });
  }
  out.push({
    ...closed(NORMAL_WORDINGS, findings.length ? 'no' : 'yes'),
    answer: findings.length ? 'no' : 'yes',
    answerType: 'CLOSED',
    questionType: 'ABN',
  });
  // Open: what, where, which side, how large.
  out.push({
    question: r.pick(['What is the abnormality?', 'What abnormality is seen?', 'What is the main finding?']),
    answer: findings.length ? findings.map((f) => FINDING_NAMES[f.type]).join(' and ') : 'none',
    answerType: 'OPEN',
    questionType: 'ABN',
  });
  const focal = findings.find((f) => f.lobe);
  if (focal) {
    out.push({ question: `Where is the ${focal.type === 'consolidation' ? 'consolidation' : focal.type} located?`, answer: focal.lobe!, answerType: 'OPEN', questionType: 'POS' });
  }
  const sided = findings.find((f) => (f.type === 'effusion' || f.type === 'pneumothorax') && f.side);
  if (sided) {
    out.push({ question: `Which side is the ${FINDING_NAMES[sided.type]} on?`, answer: sideWord(sided.side), answerType: 'OPEN', questionType: 'POS' });
  }
  const sized = findings.find((f) => f.sizeMm !== undefined || f.grade !== undefined);
  if (sized) {
    const answer = sized.sizeMm !== undefined ? `${sized.sizeMm} mm` : gradeWord(sized);
    out.push({ question: `How large is the ${FINDING_NAMES[sized.type].replace('cardiomegaly', 'heart enlargement')}?`, answer, answerType: 'OPEN', questionType: 'SIZE' });
  }
  return out;
}
