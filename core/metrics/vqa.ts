// Med-VQA metrics, LLaVA-Med v1.0.0 conventions (llava/eval/run_eval.py + eval_metrics/utils.py).
//
// normalizeAnswer(s): lowercase; for each punctuation mark p of ; / [ ] " { } ( ) = + \ _ - > < @ ` , ? !
//   remove p when it is next to a space (or the text has a digit,digit pattern), else replace it
//   by a space; remove periods not followed by a digit (first 32, see PERIOD_STRIP); whitespace split; number words
//   none/zero..ten → 0..10; drop articles a/an/the; expand VQA contractions; join with ' ';
//   remove remaining commas.
// openRecall(pred, gt): tokens of both (after normalization); tp = Σ over words in both of the
//   PREDICTION's count (LLaVA-Med's rule: repeated words inflate tp), fn = Σ over gt words
//   missing from the prediction of their gt count; recall = tp/(tp+fn); 0 for an empty
//   prediction or tp = 0.
// closedLlavaMed(pred, gt): hit (1) iff "yes" or "no" occurs as a substring of the normalized
//   prediction AND the normalized gt occurs in it as a substring; else 0. As published —
//   "normal" contains "no", so it counts as a "no" answer.
// closedStrict(pred, gt): for yes/no answers, the FIRST token of the normalized prediction that
//   is exactly "yes" or "no" must equal the answer; for other closed answers, the answer's
//   tokens must occur as a contiguous whole-token run in the prediction.
// closedSubstring(pred, gt) (`mmedpo-release`): hit iff normalized gt is a substring of the
//   normalized prediction (and gt is non-empty).

const PUNCT = [';', '/', '[', ']', '"', '{', '}', '(', ')', '=', '+', '\\', '_', '-', '>', '<', '@', '`', ',', '?', '!'];
const COMMA_STRIP = /(\d)(,)(\d)/;
// VQA's periodStrip is "(?!<=\d)(\.)(?!\d)" — the intended look-behind is a (vacuous) look-ahead,
// so it removes periods not FOLLOWED by a digit; it is called as sub("", s, re.UNICODE), which
// passes re.UNICODE (= 32) as `count`: at most 32 periods are removed. Both quirks reproduced.
const PERIOD_STRIP = /\.(?!\d)/g;
const MANUAL_MAP: Record<string, string> = {
  none: '0', zero: '0', one: '1', two: '2', three: '3', four: '4', five: '5', six: '6', seven: '7', eight: '8', nine: '9', ten: '10',
};
const ARTICLES = new Set(['a', 'an', 'the']);
// VQA evaluation's contraction table (apostrophe-less spellings → canonical form).
const CONTRACTIONS: Record<string, string> = {
  aint: "ain't", arent: "aren't", cant: "can't", couldve: "could've", couldnt: "couldn't", "couldn'tve": "couldn't've",
  "couldnt've": "couldn't've", didnt: "didn't", doesnt: "doesn't", dont: "don't", hadnt: "hadn't", "hadnt've": "hadn't've",
  "hadn'tve": "hadn't've", hasnt: "hasn't", havent: "haven't", hed: "he'd", "hed've": "he'd've", "he'dve": "he'd've",
  hes: "he's", howd: "how'd", howll: "how'll", hows: "how's", "Id've": "I'd've", "I'dve": "I'd've", Im: "I'm", Ive: "I've",
  isnt: "isn't", itd: "it'd", "itd've": "it'd've", "it'dve": "it'd've", itll: "it'll", "let's": "let's", maam: "ma'am",
  mightnt: "mightn't", "mightnt've": "mightn't've", "mightn'tve": "mightn't've", mightve: "might've", mustnt: "mustn't",
  mustve: "must've", neednt: "needn't", notve: "not've", oclock: "o'clock", oughtnt: "oughtn't", "ow's'at": "'ow's'at",
  "'ows'at": "'ow's'at", "'ow'sat": "'ow's'at", shant: "shan't", "shed've": "she'd've", "she'dve": "she'd've",
  "she's": "she's", shouldve: "should've", shouldnt: "shouldn't", "shouldnt've": "shouldn't've", "shouldn'tve": "shouldn't've",
  "somebody'd": 'somebodyd', "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've", somebodyll: "somebody'll",
  somebodys: "somebody's", someoned: "someone'd", "someoned've": "someone'd've", "someone'dve": "someone'd've",
  someonell: "someone'll", someones: "someone's", somethingd: "something'd", "somethingd've": "something'd've",
  "something'dve": "something'd've", somethingll: "something'll", thats: "that's", thered: "there'd",
  "thered've": "there'd've", "there'dve": "there'd've", therere: "there're", theres: "there's", theyd: "they'd",
  "theyd've": "they'd've", "they'dve": "they'd've", theyll: "they'll", theyre: "they're", theyve: "they've",
  twas: "'twas", wasnt: "wasn't", "wed've": "we'd've", "we'dve": "we'd've", weve: "we've", werent: "weren't",
  whatll: "what'll", whatre: "what're", whats: "what's", whatve: "what've", whens: "when's", whered: "where'd",
  wheres: "where's", whereve: "where've", whod: "who'd", "whod've": "who'd've", "who'dve": "who'd've", wholl: "who'll",
  whos: "who's", whove: "who've", whyll: "why'll", whyre: "why're", whys: "why's", wont: "won't", wouldve: "would've",
  wouldnt: "wouldn't", "wouldnt've": "wouldn't've", "wouldn'tve": "wouldn't've", yall: "y'all", "yall'll": "y'all'll",
  "y'allll": "y'all'll", "yall'd've": "y'all'd've", "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've", youd: "you'd",
  "youd've": "you'd've", "you'dve": "you'd've", youll: "you'll", youre: "you're", youve: "you've",
};

/** LLaVA-Med normalize_word (applied to already-lowercased text, as run_eval.py does). */
export function normalizeAnswer(text: string): string {
  let token = (typeof text === 'string' ? text : '').toLowerCase();
  let t = token;
  const commaNum = COMMA_STRIP.test(token);
  for (const p of PUNCT) {
    if (token.includes(p + ' ') || token.includes(' ' + p) || commaNum) t = t.split(p).join('');
    else t = t.split(p).join(' ');
  }
  let removed = 0;
  token = t.replace(PERIOD_STRIP, (m) => (removed++ < 32 ? '' : m));
  const words: string[] = [];
  for (let w of token.split(/\s+/).filter(Boolean)) {
    w = MANUAL_MAP[w] ?? w;
    if (!ARTICLES.has(w)) words.push(w);
  }
  for (let i = 0; i < words.length; i++) if (Object.prototype.hasOwnProperty.call(CONTRACTIONS, words[i])) words[i] = CONTRACTIONS[words[i]];
  return words.join(' ').split(',').join('');
}

function countWords(s: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const w of s.trim().split(/\s+/).filter(Boolean)) m.set(w, (m.get(w) ?? 0) + 1);
  return m;
}

/** LLaVA-Med open-ended recall of one prediction (inputs raw; normalized here, twice as published — idempotent). */
export function openRecall(prediction: string, answer: string): number {
  const cand = countWords(normalizeAnswer(normalizeAnswer(prediction)));
  const ref = countWords(normalizeAnswer(normalizeAnswer(answer)));
  if (cand.size === 0) return 0;
  let tp = 0;
  let fn = 0;
  for (const [w, c] of cand) if (ref.has(w)) tp += c;
  for (const [w, c] of ref) if (!cand.has(w)) fn += c;
  if (tp === 0) return 0;
  return tp / (tp + fn);
}

/** LLaVA-Med closed-ended rule (substring; "normal" counts as containing "no"). */
export function closedLlavaMed(prediction: string, answer: string): 0 | 1 {
  const p = normalizeAnswer(prediction);
  const g = normalizeAnswer(answer);
  if (p.includes('yes') || p.includes('no')) return p.includes(g) ? 1 : 0;
  return 0;
}

/** Strict closed-ended rule: first yes/no token must equal the answer (whole tokens otherwise). */
export function closedStrict(prediction: string, answer: string): 0 | 1 {
  const p = normalizeAnswer(prediction).split(' ').filter(Boolean);
  const g = normalizeAnswer(answer).split(' ').filter(Boolean);
  if (g.length === 0 || p.length === 0) return 0;
  if (g.length === 1 && (g[0] === 'yes' || g[0] === 'no')) {
    const first = p.find((w) => w === 'yes' || w === 'no');
    return first === g[0] ? 1 : 0;
  }
  for (let i = 0; i + g.length <= p.length; i++) {
    let ok = true;
    for (let j = 0; j < g.length && ok; j++) ok = p[i + j] === g[j];
    if (ok) return 1;
  }
  return 0;
}

/** `mmedpo-release` closed rule: normalized answer is a substring of the normalized prediction. */
export function closedSubstring(prediction: string, answer: string): 0 | 1 {
  const g = normalizeAnswer(answer);
  return g.length > 0 && normalizeAnswer(prediction).includes(g) ? 1 : 0;
}
