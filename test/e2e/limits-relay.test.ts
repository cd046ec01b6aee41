// Each relay-side limit of src/limits.ts, exceeded against a real `ett relay` process set up with small
// values in its config's [limits]: the documented outcome is seen (a closed connection, GO_AWAY, a
// SOCKS reply code, a log line naming the limit) while a well-behaved client is served at that moment.

import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Cleanup, keygen, tempDir, waitFor, type Client, type Key } from '../support/proc.js';
import {
  RawLink,
  relayLogged,
  startEcho,
  startHangingTarget,
  startLimitedClient,
  startLimitedRelay,
} from '../support/limits.js';
import { Conn, socks5Connect } from '../support/socks.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

let dir: string;
let echo: { port: number; open(): number };
let good: Key;
let other: Key;

before(async () => {
  dir = await tempDir(cleanup);
  echo = await startEcho(cleanup);
  good = await keygen(dir, 'good');
  other = await keygen(dir, 'other');
});

/** An echo round trip through the client's SOCKS5 port: the client is being served. */
async function served(client: Client, what = 'the good client'): Promise<void> {
  const r = await socks5Connect(client.port, '127.0.0.1', echo.port);
  try {
    assert.equal(r.reply, 0, `${what}: SOCKS5 reply`);
    r.conn.socket.write('still here');
    assert.equal((await r.conn.read(10)).toString(), 'still here', `${what}: echo`);
  } finally {
    r.conn.destroy();
  }
}

/** A raw TCP connection from `source` that sends `bytes` and then waits. */
function rawFrom(port: number, source: string, bytes = Buffer.alloc(0)): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: source, allowHalfOpen: true });
    const c = new Conn(s);
    cleanup.add(() => void s.destroy());
    s.once('connect', () => {
      if (bytes.length > 0) s.write(bytes);
      resolve(c);
    });
    s.once('error', reject);
  });
}

// The first bytes of a TLS ClientHello record (handshake, TLS 1.0 record version, a long length).
const HELLO_START = Buffer.from('16030102000100', 'hex');

describe('handshake limits', () => {
  test(
    'handshake_timeout_ms: TLS handshakes that trickle are closed at the deadline, logged; the good client is served',
    { timeout: 90_000 },
    async () => {
      const relayKey = await keygen(dir, 'r-hs');
      const relay = await startLimitedRelay(cleanup, dir, relayKey, {
        allow: [good.pin],
        exit: [`accept 127.0.0.1:${echo.port}`],
        limits: { handshake_timeout_ms: 1500 },
        name: 'r-hs',
      });
      const client = await startLimitedClient(cleanup, dir, good, relay.share, {}, 'c-hs');
      await served(client);
      // Five slowloris connections, each sending one more byte of a ClientHello every 300 ms.
      const slow = await Promise.all([1, 2, 3, 4, 5].map(() => rawFrom(relay.port, '127.0.0.1')));
      let sent = 0;
      for (let round = 0; round < 60 && slow.some((c) => !c.closed); round++) {
        for (const c of slow)
          if (!c.closed && round < HELLO_START.length) c.socket.write(HELLO_START.subarray(round, round + 1));
        sent++;
        if (round % 5 === 0) await served(client);
        await new Promise((r) => setTimeout(r, 300));
      }
      assert.ok(
        slow.every((c) => c.closed),
        'every trickling handshake was closed',
      );
      assert.equal(
        slow.reduce((n, c) => n + c.total, 0),
        0,
        'the relay sent them nothing',
      );
      await relayLogged(relay.proc, /TLS handshake failed from 127\.0\.0\.1: .*timeout/i);
      console.log(`# 5 trickling handshakes closed after ${sent} rounds of 300 ms`);
      await served(client);
    },
  );

  describe('in flight and per source', () => {
    let relay: Awaited<ReturnType<typeof startLimitedRelay>>;
    let client: Client;
    before(async () => {
      const relayKey = await keygen(dir, 'r-hl');
      relay = await startLimitedRelay(cleanup, dir, relayKey, {
        allow: [good.pin],
        exit: [`accept 127.0.0.1:${echo.port}`],
        limits: { handshake_timeout_ms: 60_000, handshakes_in_flight: 6, handshakes_per_source: 3 },
        name: 'r-hl',
      });
      client = await startLimitedClient(cleanup, dir, good, relay.share, {}, 'c-hl');
      await served(client);
    });

    test(
      'handshakes_per_source: the 4th unfinished handshake from one address is closed at once; another address links and is served',
      { timeout: 60_000 },
      async () => {
        const held = await Promise.all([1, 2, 3].map(() => rawFrom(relay.port, '127.0.0.2', HELLO_START)));
        const extra = await rawFrom(relay.port, '127.0.0.2', HELLO_START);
        await withClosed(extra, 'the 4th connection from 127.0.0.2');
        assert.ok(
          held.every((c) => !c.closed),
          'the three within the limit are still waiting',
        );
        await relayLogged(
          relay.proc,
          /handshake limit: closed 1 new connection\(s\) at handshakes_per_source \(3\) from 127\.0\.0\.2/,
        );
        // A fresh link from 127.0.0.1 (a new client process) is admitted and served.
        const fresh = await startLimitedClient(cleanup, dir, good, relay.share, {}, 'c-hl2');
        await served(fresh, 'a fresh client');
        await served(client);
        await fresh.proc.stop();
        for (const c of held) c.destroy();
        await waitFor(() => held.every((c) => c.closed), 5_000, 'the held connections to close');
      },
    );

    test(
      'handshakes_in_flight: with 6 unfinished handshakes from 2 addresses, a 7th from a third is closed at once; linked clients are served',
      { timeout: 60_000 },
      async () => {
        const held = [
          ...(await Promise.all([1, 2, 3].map(() => rawFrom(relay.port, '127.0.0.3', HELLO_START)))),
          ...(await Promise.all([1, 2, 3].map(() => rawFrom(relay.port, '127.0.0.4', HELLO_START)))),
        ];
        const extra = await rawFrom(relay.port, '127.0.0.5', HELLO_START);
        await withClosed(extra, 'a 7th handshake from 127.0.0.5');
        await relayLogged(
          relay.proc,
          /handshake limit: closed \d+ new connection\(s\) at handshakes_in_flight \(6\)/,
        );
        await served(client, 'the client linked before the flood');
        for (const c of held) c.destroy();
        await waitFor(() => held.every((c) => c.closed), 5_000, 'the held connections to close');
        // Their slots come back once the relay sees them go (a moment after us, so probe a bounded
        // number of times): an unfinished handshake from a flooded address then waits, not closed.
        let attempts = 0;
        for (; attempts < 20; attempts++) {
          const probe = await rawFrom(relay.port, '127.0.0.3', HELLO_START);
          await new Promise((r) => setTimeout(r, 250));
          const waiting = !probe.closed;
          probe.destroy();
          if (waiting) break;
        }
        assert.ok(attempts < 20, 'the slots of the flood came back');
        const fresh = await startLimitedClient(cleanup, dir, good, relay.share, {}, 'c-hl3');
        await served(fresh, 'a client linking after the flood');
        await fresh.proc.stop();
      },
    );
  });
});

async function withClosed(c: Conn, what: string): Promise<void> {
  const { data } = await c.finish(5_000).catch((err: Error) => {
    throw new Error(
      `${what} should be closed at once (well before the 60 s handshake deadline): ${err.message}`,
    );
  });
  assert.equal(data.length, 0, `${what}: nothing sent back`);
}

describe('links and exit sockets per client', () => {
  let relay: Awaited<ReturnType<typeof startLimitedRelay>>;
  let client: Client;
  let third: Key;
  before(async () => {
    third = await keygen(dir, 'third');
    const relayKey = await keygen(dir, 'r-links');
    relay = await startLimitedRelay(cleanup, dir, relayKey, {
      allow: [good.pin, other.pin, third.pin],
      exit: [`accept 127.0.0.1:${echo.port}`],
      limits: { links_per_client: 2, links_max: 4, exit_sockets_per_client: 2 },
      name: 'r-links',
    });
    client = await startLimitedClient(cleanup, dir, good, relay.share, {}, 'c-links');
    await served(client);
  });

  test(
    'links_per_client: a third link with one key gets GO_AWAY and is closed, logged; other keys are served',
    { timeout: 60_000 },
    async () => {
      const a = await RawLink.open(other, relay.share, cleanup);
      const b = await RawLink.open(other, relay.share, cleanup);
      const c = await RawLink.open(other, relay.share, cleanup);
      await c.waitClosed();
      assert.equal(c.goAway(), 2, 'GO_AWAY (internal error): refused for a limit, not for the key');
      await relayLogged(
        relay.proc,
        /refused link from client \S+: limit: links_per_client \(2\) reached for this key/,
      );
      assert.ok(!a.closed && !b.closed, 'the two links within the limit stay up');
      await served(client);
      a.sock.destroy();
      b.sock.destroy();
    },
  );

  test(
    'links_max: with 4 links held by 3 keys, a 5th is closed, logged; the linked client is served',
    { timeout: 60_000 },
    async () => {
      const held = [
        await RawLink.open(other, relay.share, cleanup),
        await RawLink.open(other, relay.share, cleanup),
        await RawLink.open(third, relay.share, cleanup),
      ]; // with the good client's link: 4
      const extra = await RawLink.open(third, relay.share, cleanup);
      await extra.waitClosed();
      assert.equal(extra.goAway(), 2);
      await relayLogged(
        relay.proc,
        /refused link from client \S+: limit: links_max \(4\) reached on this relay/,
      );
      assert.ok(
        held.every((l) => !l.closed),
        'the links held stay up',
      );
      await served(client, 'the client linked before');
      for (const l of held) l.sock.destroy();
    },
  );

  test(
    'exit_sockets_per_client: a key holding 2 exit connections (over 2 links) gets result limit (SOCKS 0x01) for a 3rd; another key is served',
    { timeout: 60_000 },
    async () => {
      const second = await startLimitedClient(cleanup, dir, good, relay.share, {}, 'c-links2');
      const h1 = await socks5Connect(client.port, '127.0.0.1', echo.port);
      const h2 = await socks5Connect(second.port, '127.0.0.1', echo.port);
      assert.deepEqual([h1.reply, h2.reply], [0, 0]);
      const refused = await socks5Connect(second.port, '127.0.0.1', echo.port);
      assert.equal(refused.reply, 0x01, 'SOCKS5 general failure: the relay answered limit');
      refused.conn.destroy();
      await relayLogged(relay.proc, /limit: exit_sockets_per_client \(2\) reached for this key/);
      const stranger = await startLimitedClient(cleanup, dir, third, relay.share, {}, 'c-links3');
      await served(stranger, 'a client with another key');
      // Closing one held connection frees its exit socket for the same key.
      h1.conn.destroy();
      await waitFor(() => echo.open() <= 1, 10_000, 'the exit socket to close');
      const again = await socks5Connect(second.port, '127.0.0.1', echo.port);
      assert.equal(again.reply, 0, 'below the cap again');
      again.conn.destroy();
      h2.conn.destroy();
      await second.proc.stop();
      await stranger.proc.stop();
    },
  );
});

describe('out of file descriptors', () => {
  test(
    'a relay whose open-files limit is reached refuses the streams beyond it (SOCKS 0x01), warns once a second, and serves again once they close',
    { timeout: 90_000 },
    async () => {
      const relay = await startLimitedRelay(cleanup, dir, await keygen(dir, 'r-fds'), {
        allow: [good.pin],
        exit: [`accept 127.0.0.1:${echo.port}`],
        name: 'r-fds',
        openFilesMax: 128, // node itself holds about 20
      });
      const client = await startLimitedClient(cleanup, dir, good, relay.share, {}, 'c-fds');
      await served(client);
      const opened = await Promise.all(
        Array.from({ length: 200 }, () => socks5Connect(client.port, '127.0.0.1', echo.port)),
      );
      const replies = opened.map((r) => r.reply);
      const ok = replies.filter((r) => r === 0).length;
      assert.ok(ok > 50 && ok < 128, `${ok} of 200 connected under a limit of 128 descriptors`);
      assert.ok(
        replies.every((r) => r === 0 || r === 0x01),
        `the rest: general failure (limit): ${[...new Set(replies)].join(',')}`,
      );
      await relayLogged(
        relay.proc,
        /relay: out of file descriptors \(EMFILE on exit connect\): \d+ connection\(s\) refused; raise the open-files limit/,
      );
      const warnings = relay.proc.errLines.filter((l) => /out of file descriptors/.test(l)).length;
      console.log(
        `# open files 128: ${ok} of 200 streams connected, ${200 - ok} refused, ${warnings} warning(s)`,
      );
      assert.ok(warnings <= 3, `${warnings} warnings for ${200 - ok} refusals: counted, not one each`);
      for (const r of opened) r.conn.destroy();
      await waitFor(() => echo.open() === 0, 20_000, 'the exit sockets to close');
      assert.ok(relay.proc.alive, 'the relay is still running');
      for (let i = 0; i < 5; i++) await served(client, `after the flood (${i + 1})`);
      await client.proc.stop();
      await relay.proc.stop();
    },
  );
});

describe('streams, connects, PINGs, shutdown', () => {
  test(
    'streams_per_link: a 3rd open stream on a link is answered limit (SOCKS 0x01); another link is served',
    { timeout: 60_000 },
    async () => {
      const relayKey = await keygen(dir, 'r-st');
      const relay = await startLimitedRelay(cleanup, dir, relayKey, {
        allow: [good.pin, other.pin],
        exit: [`accept 127.0.0.1:${echo.port}`],
        limits: { streams_per_link: 2 },
        name: 'r-st',
      });
      const client = await startLimitedClient(cleanup, dir, other, relay.share, {}, 'c-st');
      const goodClient = await startLimitedClient(cleanup, dir, good, relay.share, {}, 'c-st2');
      const held = [
        await socks5Connect(client.port, '127.0.0.1', echo.port),
        await socks5Connect(client.port, '127.0.0.1', echo.port),
      ];
      assert.deepEqual(
        held.map((h) => h.reply),
        [0, 0],
      );
      const third = await socks5Connect(client.port, '127.0.0.1', echo.port);
      assert.equal(third.reply, 0x01, 'result limit is SOCKS5 0x01');
      third.conn.destroy();
      await relayLogged(relay.proc, /stream limit 2 reached/);
      await served(goodClient, 'a client on another link');
      for (const h of held) h.conn.destroy();
    },
  );

  test(
    'connect_timeout_ms: an exit connect that hangs is answered timeout (SOCKS 0x06); the good client is served meanwhile',
    { timeout: 60_000 },
    async () => {
      const hanging = await startHangingTarget(cleanup);
      const relayKey = await keygen(dir, 'r-ct');
      const relay = await startLimitedRelay(cleanup, dir, relayKey, {
        allow: [good.pin],
        exit: [`accept 127.0.0.1:${echo.port}`, `accept 127.0.0.1:${hanging}`],
        limits: { connect_timeout_ms: 1500 },
        name: 'r-ct',
      });
      const client = await startLimitedClient(cleanup, dir, good, relay.share, {}, 'c-ct');
      const pending = socks5Connect(client.port, '127.0.0.1', hanging);
      await served(client);
      const r = await pending;
      assert.equal(r.reply, 0x06, 'SOCKS5 TTL expired: the exit timed out');
      r.conn.destroy();
      await relayLogged(relay.proc, /timeout: connect timed out after 1500 ms/);
    },
  );

  test(
    'ping_timeout_ms: a link that stops answering PINGs is closed, logged; the good client is served',
    { timeout: 60_000 },
    async () => {
      const relayKey = await keygen(dir, 'r-pt');
      const relay = await startLimitedRelay(cleanup, dir, relayKey, {
        allow: [good.pin, other.pin],
        exit: [`accept 127.0.0.1:${echo.port}`],
        limits: { ping_interval_ms: 300, ping_timeout_ms: 1000 },
        name: 'r-pt',
      });
      const client = await startLimitedClient(cleanup, dir, good, relay.share, {}, 'c-pt');
      const dead = await RawLink.open(other, relay.share, cleanup);
      dead.answerPings = false;
      await dead.waitClosed();
      await relayLogged(relay.proc, /no PING answer in 1000 ms/);
      await served(client);
    },
  );

  test(
    'shutdown_grace_ms: on SIGTERM a running stream gets the grace, then is reset and the relay exits',
    { timeout: 60_000 },
    async () => {
      const relayKey = await keygen(dir, 'r-sg');
      const relay = await startLimitedRelay(cleanup, dir, relayKey, {
        allow: [good.pin],
        exit: [`accept 127.0.0.1:${echo.port}`],
        limits: { shutdown_grace_ms: 1000 },
        name: 'r-sg',
      });
      const client = await startLimitedClient(cleanup, dir, good, relay.share, {}, 'c-sg');
      const running = await socks5Connect(client.port, '127.0.0.1', echo.port);
      assert.equal(running.reply, 0);
      relay.proc.signal('SIGTERM');
      const exit = await relay.proc.exited;
      assert.equal(exit.code, 0, 'a clean exit after the grace');
      const end = await running.conn.finish(10_000);
      assert.ok(end.ended || end.error, 'the running stream was ended');
    },
  );
});
