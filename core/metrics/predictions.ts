// Predictions JSONL parsing (pure), with the dataset loaders' rules (core/dataset.ts):
//   id          any scalar (string, number, boolean) → its string form; ids must be unique
//   prediction  string, or a number (its decimal string); null or absent → "" (scores 0)
//   reference   string, or a number
//   answer_type optional: OPEN / CLOSED in any case, surrounding whitespace ignored ("CLOSED " rows
//               of VQA-RAD's public release), null → absent
//   question    optional string or number
// Blank lines and a leading byte-order mark are skipped; CRLF line ends are fine. A bad row throws
// PredictionsError naming the 1-based line, the field, the value found (shortened) and what was expected.
import { parseAnswerType, scalarText } from '../dataset';
import type { PredictionItem } from './index';

export class PredictionsError extends Error {
  constructor(
    readonly line: number,
    reason: string,
    readonly field?: string,
  ) {
    super(`predictions line ${line}: ${reason}`);
    this.name = 'PredictionsError';
  }
}

/** A value as an error message shows it: its type, and short scalars themselves. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing (the field is missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return `${typeof v} ${String(v)}`;
}

function fieldError(line: number, field: string, value: unknown, expected: string): PredictionsError {
  return new PredictionsError(line, `field "${field}": got ${describeValue(value)}, expected ${expected}`, field);
}

export function parsePredictionsJsonl(text: string): PredictionItem[] {
  const out: PredictionItem[] = [];
  const seen = new Map<string, number>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (!raw) continue;
    const line = i + 1;
    let o: unknown;
    try {
      o = JSON.parse(raw);
    } catch (e) {
      throw new PredictionsError(line, `not valid JSON (${(e as Error).message.split('\n')[0]})`);
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new PredictionsError(line, `got ${describeValue(o)}, expected a JSON object {id, prediction, reference[, answer_type, question]}`);
    const r = o as Record<string, unknown>;
    const id = typeof r.id === 'boolean' ? String(r.id) : scalarText(r.id);
    if (id === undefined) throw fieldError(line, 'id', r.id, 'a string or a number');
    const first = seen.get(id);
    if (first !== undefined) throw new PredictionsError(line, `field "id": ${describeValue(id)} already used on line ${first}, expected unique ids`, 'id');
    seen.set(id, line);
    const prediction = r.prediction === null || r.prediction === undefined ? '' : scalarText(r.prediction);
    if (prediction === undefined) throw fieldError(line, 'prediction', r.prediction, 'a string (null for no answer)');
    const reference = scalarText(r.reference);
    if (reference === undefined) throw fieldError(line, 'reference', r.reference, 'a string');
    const item: PredictionItem = { id, prediction, reference };
    if (r.answer_type !== undefined && r.answer_type !== null) {
      const t = parseAnswerType(r.answer_type);
      if (!t) throw fieldError(line, 'answer_type', r.answer_type, 'OPEN or CLOSED (any case)');
      item.answer_type = t.toUpperCase();
    }
    if (r.question !== undefined && r.question !== null) {
      const q = scalarText(r.question);
      if (q === undefined) throw fieldError(line, 'question', r.question, 'a string');
      item.question = q;
    }
    out.push(item);
  }
  return out;
}
