// Predictions JSONL parsing (pure): one JSON object per line with
//   id (string|number), prediction (string), reference (string)[, answer_type, question].
// Blank lines are skipped. A bad row throws PredictionsError naming its 1-based line number.
import type { PredictionItem } from './index';

export class PredictionsError extends Error {
  constructor(readonly line: number, reason: string) {
    super(`predictions line ${line}: ${reason}`);
    this.name = 'PredictionsError';
  }
}

export function parsePredictionsJsonl(text: string): PredictionItem[] {
  const out: PredictionItem[] = [];
  const seen = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (!raw) continue;
    const line = i + 1;
    let o: unknown;
    try {
      o = JSON.parse(raw);
    } catch (e) {
      throw new PredictionsError(line, `not valid JSON (${(e as Error).message.split('\n')[0]})`);
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new PredictionsError(line, 'expected a JSON object');
    const r = o as Record<string, unknown>;
    if (typeof r.id !== 'string' && typeof r.id !== 'number') throw new PredictionsError(line, 'missing "id" (string or number)');
    const id = String(r.id);
    if (seen.has(id)) throw new PredictionsError(line, `duplicate id "${id}"`);
    seen.add(id);
    if (r.prediction === null || r.prediction === undefined) r.prediction = '';
    if (typeof r.prediction !== 'string') throw new PredictionsError(line, '"prediction" must be a string');
    if (typeof r.reference !== 'string') throw new PredictionsError(line, 'missing "reference" (string)');
    const item: PredictionItem = { id, prediction: r.prediction, reference: r.reference };
    if (r.answer_type !== undefined && r.answer_type !== null) {
      if (typeof r.answer_type !== 'string' || !/^(open|closed)$/i.test(r.answer_type)) throw new PredictionsError(line, '"answer_type" must be OPEN or CLOSED');
      item.answer_type = r.answer_type.toUpperCase();
    }
    if (typeof r.question === 'string') item.question = r.question;
    out.push(item);
  }
  return out;
}
