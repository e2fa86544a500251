// Each worker kind registers only its own activities: the curation worker never the trainer's (training,
// evaluation), the training worker only those, the model workers only the model calls.
import { SlotPool } from '../../activities/training';
import { modelActivities } from '../../activities/models';
import { curationActivities } from '../../workers/curation';
import { trainingActivities } from '../../workers/training';

const names = (o: object) => Object.keys(o).sort();

describe('activities registered per worker kind', () => {
  it('curation: ingest, visual, the campaign CPU steps, the text puts and scoring (no model call: those are the model workers\')', () => {
    expect(names(curationActivities)).toEqual(
      [
        'scanDataset', 'ingestChunk', 'writeManifest',
        'visualHeatmap', 'visualNoise', 'curateVisualItem', 'curateVisual',
        'prepareDataset', 'planCuration', 'loadShardItems', 'writeShardResult', 'buildPreferenceSets', 'buildSftSet', 'writeCampaignReport',
        'storeTextPair', 'storeDebateTranscript',
        'scorePredictions',
      ].sort(),
    );
    for (const f of Object.values(curationActivities)) expect(typeof f).toBe('function');
  });

  it('training: the trainer-process activities only', () => {
    expect(names(trainingActivities(new SlotPool(['cpu0'], false)))).toEqual(['evaluateVariant', 'runTraining', 'trainVariant']);
  });

  it('models: the model calls only', () => {
    expect(names(modelActivities)).toEqual(['debateTurn', 'judgeGenerate', 'judgeSelect', 'sampleTarget']);
  });
});
