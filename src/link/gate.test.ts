// The read gate: while a link's write queue is full, a TCP socket joined to it reads nothing (what its
// peer sent stays in the kernel), and it reads again, everything, once the link drains.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { test } from 'node:test';
import { TYPE_DATA } from './frame.js';
import { LinkWriter } from './writer.js';

/** A link socket whose writes complete only when release() is called (a slow line). */
function slowSocket() {
  const pending: (() => void)[] = [];
  const sock = new Duplex({
    read() {},
    write(_chunk: Buffer, _enc, cb) {
      pending.push(() => cb());
    },
  });
  const release = async (): Promise<void> => {
    for (let i = 0; i < 10_000; i++) {
      await new Promise<void>((r) => setImmediate(r)); // corked writes reach the socket on the next tick
      if (pending.length === 0) break;
      pending.shift()!();
    }
  };
  return { sock, release };
}

/** A loopback TCP connection: the app's end, and the accepted end a stream would be joined to. */
async function connectedPair(): Promise<{ server: net.Server; app: net.Socket; joined: net.Socket }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const app = net.connect(port, '127.0.0.1');
  const [joined] = (await once(server, 'connection')) as [net.Socket];
  return { server, app, joined };
}

const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
};

test('a full link stops its joined sockets reading; its drain starts them again', async () => {
  const { server, app, joined } = await connectedPair();
  try {
    let got = 0;
    joined.on('data', (c: Buffer) => (got += c.length));
    const { sock, release } = slowSocket();
    const w = new LinkWriter(sock);
    w.gate.add(joined);
    for (let i = 0; i < 24; i++) w.frame(TYPE_DATA, 0, 1, 65536, Buffer.alloc(65536, i)); // 1.5 MiB
    assert.equal(w.writable, false);
    assert.equal(w.gate.isShut, true, 'the gate shuts once the link is not writable');
    const BODY = 64 * 1024;
    await new Promise<void>((r) => app.write(Buffer.alloc(BODY, 1), () => r()));
    // The bytes are in the kernel now; a socket that still read would have them within these turns.
    await turns(50);
    await new Promise((r) => setTimeout(r, 100));
    await turns(50);
    assert.equal(got, 0, 'nothing is read while the link is full');
    await release();
    assert.equal(w.writable, true);
    assert.equal(w.gate.isShut, false, 'the drain opens the gate');
    for (let i = 0; i < 2000 && got < BODY; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(got, BODY, 'everything the peer sent is read after the drain');
    assert.equal(w.gate.closings, 1);
    w.gate.delete(joined);
    assert.equal(w.gate.size, 0);
  } finally {
    app.destroy();
    joined.destroy();
    server.close();
  }
});

test('a socket joined while the gate is shut reads nothing until it opens; close() opens it', async () => {
  const { server, app, joined } = await connectedPair();
  try {
    let got = 0;
    joined.on('data', (c: Buffer) => (got += c.length));
    const { sock } = slowSocket();
    const w = new LinkWriter(sock);
    for (let i = 0; i < 24; i++) w.frame(TYPE_DATA, 0, 1, 65536, Buffer.alloc(65536, i));
    assert.equal(w.gate.isShut, true);
    await turns(5); // the socket has started reading (flowing mode) before it is joined
    w.gate.add(joined);
    await new Promise<void>((r) => app.write(Buffer.alloc(1000, 2), () => r()));
    await turns(50);
    await new Promise((r) => setTimeout(r, 100));
    await turns(50);
    assert.equal(got, 0, 'a socket joined to a full link waits');
    w.close(false); // the link is gone: its sockets read again (and see their streams' end)
    assert.equal(w.gate.isShut, false);
    for (let i = 0; i < 2000 && got < 1000; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(got, 1000);
  } finally {
    app.destroy();
    joined.destroy();
    server.close();
  }
});
