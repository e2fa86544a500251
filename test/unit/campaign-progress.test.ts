// `campaign status`/`watch`: the training runs in flight side by side (issue 15 §1).
import { renderProgress } from '../../cli/commands/campaign';
import { emptyProgress } from '../../core/contracts';

describe('campaign progress display', () => {
  it('lists every run in flight, with the step and loss its heartbeat reported', () => {
    const p = emptyProgress('c1', 'train');
    p.training = {
      variant: 'mmedpo@1',
      done: ['sft@0', 'sft@1'],
      running: [
        { run: 'dpo@0', variant: 'dpo', seed: 0, step: 3, totalSteps: 8, loss: 0.69314 },
        { run: 'mmedpo@0', variant: 'mmedpo', seed: 0 },
        { run: 'mmedpo@1', variant: 'mmedpo', seed: 1, step: 1, loss: 0.7 },
      ],
    };
    p.evaluation = { done: ['base'], running: ['sft@0', 'sft@1'] };
    const text = renderProgress(p, 'RUNNING');
    expect(text).toContain('training  sft@0, sft@1  (now dpo@0 step 3/8, loss 0.6931; mmedpo@0; mmedpo@1 step 1, loss 0.7000)');
    expect(text).toContain('evaluate  base  (now sft@0, sft@1)');
  });

  it('a campaign from before runs went side by side: the one run under `variant`', () => {
    const p = emptyProgress('c0', 'train');
    p.training = { variant: 'dpo', done: ['sft'], step: 2, totalSteps: 4, loss: 0.5 };
    expect(renderProgress(p, 'RUNNING')).toContain('training  sft  (now dpo step 2/4, loss 0.5000)');
    p.training = { variant: 'dpo', done: ['sft', 'dpo'] };
    expect(renderProgress(p, 'COMPLETED')).toMatch(/training {2}sft, dpo$/m);
  });
});
