import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { once } from 'node:events';
import { Duplex } from 'node:stream';
import { CHUNKS_BEHIND_MAX, keepReplyOnWriteError, resetSocket, SOCKET_BATCH, splice } from './splice.js';

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

test('splice: a destination reset while its data is unread aborts the stream; it never passes as an end', async () => {
  // libuv reports a RST that arrives together with unread data as an end of stream (POLLHUP after a
  // partial read is taken for EOF), so Node emits 'end', not ECONNRESET. Seen in the fault runs: an
  // exit's connection reset mid-body reached the application as a clean close, the body cut short.
  // On loopback, data written just before the reset arrives with it, so every round meets that case.
  for (let round = 0; round < 10; round++) {
    const [a, b, server] = await pair();
    a.on('error', () => {});
    // The stream side: takes what the socket delivers, notes an end() (the FIN it would send on).
    let got = 0;
    let ended = false;
    const stream = new Duplex({
      allowHalfOpen: true,
      read() {},
      write(chunk: Buffer, _enc, cb) {
        got += chunk.length;
        cb();
      },
      final(cb) {
        ended = true;
        cb();
        finished('ended');
      },
    });
    stream.on('error', () => {});
    let finished: (how: string) => void = () => {};
    const outcome = new Promise<string>((resolve) => {
      finished = resolve;
      setTimeout(() => resolve('neither within 5 s'), 5000).unref();
    });
    splice(b, stream, (err) => finished(err ? 'aborted' : 'finished cleanly'));
    a.write(Buffer.alloc(100_000, 7));
    resetSocket(a); // the destination resets right after sending
    assert.equal(await outcome, 'aborted', `round ${round}: after ${got} bytes`);
    assert.equal(ended, false, `round ${round}: the stream was ended (a FIN) after ${got} bytes`);
    assert.ok(stream.destroyed, 'the stream was destroyed (a RST)');
    b.destroy();
    server.close();
  }
});

test('splice: a stream already destroyed when joined resets the socket at once (it would hang otherwise)', async () => {
  const [a, b, server] = await pair();
  a.on('error', () => {});
  const stream = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
  stream.on('error', () => {});
  const closed = new Promise((resolve) => stream.once('close', resolve));
  stream.destroy(new Error('link down'));
  await closed; // its 'error' and 'close' are over before the join
  const outcome = new Promise<string>((resolve) => {
    splice(b, stream, (err) => resolve(err ? err.message : 'clean'));
    setTimeout(() => resolve('nothing within 2 s'), 2000).unref();
  });
  assert.equal(await outcome, 'link down');
  assert.ok(b.destroyed, 'the socket was closed');
  server.close();
});

test('splice: a socket already destroyed when joined resets the stream', async () => {
  const [a, b, server] = await pair();
  a.on('error', () => {});
  b.on('error', () => {});
  b.destroy();
  await once(b, 'close');
  const stream = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
  stream.on('error', () => {});
  let result: string | undefined;
  splice(b, stream, (err) => (result = err ? err.message : 'clean'));
  assert.equal(result, 'socket closed before it was joined');
  assert.ok(stream.destroyed, 'the stream was destroyed');
  a.destroy();
  server.close();
});

test('splice: a socket whose end (FIN) came before the join passes it on', async () => {
  const [a, b, server] = await pair();
  a.end(); // the app sends nothing and half-closes before the tunnel is up
  b.resume();
  await once(b, 'end');
  b.pause();
  let ended = false;
  const stream = new Duplex({
    allowHalfOpen: true,
    read() {},
    write: (_c, _e, cb) => cb(),
    final(cb) {
      ended = true;
      cb();
    },
  });
  splice(b, stream);
  for (let i = 0; i < 100 && !ended; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(ended, true, 'the stream was ended (FIN passed on)');
  assert.equal(stream.destroyed, false);
  a.destroy();
  b.destroy();
  server.close();
});

/** A stream whose readable side the test feeds by hand, one push per call. */
function feedable(): Duplex {
  return new Duplex({ allowHalfOpen: true, read() {}, write: (_c, _e, cb) => cb() });
}

/** Counts the socket's write batches (each is one writev or write system call's worth). */
function countBatches(s: net.Socket): { batches: number[] } {
  const seen = { batches: [] as number[] };
  const w = s as net.Socket & {
    _writev: (chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void) => void;
    _write: (chunk: Buffer, enc: BufferEncoding, cb: (e?: Error | null) => void) => void;
  };
  const writev = w._writev.bind(w);
  const write = w._write.bind(w);
  w._writev = (chunks, cb) => {
    seen.batches.push(chunks.length);
    writev(chunks, cb);
  };
  w._write = (chunk, enc, cb) => {
    seen.batches.push(1);
    write(chunk, enc, cb);
  };
  return seen;
}

/** A socket pair, its sockets ended when the test does, and a hand-fed stream spliced to `a`. */
async function splicedPair(t: TestContext): Promise<{ a: net.Socket; b: net.Socket; stream: Duplex }> {
  const [a, b, server] = await pair();
  t.after(() => {
    a.destroy();
    b.destroy();
    server.close();
  });
  const stream = feedable();
  splice(a, stream);
  return { a, b, stream };
}

async function received(s: net.Socket, bytes: number, ms: number): Promise<number> {
  let got = 0;
  const deadline = Date.now() + ms;
  s.on('data', (c: Buffer) => (got += c.length));
  while (got < bytes && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  return got;
}

test('splice: full TLS-record pieces that arrive in one loop turn leave in one write; none is held after it', async (t) => {
  const { a, b, stream } = await splicedPair(t);
  const seen = countBatches(a);
  const piece = Buffer.alloc(16 * 1024, 0x61);
  // As TLS delivers them: each piece in its own callback, with process.nextTick run between them. The
  // first also carried the frame's 12-byte header, so its payload is a little short of 16 KiB.
  const first = piece.subarray(12);
  for (let i = 0; i < 4; i++) {
    stream.push(i === 0 ? first : piece);
    await new Promise((r) => process.nextTick(r));
  }
  const batch = first.length + 3 * piece.length;
  assert.equal(await received(b, batch, 5000), batch);
  assert.deepEqual(seen.batches, [4], 'one writev of the four pieces');
  // A lone piece (the end of a transfer) is not kept waiting for company.
  stream.push(piece);
  assert.equal(await received(b, piece.length, 5000), piece.length);
  assert.deepEqual(seen.batches, [4, 1]);
});

test('splice: a small write (an interactive reply) goes to the socket at once, not corked', async (t) => {
  const { a, b, stream } = await splicedPair(t);
  const seen = countBatches(a);
  stream.push(Buffer.from('y'));
  await new Promise((r) => process.nextTick(r));
  assert.deepEqual(seen.batches, [1], 'written within the same tick');
  assert.equal(a.writableCorked, 0);
  assert.equal(await received(b, 1, 5000), 1);
});

test('splice: for an application that stops reading, a pair holds at most SOCKET_BATCH plus one piece', async (t) => {
  const { a, b, stream } = await splicedPair(t);
  b.pause(); // never reads: the kernel's buffers fill, then the pair's own
  const piece = Buffer.alloc(16 * 1024, 0x62);
  let most = 0;
  // Bounded: the kernel takes a few MiB on loopback before anything waits in the socket.
  for (let i = 0; i < 4000 && !stream.isPaused(); i++) {
    stream.push(piece);
    most = Math.max(most, a.writableLength);
    await new Promise((r) => setImmediate(r));
    most = Math.max(most, a.writableLength);
  }
  assert.ok(stream.isPaused(), 'the stream was paused');
  for (let i = 0; i < 20; i++) {
    stream.push(piece); // what arrives now waits in the stream, not on the socket
    await new Promise((r) => setImmediate(r));
    most = Math.max(most, a.writableLength);
  }
  assert.ok(most <= SOCKET_BATCH + piece.length, `socket held ${most} bytes`);
});

test('splice: one-byte chunks for a socket that is behind pause the stream after CHUNKS_BEHIND_MAX, and it resumes', async (t) => {
  const { a, b, stream } = await splicedPair(t);
  b.pause();
  // Fill the kernel's buffers with chunks too small to batch until a few bytes wait on the socket: it
  // is behind, under its 16 KiB mark, and the stream still flows (bounded).
  const chunk = Buffer.alloc(7 * 1024, 0x63);
  for (let i = 0; i < 8000 && a.writableLength === 0; i++) {
    stream.push(chunk);
    await new Promise((r) => setImmediate(r));
  }
  assert.ok(a.writableLength > 0, 'the socket is behind');
  assert.equal(stream.isPaused(), false);
  let pushed = 0;
  for (let i = 0; i < 1000 && !stream.isPaused(); i++) {
    stream.push(Buffer.of(i & 0xff));
    pushed++;
    await new Promise((r) => process.nextTick(r));
  }
  assert.ok(stream.isPaused(), 'the stream was paused');
  assert.ok(pushed <= CHUNKS_BEHIND_MAX + 1, `${pushed} one-byte chunks went to the socket first`);
  b.resume(); // the reader comes back: the stream flows again
  for (let i = 0; i < 200 && stream.isPaused(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(stream.isPaused(), false, 'the stream resumed once the socket caught up');
});

// A destination that answers and closes while we still write (its close a RST, our data unread). The
// answer waits in our kernel until libuv's next poll reads it; a write made before that poll fails, and
// Node destroys the socket, answer unread. The test makes that write in the same loop turn (the
// destination is in this process: its write and close happen at once, then the loop is held for 100 ms
// while they arrive). With keepReplyOnWriteError the answer comes out as 'data' before the error;
// without, it is lost (checked too, so the test can fail).
for (const kept of [true, false]) {
  const what = kept ? 'is kept' : 'is lost without it';
  test(`keepReplyOnWriteError: an answer sent before a reset ${what}`, { timeout: 20_000 }, async () => {
    // pauseOnConnect: the destination never reads, so its close with our bytes unread is a RST.
    const server = net.createServer({ pauseOnConnect: true });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accepted = once(server, 'connection');
    const a = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1' });
    const [b] = (await accepted) as [net.Socket];
    await once(a, 'connect');
    if (kept) keepReplyOnWriteError(a);
    let got = Buffer.alloc(0);
    a.on('data', (c: Buffer) => (got = Buffer.concat([got, c])));
    const failed = once(a, 'error');
    const answer = Buffer.from('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n');
    await new Promise<void>((resolve) => a.write(Buffer.alloc(1024, 1), () => resolve()));
    b.write(answer);
    b.destroy();
    for (const until = Date.now() + 100; Date.now() < until;); // the answer and the RST arrive
    a.write(Buffer.alloc(1024, 2));
    const [err] = (await failed) as [NodeJS.ErrnoException];
    assert.match(err.syscall ?? '', /^write/);
    server.close();
    if (kept) assert.equal(got.toString(), answer.toString());
    else assert.equal(got.length, 0);
  });
}
