// `campaign status` of a failed campaign names the failure and the stage (issue 18): a campaign
// whose dataset root does not exist fails in `prepare`; status shows the innermost cause's type and
// message, decrypted by the client — in the server's history the failure is encrypted like every payload.
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@temporalio/client';
import * as activities from '../../activities';
import { progressOf, renderProgress, startCampaign } from '../../cli/commands/campaign';
import { parseCampaignConfig } from '../../core/config';
import { PROJECT_ROOT } from '../../infra/stack';
import { connectClient, makeWorker } from '../helpers/temporal';

const execFileP = promisify(execFile);

describe('campaign status of a failed campaign', () => {
  const prefix = `status${process.pid}-`;
  let worker: Awaited<ReturnType<typeof makeWorker>>;
  let running: Promise<void>;
  let client: Awaited<ReturnType<typeof connectClient>>;

  beforeAll(async () => {
    worker = await makeWorker({ taskQueue: `${prefix}curation`, activities });
    running = worker.worker.run();
    client = await connectClient();
  });
  afterAll(async () => {
    worker.worker.shutdown();
    await running;
    await worker.connection.close();
    await client.connection.close();
  });

  it('names the innermost cause (type and message) and the stage it failed in', async () => {
    const root = `/nonexistent-${process.pid}/vqa-rad`;
    const cfg = parseCampaignConfig({
      name: 'missing-root',
      dataset: { format: 'vqa-rad', root },
      training: { enabled: false },
      evaluation: { enabled: false },
      temporal: { queuePrefix: prefix },
    });
    const started = await startCampaign(client.client, cfg);
    await expect(client.client.workflow.getHandle(started.campaignId).result()).rejects.toThrow();

    const { status, failure, progress } = await progressOf(client.client, started.campaignId);
    expect(status).toBe('FAILED');
    expect(failure).toEqual({ stage: 'prepare', type: 'BadInput', message: `dataset root ${root} does not exist`, where: ['activity prepareDataset'] });
    const text = renderProgress(progress, status, failure);
    expect(text).toContain(`failed    BadInput: dataset root ${root} does not exist (stage prepare, activity prepareDataset)`);

    // The command itself, as a user runs it (its own process, the stack found through the environment).
    const cli = await execFileP(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'mmedpo.js'), 'campaign', 'status', started.campaignId, '--json'], { env: process.env, timeout: 60_000 });
    expect(JSON.parse(cli.stdout)).toMatchObject({ status: 'FAILED', stage: 'prepare', failure: { type: 'BadInput', stage: 'prepare', message: `dataset root ${root} does not exist` } });

    // In the server's history the reason is encrypted too (encodeCommonAttributes): no path in clear.
    const raw = new Client({ connection: client.connection });
    const history = await raw.workflow.getHandle(started.campaignId).fetchHistory();
    const failed = history.events!.find((e) => e.workflowExecutionFailedEventAttributes)!.workflowExecutionFailedEventAttributes!.failure!;
    expect(JSON.stringify(failed)).not.toContain(root);
    expect(failed.message).toBe('Encoded failure');
    expect(JSON.stringify(history)).not.toContain('does not exist');
  });
});
