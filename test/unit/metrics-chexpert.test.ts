import { labelReport, binarize, OBSERVATIONS } from '../../core/chexpert';

const nonNull = (t: string) => Object.fromEntries(Object.entries(labelReport(t)).filter(([, v]) => v !== null));

describe('chexpert-style labeler (NegEx approximation)', () => {
  test.each([
    ['The heart size is normal. No pneumothorax or pleural effusion.', { 'No Finding': 1, Cardiomegaly: 0, Pneumothorax: 0, 'Pleural Effusion': 0 }],
    ['Cardiomegaly. Small left pleural effusion. There is no pneumothorax.', { Cardiomegaly: 1, 'Pleural Effusion': 1, Pneumothorax: 0 }],
    ['No focal consolidation, pleural effusion, or pneumothorax. The cardiomediastinal silhouette is within normal limits.', { 'No Finding': 1, 'Enlarged Cardiomediastinum': 0, Consolidation: 0, 'Pleural Effusion': 0, Pneumothorax: 0 }],
    ['Right lower lobe opacity may represent atelectasis or pneumonia.', { 'Lung Opacity': 1, Atelectasis: -1, Pneumonia: -1 }],
    ['Pneumonia cannot be excluded. Heart size is mildly enlarged. Right PICC line in place.', { Pneumonia: -1, Cardiomegaly: 1, 'Support Devices': 1 }],
    ['Interval resolution of the right pneumothorax. Small pericardial effusion.', { 'No Finding': 1, Pneumothorax: 0 }],
    ['Healed left rib fractures. Mild pulmonary edema but no effusion.', { Fracture: 1, Edema: 1, 'Pleural Effusion': 0 }],
    ['No acute cardiopulmonary process.', { 'No Finding': 1 }],
    ['No change in the moderate right pleural effusion.', { 'Pleural Effusion': 1 }],
    ['Normal heart size and mild pulmonary edema.', { Cardiomegaly: 0, Edema: 1 }],
    ['The heart is not enlarged. The mediastinum is widened.', { Cardiomegaly: 0, 'Enlarged Cardiomediastinum': 1 }],
    ['Left basilar opacity, likely atelectasis.', { 'Lung Opacity': 1, Atelectasis: -1 }],
    ['Atelectasis versus consolidation at the left base.', { Atelectasis: -1, Consolidation: -1 }],
    ['Interval removal of the right chest tube. Lungs are clear without focal consolidation, effusion, or pneumothorax.', { 'No Finding': 1, 'Support Devices': 0, Consolidation: 0, 'Pleural Effusion': 0, Pneumothorax: 0 }],
    ['Previously seen effusion has resolved. No evidence of acute fracture.', { 'No Finding': 1, 'Pleural Effusion': 0, Fracture: 0 }],
    ['ET tube and NG tube in place. Heart size is normal. Stable cardiomegaly is not present.', { 'No Finding': 1, 'Support Devices': 1, Cardiomegaly: 0 }],
  ])('%s', (text, expected) => {
    expect(nonNull(text)).toEqual(expected);
  });

  test('empty / non-string input never throws; every observation present', () => {
    const l = labelReport('');
    expect(Object.keys(l).sort()).toEqual([...OBSERVATIONS].sort());
    expect(l['No Finding']).toBe(1);
    expect(() => labelReport(undefined as unknown as string)).not.toThrow();
  });

  test('binarize: uncertain and blank → 0 (R2Gen)', () => {
    const b = binarize(labelReport('Possible pneumonia. Large right pleural effusion.'));
    expect(b.Pneumonia).toBe(0);
    expect(b['Pleural Effusion']).toBe(1);
    expect(b['No Finding']).toBe(0);
  });
});
