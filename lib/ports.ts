// Loopback ports for servers this project starts itself (the test stack, torch's rendezvous).
import * as net from 'node:net';

// Ports handed out come from below Linux's ephemeral range (32768-60999; macOS starts at 49152).
// Port 0 would let the kernel choose from that range, which is where Temporal's dev server picks its
// own internal ports and every outgoing connection takes its local port: a port found free that way
// could be taken by the time MinIO binds it, and two calls in a row may even get the same one (a CI
// run lost the durability suite to exactly that). Each process walks the range from its own
// pid-derived start, so parallel test workers do not walk over each other.
const PORT_RANGE_LOW = 20_000;
const PORT_RANGE_SIZE = 12_000;
let nextPortOffset = (process.pid * 7_919) % PORT_RANGE_SIZE;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A loopback TCP port nobody listens on now and this process has not handed out before, taken from
 * 20000-31999 (outside the kernel's ephemeral range). Throws when the whole range is busy.
 */
export async function freePort(): Promise<number> {
  for (let tried = 0; tried < PORT_RANGE_SIZE; tried++) {
    const port = PORT_RANGE_LOW + nextPortOffset;
    nextPortOffset = (nextPortOffset + 1) % PORT_RANGE_SIZE;
    if (await canListen(port)) return port;
  }
  throw new Error(`no free loopback port in ${PORT_RANGE_LOW}-${PORT_RANGE_LOW + PORT_RANGE_SIZE - 1}`);
}
