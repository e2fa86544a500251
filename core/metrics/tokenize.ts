// Report tokenizers.
//
// whitespace (pycoco convention as used on pre-tokenized text): tokens = text.split() for BLEU,
//   text.split(" ") for ROUGE-L (pycoco does exactly that).
// r2gen: R2Gen's clean_report_iu_xray: collapse '..' → '.', drop list numbering ('1. ', ' 2. ' …),
//   strip, lowercase, split sentences on '. '; in each sentence drop " / \ ' and every char of the
//   regex class [.,?;*!%^&_+():-\[\]{}] (note ':-\[' is a RANGE ':'..'[' in that regex, so
//   ;<=>?@ and A–Z go too), strip; sentences joined with ' . ' and ' .' appended.
// release (`mmedpo-release`): lowercase, whitespace collapsed and trimmed; tokens = split on ' '.

export type ReportTokenizer = 'whitespace' | 'r2gen';

const R2GEN_CHARS = /[.,?;*!%^&_+():-[\]{}]/g;

export function r2genClean(report: string): string {
  const t = report
    .replaceAll('..', '.').replaceAll('..', '.').replaceAll('..', '.').replaceAll('1. ', '')
    .replaceAll('. 2. ', '. ').replaceAll('. 3. ', '. ').replaceAll('. 4. ', '. ').replaceAll('. 5. ', '. ')
    .replaceAll(' 2. ', '. ').replaceAll(' 3. ', '. ').replaceAll(' 4. ', '. ').replaceAll(' 5. ', '. ')
    .trim()
    .toLowerCase()
    .split('. ');
  const clean = (s: string) =>
    s.replaceAll('"', '').replaceAll('/', '').replaceAll('\\', '').replaceAll("'", '').trim().toLowerCase().replace(R2GEN_CHARS, '');
  return t.map(clean).join(' . ') + ' .';
}

export function normalizeWhitespace(text: string): string {
  return text.toLowerCase().split(/\s+/).filter(Boolean).join(' ');
}

/** Text the pycoco scorers see (they split it themselves). */
export function pycocoText(text: string, tokenizer: ReportTokenizer): string {
  return tokenizer === 'r2gen' ? r2genClean(text) : text;
}

export function whitespaceTokens(text: string): string[] {
  return text.split(/\s+/).filter(Boolean);
}
