import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import * as activities from '../../activities';
import { createWorker, connectClient } from '../../lib/temporal';
import { uniqueQueue } from '../helpers/temporal';

const SAMPLE = path.resolve(__dirname, '../../../shared/datasets/vqa-rad-sample');

/** Every payload `data` field of a history, base64-decoded and concatenated. */
function payloadText(historyJson: string): string {
  return [...historyJson.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('latin1')).join('\n');
}

describe('payload encryption', () => {
  it('keeps workflow inputs and results unreadable in server history', async () => {
    process.env.MMEDPO_PAYLOAD_KEY = randomBytes(32).toString('base64');
    try {
      const taskQueue = uniqueQueue('codec');
      const worker = await createWorker({ taskQueue, workflowsPath: path.resolve(__dirname, '../../workflows/index.ts'), activities });
      const client = await connectClient();
      const id = `codec-${Date.now()}`;
      const result = await worker.runUntil(async () => {
        const h = await client.workflow.start('ingestWorkflow', { taskQueue, workflowId: id, args: [{ format: 'vqa-rad', root: SAMPLE }] });
        return (await h.result()) as { items: number; manifestKey: string };
      });
      expect(result.items).toBe(368);
      // A client without the codec sees only ciphertext.
      const raw = new Client({ connection: await Connection.connect({ address: process.env.MMEDPO_TEMPORAL_ADDRESS! }) });
      const history = JSON.stringify(await raw.workflow.getHandle(id).fetchHistory());
      expect(history).toContain('YmluYXJ5L2VuY3J5cHRlZA'); // base64("binary/encrypted")
      const decoded = payloadText(history);
      expect(decoded.length).toBeGreaterThan(0);
      expect(decoded).not.toContain('vqa-rad-sample');
      expect(decoded).not.toContain(result.manifestKey);
      // Control: the same check on an unencrypted run does find the plaintext.
      delete process.env.MMEDPO_PAYLOAD_KEY;
      const plainWorker = await createWorker({ taskQueue: taskQueue + '-plain', workflowsPath: path.resolve(__dirname, '../../workflows/index.ts'), activities });
      const plainClient = await connectClient();
      await plainWorker.runUntil(async () => {
        const h = await plainClient.workflow.start('ingestWorkflow', { taskQueue: taskQueue + '-plain', workflowId: id + '-plain', args: [{ format: 'vqa-rad', root: SAMPLE }] });
        await h.result();
      });
      expect(payloadText(JSON.stringify(await raw.workflow.getHandle(id + '-plain').fetchHistory()))).toContain('vqa-rad-sample');
      await plainClient.connection.close();
      await raw.connection.close();
      await client.connection.close();
    } finally {
      delete process.env.MMEDPO_PAYLOAD_KEY;
    }
  });
});
