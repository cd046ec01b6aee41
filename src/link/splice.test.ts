import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { resetSocket, splice } from './splice.js';

async function pair(): Promise<[net.Socket, net.Socket, net.Server]> {
  const server = net.createServer({ allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const a = net.connect({
    port: (server.address() as net.AddressInfo).port,
    host: '127.0.0.1',
    allowHalfOpen: true,
  });
  const [b] = (await accepted) as [net.Socket];
  await once(a, 'connect');
  return [a, b, server];
}

const closedWithin = (s: net.Socket, ms: number): Promise<boolean> =>
  new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    s.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
  });

test('resetSocket: the peer sees ECONNRESET, not a clean end', async () => {
  const [a, b, server] = await pair();
  let ended = false;
  b.on('end', () => (ended = true));
  const err = once(b, 'error');
  resetSocket(a);
  const [e] = (await err) as [NodeJS.ErrnoException];
  assert.equal(e.code, 'ECONNRESET');
  assert.equal(ended, false);
  b.destroy();
  server.close();
});

test('resetSocket right after our FIN still closes the socket (no leaked handle)', async () => {
  const [a, b, server] = await pair();
  b.on('error', () => {});
  a.on('error', () => {});
  // end() issues the shutdown (our FIN) a tick later; it completes on a later turn of the event loop.
  // A reset in between is what libuv refuses (EINVAL), and Node then loses the handle unclosed.
  a.end();
  await new Promise((r) => process.nextTick(r));
  await new Promise((r) => process.nextTick(r));
  const closed = closedWithin(a, 2000);
  resetSocket(a);
  assert.equal(await closed, true, 'the socket closed; a reset during a pending shutdown leaks its handle');
  b.destroy();
  server.close();
});

test('splice passes on a FIN the socket read before it was spliced (0 bytes, then FIN)', async () => {
  const [a, b, server] = await pair();
  a.on('error', () => {});
  b.on('error', () => {});
  b.end(); // the app half-closes at once, while its request would still be dialed
  a.resume();
  await once(a, 'end');
  a.pause();
  const stream = new PassThrough();
  const finished = new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(false), 2000);
    stream.once('finish', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
  try {
    splice(a, stream);
    assert.equal(await finished, true, 'the stream was never ended: the early FIN was lost');
  } finally {
    a.destroy();
    b.destroy();
    stream.destroy();
    server.close();
  }
});
