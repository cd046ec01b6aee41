import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { once } from 'node:events';
import { TunnelError } from '../errors.js';
import { withLimits, type Limits } from '../limits.js';
import { silentLogger } from '../log.js';
import { encodeHeader, FLAG_SYN, INITIAL_WINDOW, TYPE_DATA, TYPE_PING, TYPE_WINDOW_UPDATE } from './frame.js';
import { encodeOpen, OPEN_CONNECT, type Open } from './open.js';
import { Session } from './session.js';
import { whenConnected, type MuxStream } from './stream.js';

// Two real TCP sockets on loopback; sessions run over any Duplex, so TLS is not needed here.
async function socketPair(): Promise<[net.Socket, net.Socket, () => void]> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const accepted = once(server, 'connection');
  const a = net.connect(port, '127.0.0.1');
  const [b] = (await accepted) as [net.Socket];
  await once(a, 'connect');
  return [a, b, () => server.close()];
}

interface Pair {
  client: Session;
  server: Session;
  opened: { stream: MuxStream; open: Open }[];
  next(): Promise<{ stream: MuxStream; open: Open }>;
  rawClient: net.Socket;
  rawServer: net.Socket;
  done(): void;
}

async function sessionPair(
  onStream?: (s: MuxStream, o: Open) => void,
  clientLimits: Partial<Limits> = {},
  serverLimits: Partial<Limits> = {},
): Promise<Pair> {
  const [a, b, stop] = await socketPair();
  const opened: Pair['opened'] = [];
  const waiting: ((v: { stream: MuxStream; open: Open }) => void)[] = [];
  const client = new Session(a, {
    role: 'client',
    limits: withLimits(clientLimits),
    log: silentLogger,
    peer: 'c',
  });
  const server = new Session(b, {
    role: 'server',
    limits: withLimits(serverLimits),
    log: silentLogger,
    peer: 's',
    onStream: (stream, open) => {
      opened.push({ stream, open });
      waiting.shift()?.({ stream, open });
      onStream?.(stream, open);
    },
  });
  return {
    client,
    server,
    opened,
    rawClient: a,
    rawServer: b,
    next: () =>
      opened.length > waiting.length
        ? Promise.resolve(opened[waiting.length]!)
        : new Promise((r) => waiting.push(r)),
    done: () => {
      client.destroy();
      server.destroy();
      stop();
    },
  };
}

function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on('data', (c: Buffer) => parts.push(c));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
}

test('open carries the target as given; accept, echo, half-close both ways', async () => {
  const p = await sessionPair((s) => {
    s.accept();
    const parts: Buffer[] = [];
    s.on('data', (c: Buffer) => parts.push(c));
    s.on('end', () => {
      // Our read side ended (client FIN); we can still write: half-close.
      s.write(Buffer.concat(parts));
      s.end('!');
    });
  });
  const stream = p.client.open({ host: 'example.test', port: 8080 });
  stream.write('optimistic ');
  await whenConnected(stream, 5000);
  const closed = once(stream, 'close');
  stream.end('hello');
  const got = await readAll(stream);
  assert.equal(got.toString(), 'optimistic hello!');
  assert.deepEqual(p.opened[0]!.open, {
    command: OPEN_CONNECT,
    target: { host: 'example.test', port: 8080 },
  });
  await closed;
  assert.equal(p.client.streamCount, 0);
  p.done();
});

test('reject(code) reaches the opener as that code', async () => {
  const p = await sessionPair((s) => s.reject('policy'));
  const stream = p.client.open({ host: '127.0.0.1', port: 22 });
  await assert.rejects(
    whenConnected(stream, 5000),
    (e: unknown) => e instanceof TunnelError && e.code === 'policy',
  );
  p.done();
});

test('a reader that never reads holds at most its window; another stream keeps flowing', async () => {
  const p = await sessionPair((s, o) => {
    s.accept();
    if (o.target.port === 2) s.pipe(s); // echo
    // port 1: never read
  });
  const stuck = p.client.open({ host: 'h', port: 1 });
  await whenConnected(stuck, 5000);
  const chunk = Buffer.alloc(64 * 1024, 1);
  let accepted = 0;
  for (let i = 0; i < 64 && stuck.write(chunk); i++) accepted += chunk.length;
  await new Promise((r) => setTimeout(r, 200));
  const { stream: serverSide } = p.opened[0]!;
  // What reached the never-reading side is bounded by the initial window (it never grew: nothing consumed).
  assert.ok(serverSide.readableLength <= INITIAL_WINDOW, `buffered ${serverSide.readableLength}`);
  assert.ok(accepted < 4 * 1024 * 1024, 'writer was held back');
  const echo = p.client.open({ host: 'h', port: 2 });
  await whenConnected(echo, 5000);
  const body = Buffer.alloc(3 * 1024 * 1024, 9);
  echo.end(body);
  const back = await readAll(echo);
  assert.equal(back.length, body.length);
  p.done();
});

test('a broken link errors every stream with link-down: never a clean end', async () => {
  const p = await sessionPair((s) => s.accept());
  const stream = p.client.open({ host: 'h', port: 1 });
  await whenConnected(stream, 5000);
  let ended = false;
  stream.on('end', () => (ended = true));
  const errored = once(stream, 'error');
  p.rawServer.destroy();
  const [err] = (await errored) as [TunnelError];
  assert.equal(err.code, 'link-down');
  assert.equal(ended, false);
  p.done();
});

test('stream limit: the opener is refused at its own limit, the acceptor answers limit', async () => {
  const p = await sessionPair((s) => s.accept(), { streamsPerLink: 3 }, { streamsPerLink: 2 });
  const a = p.client.open({ host: 'h', port: 1 });
  const b = p.client.open({ host: 'h', port: 1 });
  const c = p.client.open({ host: 'h', port: 1 });
  await whenConnected(a, 5000);
  await whenConnected(b, 5000);
  await assert.rejects(
    whenConnected(c, 5000),
    (e: unknown) => e instanceof TunnelError && e.code === 'limit',
  );
  assert.throws(
    () => {
      p.client.open({ host: 'h', port: 1 });
      p.client.open({ host: 'h', port: 1 });
    },
    (e: unknown) => e instanceof TunnelError && e.code === 'limit',
  );
  p.done();
});

async function expectProtocolClose(bytes: Buffer[], expect: RegExp): Promise<void> {
  const p = await sessionPair((s) => s.accept());
  const closed = once(p.server, 'close');
  const gotBack: Buffer[] = [];
  p.rawClient.removeAllListeners('data');
  p.rawClient.on('data', (c: Buffer) => gotBack.push(c));
  for (const b of bytes) p.rawClient.write(b);
  const [err] = (await closed) as [TunnelError];
  assert.equal(err.code, 'protocol');
  assert.match(err.message, expect);
  await new Promise((r) => setTimeout(r, 50));
  // The offender is told why: a GO_AWAY with code 1 (protocol error) precedes the close.
  const all = Buffer.concat(gotBack);
  assert.ok(all.includes(Buffer.from('000300000000000000000001', 'hex')), 'GO_AWAY(protocol error) sent');
  p.done();
}

const syn = (id: number, port: number): Buffer => {
  const open = encodeOpen({ command: OPEN_CONNECT, target: { host: '127.0.0.1', port } });
  return Buffer.concat([encodeHeader(TYPE_DATA, FLAG_SYN, id, open.length), open]);
};

test('garbage closes the link with GO_AWAY(protocol error)', async () => {
  await expectProtocolClose([Buffer.from('GET / HTTP/1.1\r\n\r\n')], /version/);
});

test('reused and wrong-parity stream ids are protocol errors', async () => {
  await expectProtocolClose([syn(1, 80), syn(1, 80)], /reused/);
  await expectProtocolClose([syn(2, 80)], /bad or reused/);
});

test('data beyond the window is a protocol error', async () => {
  const over = Buffer.alloc(200 * 1024);
  const frame = (n: number): Buffer => Buffer.concat([encodeHeader(TYPE_DATA, 0, 1, n), over.subarray(0, n)]);
  await expectProtocolClose([syn(1, 80), frame(200 * 1024), frame(200 * 1024)], /exceed window/);
});

test('window update overflow and SYN on a non-DATA frame are protocol errors', async () => {
  await expectProtocolClose([syn(1, 80), encodeHeader(TYPE_WINDOW_UPDATE, 0, 1, 0xffffffff)], /overflows/);
  await expectProtocolClose([encodeHeader(TYPE_WINDOW_UPDATE, FLAG_SYN, 1, 0)], /SYN on frame type/);
});

test('PINGs are answered and the round trip measured', async () => {
  const p = await sessionPair();
  if (p.client.rttMs() === 0) await once(p.client, 'rtt');
  assert.ok(p.client.rttMs() > 0);
  p.done();
});

test('a peer that stops answering PINGs is declared dead (link-down)', async () => {
  const [a, b, stop] = await socketPair();
  b.on('data', () => {}); // a silent peer: reads, never answers
  const s = new Session(a, {
    role: 'client',
    limits: withLimits({ pingIntervalMs: 50, pingTimeoutMs: 100 }),
    log: silentLogger,
    peer: 'x',
  });
  const [err] = (await once(s, 'close')) as [TunnelError];
  // Silent from the start (a relay stopped right after the handshake): a dead link, not a refused key.
  assert.equal(err.code, 'link-down');
  assert.equal((err.cause as TunnelError).code, 'timeout');
  b.destroy();
  stop();
});

test('a peer that closes before its first frame is read as a refusal of our key (link-auth)', async () => {
  const [a, b, stop] = await socketPair();
  const s = new Session(a, { role: 'client', limits: withLimits({}), log: silentLogger, peer: 'x' });
  const closed = once(s, 'close');
  b.end(); // what a relay does with a key it does not allow, once TLS 1.3 has finished
  const [err] = (await closed) as [TunnelError];
  assert.equal(err.code, 'link-auth');
  assert.match(err.message, /without accepting this client's key/);
  stop();
});

test('graceful close: GO_AWAY stops new streams, running ones finish', async () => {
  const p = await sessionPair((s) => {
    s.accept();
    s.pipe(s);
  });
  const stream = p.client.open({ host: 'h', port: 1 });
  await whenConnected(stream, 5000);
  const goaway = once(p.client, 'goaway');
  p.server.close();
  await goaway;
  assert.equal(p.client.usable, false);
  assert.throws(
    () => p.client.open({ host: 'h', port: 1 }),
    (e: unknown) => e instanceof TunnelError,
  );
  const serverClosed = once(p.server, 'close');
  stream.end('bye');
  assert.equal((await readAll(stream)).toString(), 'bye');
  await serverClosed;
  p.done();
});

test('PING frames with SYN get an ACK with the same opaque value', async () => {
  const p = await sessionPair();
  const back: Buffer[] = [];
  p.rawClient.removeAllListeners('data');
  p.rawClient.on('data', (c: Buffer) => back.push(c));
  p.rawClient.write(encodeHeader(TYPE_PING, FLAG_SYN, 0, 0x01020304));
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(Buffer.concat(back).includes(Buffer.from('000200020000000001020304', 'hex')));
  p.done();
});

test('PING or GO_AWAY on a stream other than 0 is a protocol error', async () => {
  await expectProtocolClose([encodeHeader(TYPE_PING, FLAG_SYN, 5, 1)], /on stream 5/);
});

test('a stream idle past streamIdleTimeoutMs is reset with timeout; a busy one is not', async () => {
  const p = await sessionPair(
    (s) => {
      s.accept();
      s.pipe(s);
    },
    { streamIdleTimeoutMs: 100 },
  );
  const idle = p.client.open({ host: 'h', port: 1 });
  const busy = p.client.open({ host: 'h', port: 2 });
  await whenConnected(idle, 5000);
  await whenConnected(busy, 5000);
  const errored = once(idle, 'error');
  let busyFailed = false;
  busy.on('error', () => (busyFailed = true));
  busy.resume();
  // Keep `busy` moving until `idle` has been reset (bounded: at most 100 rounds).
  for (let i = 0; i < 100 && !idle.destroyed; i++) {
    busy.write('x');
    await new Promise((r) => setTimeout(r, 20));
  }
  const [err] = (await errored) as [TunnelError];
  assert.equal(err.code, 'timeout');
  assert.equal(busyFailed, false);
  p.done();
});

test('shutdown: GO_AWAY, then what is still running after the grace is reset', async () => {
  const p = await sessionPair((s) => s.accept());
  const stream = p.client.open({ host: 'h', port: 1 });
  await whenConnected(stream, 5000);
  const errored = once(stream, 'error');
  await p.server.shutdown(100);
  const [err] = (await errored) as [TunnelError];
  assert.equal(err.code, 'link-down');
  p.done();
});

test('a PING flood closes the offending link; PINGs within the limit are answered', async () => {
  const ping = (n: number): Buffer => encodeHeader(TYPE_PING, FLAG_SYN, 0, n);
  await expectProtocolClose(
    Array.from({ length: 60 }, (_, i) => ping(i)),
    /PING flood: over 50 in 1 s/,
  );
  const p = await sessionPair();
  try {
    const back: Buffer[] = [];
    p.rawClient.removeAllListeners('data');
    p.rawClient.on('data', (c: Buffer) => back.push(c));
    for (let i = 0; i < 40; i++) p.rawClient.write(ping(1000 + i));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(p.server.alive, true, 'forty PINGs in a second are not a flood');
    // PING|ACK echoing 1039 (0x40f), the 40th request
    assert.ok(
      Buffer.concat(back).includes(Buffer.from('00020002000000000000040f', 'hex')),
      'the 40th was answered',
    );
  } finally {
    p.done();
  }
});

test('streamWindowMax caps how far a fast stream window grows: a reader that then stops holds at most that', async (t) => {
  const MiB = 1024 * 1024;
  /** Reads 16 MiB as fast as it comes (the window grows), then stops reading; what piles up at the reader. */
  async function heldAfterStop(cap: number): Promise<number> {
    let server!: MuxStream;
    const p = await sessionPair(
      (s) => {
        s.accept();
        server = s;
      },
      {},
      { streamWindowMax: cap },
    );
    const s = p.client.open({ host: 'h', port: 1 });
    await whenConnected(s, 5000);
    let read = 0;
    const stopped = new Promise<void>((resolve) => {
      server.on('data', (c: Buffer) => {
        read += c.length;
        if (read >= 16 * MiB) {
          server.pause();
          resolve();
        }
      });
    });
    const chunk = Buffer.alloc(64 * 1024, 3);
    let writing = true;
    const pump = (async () => {
      for (let i = 0; writing && i < 2000; i++) {
        if (!s.write(chunk)) await Promise.race([once(s, 'drain'), new Promise((r) => setTimeout(r, 200))]);
      }
    })();
    await stopped;
    await new Promise((r) => setTimeout(r, 300)); // what was in flight lands
    // Held at the reader: the readable buffer plus the stream's own queue behind it.
    const held = server.readableLength + (server as unknown as { queued: number }).queued;
    writing = false;
    await pump;
    p.done();
    return held;
  }
  const capped = await heldAfterStop(512 * 1024);
  assert.ok(capped <= 512 * 1024, `held ${capped} bytes with streamWindowMax 512 KiB`);
  // The control: with room to grow, the same reader holds more, so the bound above is the cap's doing.
  const roomy = await heldAfterStop(8 * MiB);
  t.diagnostic(`held after the reader stopped: ${capped} bytes (cap 512 KiB), ${roomy} bytes (cap 8 MiB)`);
  assert.ok(roomy > 512 * 1024, `held only ${roomy} bytes with streamWindowMax 8 MiB: the window never grew`);
});

test('small payloads that wait for a paused reader are gathered; every byte arrives, in order', async () => {
  let serverSide: MuxStream | undefined;
  const p = await sessionPair((s) => {
    s.accept();
    s.pause(); // the reader is away while the writes arrive
    serverSide = s;
  });
  const stream = p.client.open({ host: 'h', port: 1 });
  await whenConnected(stream, 5000);
  // Writes of 1..300 bytes with a large one now and then, each its own frame (one per tick).
  const parts: Buffer[] = [];
  let seed = 7;
  const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n) + 1;
  for (let i = 0; i < 1500; i++) {
    const part = Buffer.alloc(i % 500 === 499 ? 20_000 : rand(200), i & 0xff);
    parts.push(part);
    stream.write(part);
    if (i % 50 === 0) await new Promise((r) => setImmediate(r));
  }
  const sent = Buffer.concat(parts);
  assert.ok(sent.length < INITIAL_WINDOW, 'all of it fits the initial window');
  await waitForBytes(() => serverSide?.readableLength ?? 0, 1); // some arrived while paused
  await new Promise((r) => setTimeout(r, 200));
  const got: Buffer[] = [];
  serverSide!.on('data', (c: Buffer) => got.push(c));
  serverSide!.resume();
  stream.end();
  await once(serverSide!, 'end');
  assert.ok(Buffer.concat(got).equals(sent), 'the bytes arrived intact and in order');
  // The reader's own buffer took its first 64 KiB chunk by chunk; what waited beyond it was gathered
  // into 16 KiB blocks (the few 20 000-byte writes are kept as they came).
  let offset = 0;
  let later = 0;
  for (const c of got) {
    if (offset >= 80 * 1024) later++;
    offset += c.length;
  }
  const bound = Math.ceil((sent.length - 80 * 1024) / (16 * 1024)) + 3 * 2 + 2;
  assert.ok(later <= bound, `${later} chunks past the first 80 KiB (bound ${bound})`);
  p.done();
});

async function waitForBytes(n: () => number, atLeast: number): Promise<void> {
  for (let i = 0; i < 500 && n() < atLeast; i++) await new Promise((r) => setTimeout(r, 10));
}

test('probe: true when the peer answers, false when it has gone silent or the link is closed', async () => {
  const p = await sessionPair();
  try {
    assert.equal(await p.server.probe(10_000), true);
    assert.equal(await p.client.probe(10_000), true);
    p.rawClient.pause(); // the client reads nothing more, so it answers no PING
    assert.equal(await p.server.probe(300), false);
    p.client.destroy();
    assert.equal(await p.client.probe(10_000), false);
  } finally {
    p.done();
  }
});
