// Prediction files are read with the dataset loaders' rules (issue 14 §3), and a bad row names the
// line, the field, the value and what was expected.
import { parsePredictionsJsonl, PredictionsError, scoreVqa } from '../../core/metrics';

const parse = (lines: unknown[]) => parsePredictionsJsonl(lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n'));
function error(lines: unknown[]): PredictionsError {
  try {
    parse(lines);
  } catch (e) {
    expect(e).toBeInstanceOf(PredictionsError);
    return e as PredictionsError;
  }
  throw new Error('expected a PredictionsError');
}

describe('predictions reader', () => {
  test('answer_type in any case with surrounding spaces; numbers as strings; ids of any scalar type; null prediction', () => {
    const items = parse([
      { id: 1, prediction: 'yes', reference: 'yes', answer_type: 'CLOSED ' },
      { id: 'a', prediction: 2, reference: 2, answer_type: ' open' },
      { id: true, prediction: null, reference: 'no', answer_type: 'Closed', question: 7 },
      { id: 2.5, reference: 'x', answer_type: null },
    ]);
    expect(items).toEqual([
      { id: '1', prediction: 'yes', reference: 'yes', answer_type: 'CLOSED' },
      { id: 'a', prediction: '2', reference: '2', answer_type: 'OPEN' },
      { id: 'true', prediction: '', reference: 'no', answer_type: 'CLOSED', question: '7' },
      { id: '2.5', prediction: '', reference: 'x' },
    ]);
  });

  test('a byte-order mark, CRLF line ends and blank lines are fine', () => {
    expect(parsePredictionsJsonl('\uFEFF{"id":1,"prediction":"a","reference":"a"}\r\n\r\n{"id":2,"prediction":"b","reference":"b"}\r\n')).toHaveLength(2);
  });

  test('errors name the line, the field, the value and the expectation', () => {
    expect(error([{ id: 1, prediction: 'x', reference: 'y' }, '', { id: 2, prediction: 'x', reference: 'y', answer_type: 'CLOSEDD' }]).message).toBe(
      'predictions line 3: field "answer_type": got "CLOSEDD", expected OPEN or CLOSED (any case)',
    );
    expect(error([{ id: 1, prediction: 'x' }]).message).toBe('predictions line 1: field "reference": got nothing (the field is missing), expected a string');
    expect(error([{ id: { a: 1 }, prediction: 'x', reference: 'y' }]).message).toBe('predictions line 1: field "id": got an object, expected a string or a number');
    expect(error([{ id: 1, prediction: ['a', 'b'], reference: 'y' }]).message).toBe('predictions line 1: field "prediction": got an array of 2, expected a string (null for no answer)');
    expect(error([{ id: 1, prediction: 'a', reference: 'y' }, { id: '1', prediction: 'b', reference: 'z' }]).message).toBe('predictions line 2: field "id": "1" already used on line 1, expected unique ids');
    expect(error([{ id: 1, prediction: 'a', reference: 'y', answer_type: 'x'.repeat(100) }]).message).toMatch(/got "x{40}…", expected/);
    expect(error(['[1, 2]']).message).toBe('predictions line 1: got an array of 2, expected a JSON object {id, prediction, reference[, answer_type, question]}');
    expect(error([{ id: 1, prediction: 'a', reference: false }]).field).toBe('reference');
  });

  test('../shared/cases/eval-closed-trailing-space: the "CLOSED " row is scored as closed', () => {
    const fs = require('node:fs') as typeof import('node:fs');
    const items = parsePredictionsJsonl(fs.readFileSync(`${__dirname}/../fixtures/cases/eval-closed-trailing-space/predictions.jsonl`, 'utf8'));
    expect(scoreVqa(items).totals).toEqual({ n_closed: 2, closed_accuracy: 100, closed_accuracy_strict: 100, n_open: 1, open_recall: 100 });
  });
});
