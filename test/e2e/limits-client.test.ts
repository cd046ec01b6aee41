// The client-side limits of src/limits.ts, exceeded against real `ett client` and `ett relay` processes
// configured with small values in [limits]: the documented outcome (HTTP status, SOCKS reply, closed
// connection, exit status) while another application is served through the same port at that moment.

import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { after, before, test } from 'node:test';
import {
  Cleanup,
  curl,
  keygen,
  pinUrl,
  runEtt,
  tempDir,
  type Client,
  type Key,
  type Relay,
} from '../support/proc.js';
import { startEcho, startHangingTarget, startLimitedClient, startLimitedRelay } from '../support/limits.js';
import { Conn, socks5Connect } from '../support/socks.js';
import { startHttpTarget, testBody, type HttpTarget } from '../support/servers.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

let dir: string;
let echo: { port: number; open(): number };
let http: HttpTarget;
let hanging: number;
let key: Key;
let relay: Relay;

before(async () => {
  dir = await tempDir(cleanup);
  echo = await startEcho(cleanup);
  http = await startHttpTarget(cleanup, testBody(64 * 1024, 'limits-client'));
  hanging = await startHangingTarget(cleanup);
  key = await keygen(dir, 'client');
  relay = await startLimitedRelay(cleanup, dir, await keygen(dir, 'relay'), {
    allow: [key.pin],
    exit: [`accept 127.0.0.1:${echo.port}`, `accept 127.0.0.1:${http.port}`, `accept 127.0.0.1:${hanging}`],
    limits: { connect_timeout_ms: 60_000 },
  });
});

async function served(client: Client): Promise<void> {
  const r = await socks5Connect(client.port, '127.0.0.1', echo.port);
  try {
    assert.equal(r.reply, 0, 'the good application: SOCKS5 reply');
    r.conn.socket.write('ok?');
    assert.equal((await r.conn.read(3)).toString(), 'ok?');
  } finally {
    r.conn.destroy();
  }
}

test(
  'request_head_max: an HTTP head over it gets 431, a SOCKS5 greeting over it is closed; others are served',
  { timeout: 60_000 },
  async () => {
    const client = await startLimitedClient(
      cleanup,
      dir,
      key,
      relay.share,
      { request_head_max: 256 },
      'c-hm',
    );
    const url = `http://127.0.0.1:${http.port}/`;
    const statusWith = async (headers: string[]): Promise<string> => {
      const r = await curl([
        '-x',
        `http://${client.proxy}`,
        ...headers.flatMap((h) => ['-H', h]),
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        url,
      ]);
      return r.stdout.toString();
    };
    // 30 short fields: about 300 bytes on the wire, though node:http alone would count about 150.
    const many = Array.from({ length: 30 }, (_, i) => `X-${i}: b`);
    assert.equal(await statusWith(many), '431', 'many short fields over the limit');
    assert.equal(await statusWith([`X-Big: ${'b'.repeat(300)}`]), '431', 'one long field');
    const s5 = await Conn.open(client.port);
    s5.socket.write(Buffer.concat([Buffer.from([0x05, 0xff]), Buffer.alloc(255, 0x80)]).subarray(0, 256));
    const end = await s5.finish(10_000);
    assert.equal(end.data.length, 0, 'an oversized SOCKS5 greeting gets no answer, only a close');
    assert.equal(await statusWith(['X-Small: yes']), '200', 'a small head through the same port');
    await served(client);
  },
);

test(
  'request_head_timeout_ms: slowloris on the SOCKS/HTTP port (one byte a second) is closed; others are served',
  { timeout: 60_000 },
  async () => {
    const client = await startLimitedClient(
      cleanup,
      dir,
      key,
      relay.share,
      { request_head_timeout_ms: 1500 },
      'c-ht',
    );
    const socks = Buffer.from([0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x01, 127, 0, 0, 1, 0, 80]);
    const httpHead = Buffer.from(`GET http://127.0.0.1:${http.port}/ HTTP/1.1\r\nHost: x\r\n\r\n`);
    const slow = [
      ...(await Promise.all([1, 2, 3].map(() => Conn.open(client.port)))).map((c) => ({ c, bytes: socks })),
      ...(await Promise.all([1, 2, 3].map(() => Conn.open(client.port)))).map((c) => ({
        c,
        bytes: httpHead,
      })),
    ];
    let rounds = 0;
    for (; rounds < 30 && slow.some(({ c }) => !c.closed && !c.ended); rounds++) {
      for (const { c, bytes } of slow)
        if (!c.closed && rounds < bytes.length) c.socket.write(bytes.subarray(rounds, rounds + 1));
      if (rounds % 2 === 0) await served(client);
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.ok(
      slow.every(({ c }) => c.closed || c.ended),
      'every trickling application was disconnected',
    );
    assert.equal(
      slow.reduce((n, { c }) => n + c.total, 0),
      0,
      'none got a reply',
    );
    console.log(`# 6 slowloris applications disconnected within ${rounds} one-second rounds`);
    await client.proc.waitForLine(/request head deadline passed/, { stderr: true });
    await served(client);
  },
);

test(
  'open_timeout_ms: a stream whose result never comes is answered 0x06 / 504; others are served',
  { timeout: 60_000 },
  async () => {
    const client = await startLimitedClient(
      cleanup,
      dir,
      key,
      relay.share,
      { open_timeout_ms: 1500 },
      'c-ot',
    );
    const pending = socks5Connect(client.port, '127.0.0.1', hanging);
    await served(client);
    const r = await pending;
    assert.equal(r.reply, 0x06, 'SOCKS5 TTL expired');
    r.conn.destroy();
    const h = await curl([
      '-x',
      `http://${client.proxy}`,
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      `http://127.0.0.1:${hanging}/`,
    ]);
    assert.equal(h.stdout.toString(), '504');
    await served(client);
  },
);

test(
  'stream_idle_timeout_ms: a stream idle past it is reset; a new one is served',
  { timeout: 60_000 },
  async () => {
    const client = await startLimitedClient(
      cleanup,
      dir,
      key,
      relay.share,
      { stream_idle_timeout_ms: 1000 },
      'c-it',
    );
    const idle = await socks5Connect(client.port, '127.0.0.1', echo.port);
    assert.equal(idle.reply, 0);
    await served(client);
    const end = await idle.conn.finish(15_000);
    assert.ok(end.ended || end.error !== undefined, 'the idle connection was closed');
    await client.proc.waitForLine(/idle for 1000 ms, reset/, { stderr: true });
    await served(client);
  },
);

test(
  'path_length_max: a route longer than it is a config error (exit 2) naming the key',
  { timeout: 60_000 },
  async () => {
    const file = `${dir}/long.toml`;
    // Three distinct relays (never contacted: the route is refused before anything connects).
    const hops = await Promise.all(
      ['h1', 'h2', 'h3'].map(async (n) => `ett://${pinUrl((await keygen(dir, n)).pin)}@127.0.0.1:9`),
    );
    await fs.writeFile(
      file,
      `key = ${JSON.stringify(key.file)}\nlisten = "127.0.0.1:0"\nvia = ${JSON.stringify(hops.join(','))}\n[limits]\npath_length_max = 2\n`,
    );
    const r = await runEtt(['client', '--config', file]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /long\.toml: via: .*3 relays; at most 2 \(limits\.path_length_max\)/);
  },
);
