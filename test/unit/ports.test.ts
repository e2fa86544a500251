import * as net from 'node:net';
import { freePort } from '../../lib/ports';

function listen(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });
}

describe('freePort', () => {
  it('hands out distinct ports below the kernel ephemeral range, each one bindable', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 20; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
    for (const p of ports) {
      expect(p).toBeGreaterThanOrEqual(20_000);
      expect(p).toBeLessThan(32_000);
    }
    const srv = await listen(ports[0]);
    srv.close();
  });

  it('skips a port someone already listens on', async () => {
    // The next port this process would hand out is the one after the last; occupy it first.
    const last = await freePort();
    const next = last + 1 < 32_000 ? last + 1 : 20_000;
    const blocker = await listen(next);
    try {
      const got = await freePort();
      expect(got).not.toBe(next);
    } finally {
      blocker.close();
    }
  });
});
