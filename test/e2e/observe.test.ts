// Seeing a running daemon: a real `ett relay` and `ett client`, their control sockets asked by
// `ett status` (text and --json), their metrics scraped over HTTP, JSON logs, and the control socket
// fed bad input (malformed requests, an over-long line, a client that stalls, many at once) while the
// daemon keeps serving.

import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { after, before, test } from 'node:test';
import type { Snapshot } from '../../src/link/census.js';
import { shortPin } from '../../src/wire/share-string.js';
import { startEcho } from '../support/limits.js';
import { scrape } from '../support/metrics.js';
import {
  certFile,
  Cleanup,
  ETT,
  keygen,
  Proc,
  runEtt,
  spawnEtt,
  tempDir,
  waitFor,
  type Key,
} from '../support/proc.js';
import { Conn, socks5Connect } from '../support/socks.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

let dir: string;
let runtime: string; // the client's XDG_RUNTIME_DIR: its control socket goes to the default place
let echo: { port: number };
let relayKey: Key;
let clientKey: Key;
let relay: Proc;
let client: Proc;
let relaySock: string;
let relayMetrics: string;
let clientMetrics: string;
let proxyPort: number;
let relayPort: number;

const IDLE_MS = 1500;
const CONNECTIONS_MAX = 4;

before(async () => {
  dir = await tempDir(cleanup);
  runtime = path.join(dir, 'run');
  await fs.mkdir(runtime, { mode: 0o700 });
  echo = await startEcho(cleanup);
  relayKey = await keygen(dir, 'relay');
  clientKey = await keygen(dir, 'client');
  relaySock = path.join(dir, 'relay.sock');
  const relayToml = path.join(dir, 'relay.toml');
  await fs.writeFile(
    relayToml,
    [
      `key = ${JSON.stringify(relayKey.file)}`,
      'listen = "127.0.0.1:0"',
      `allow = [${JSON.stringify(clientKey.pin)}]`,
      `exit = ["accept 127.0.0.1:${echo.port}", "reject *:*"]`,
      'control = "relay.sock"', // relative to this file's directory
      'metrics = "127.0.0.1:0"',
      '[limits]',
      `control_idle_timeout_ms = ${IDLE_MS}`,
      `control_connections_max = ${CONNECTIONS_MAX}`,
      'control_line_max = 1024',
    ].join('\n') + '\n',
  );
  relay = spawnEtt(cleanup, ['relay', '--config', relayToml]);
  const share = /(ett:\/\/\S+)/.exec(await relay.waitForLine(/ett:\/\//))![1]!;
  relayPort = Number(/:(\d+)$/.exec(share)![1]);
  assert.equal(/control: (\S+)/.exec(await relay.waitForLine(/ett relay control: /))![1], relaySock);
  relayMetrics = /metrics: (\S+)/.exec(await relay.waitForLine(/ett relay metrics: /))![1]!;

  // The client with XDG_RUNTIME_DIR set, so that its socket is found by `ett status` without --control.
  client = new Proc('/usr/bin/env', [
    `XDG_RUNTIME_DIR=${runtime}`,
    process.execPath,
    ETT,
    'client',
    '--key',
    clientKey.file,
    '--listen',
    '127.0.0.1:0',
    '--via',
    share,
    '--metrics',
    '127.0.0.1:0',
    '--log-format',
    'json',
  ]);
  cleanup.add(async () => void (await client.stop()));
  proxyPort = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(await client.waitForLine(/listening on /))![1]);
  clientMetrics = /metrics: (\S+)/.exec(await client.waitForLine(/ett client metrics: /))![1]!;
});

const xdg = (): NodeJS.ProcessEnv => ({ XDG_RUNTIME_DIR: runtime });

async function statusJson(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Snapshot> {
  const r = await runEtt(['status', '--json', ...args], 20_000, env);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.toString()) as Snapshot;
}

test('the default control socket is mode 0600 in a 0700 directory of ours', () => {
  const sock = path.join(runtime, 'ett', `client-${client.pid}.sock`);
  assert.ok(client.lines.includes(`ett client control: ${sock}`), client.lines.join('\n'));
  assert.equal(statSync(sock).mode & 0o777, 0o600);
  assert.equal(statSync(path.dirname(sock)).mode & 0o777, 0o700);
  assert.equal(statSync(relaySock).mode & 0o777, 0o600);
});

test('status shows the link, the circuit and an open stream with its target; bytes grow', async () => {
  const r = await socks5Connect(proxyPort, '127.0.0.1', echo.port);
  assert.equal(r.reply, 0);
  try {
    r.conn.socket.write(Buffer.alloc(1000, 1));
    await r.conn.read(1000);
    const target = `127.0.0.1:${echo.port}`;
    const c1 = await statusJson([], xdg()); // found in the runtime directory: the only daemon there
    assert.equal(c1.daemon, 'client');
    assert.equal(c1.pid, client.pid);
    const link = c1.links.find((l) => l.peer === shortPin(relayKey.pin));
    assert.ok(link, JSON.stringify(c1.links));
    assert.equal(link.dir, 'out');
    assert.ok(link.bytes_in > 1000 && link.bytes_out > 1000, JSON.stringify(link));
    assert.ok(link.rtt_ms > 0, 'RTT measured by PING');
    assert.deepEqual(c1.circuits[0]?.hops, [shortPin(relayKey.pin)]);
    const s1 = c1.streams.shown.find((s) => s.target === target);
    assert.ok(s1, JSON.stringify(c1.streams));
    assert.equal(s1.state, 'open');
    assert.ok(s1.bytes_out >= 1000 && s1.bytes_in >= 1000, JSON.stringify(s1));
    assert.deepEqual(
      c1.listeners.map((l) => l.kind),
      ['proxy'],
    );

    r.conn.socket.write(Buffer.alloc(5000, 2));
    await r.conn.read(5000);
    const c2 = await statusJson([], xdg());
    const s2 = c2.streams.shown.find((s) => s.target === target)!;
    assert.ok(s2.bytes_out >= s1.bytes_out + 5000, `${s2.bytes_out} after ${s1.bytes_out}`);

    const rel = await statusJson(['--control', relaySock]);
    assert.equal(rel.daemon, 'relay');
    assert.equal(rel.links[0]?.peer, shortPin(clientKey.pin));
    assert.equal(rel.links[0]?.dir, 'in');
    const exit = rel.streams.shown.find((s) => s.target === target);
    assert.ok(exit, JSON.stringify(rel.streams));
    assert.equal(exit.route, shortPin(clientKey.pin));

    const text = await runEtt(['status', '--control', relaySock]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout.toString(), /^ett relay \(pid \d+\)/);
    assert.ok(text.stdout.toString().includes(target));
    for (const line of text.stdout.toString().split('\n'))
      assert.ok(line.length <= 80, `over 80 columns: ${line}`);
  } finally {
    r.conn.destroy();
  }
});

test('a stock HTTPS-proxy client of the relay (HTTP mode) shows as a link with its stream', async () => {
  const cert = await certFile(clientKey, dir, 'client');
  const sock = tls.connect({
    host: '127.0.0.1',
    port: relayPort,
    key: readFileSync(clientKey.file),
    cert: readFileSync(cert),
    rejectUnauthorized: false,
    ALPNProtocols: ['http/1.1'],
  });
  cleanup.add(() => void sock.destroy());
  const conn = new Conn(sock);
  await new Promise((resolve, reject) => sock.once('secureConnect', resolve).once('error', reject));
  sock.write(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\nHost: 127.0.0.1:${echo.port}\r\n\r\n`);
  const head = (await conn.readUntil('\r\n\r\n')).toString();
  assert.match(head, /^HTTP\/1\.1 200/);
  sock.write('hello');
  assert.equal((await conn.read(5)).toString(), 'hello');
  const rel = await statusJson(['--control', relaySock]);
  const links = rel.links.filter((l) => l.peer === shortPin(clientKey.pin));
  assert.equal(links.length, 2, JSON.stringify(rel.links)); // the client's mux link and this one
  assert.ok(links.some((l) => l.bytes_in > 0 && l.rtt_ms === 0));
  assert.ok(rel.streams.shown.some((s) => s.target === `127.0.0.1:${echo.port}`));
  sock.destroy();
  // Gone from the status once the relay has seen the close (the metrics test counts links).
  for (let i = 0; i < 50; i++) {
    if ((await statusJson(['--control', relaySock])).links.length === 1) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.fail('the closed HTTP-mode link is still listed');
});

test('refusals are counted by reason on both sides', async () => {
  const r = await socks5Connect(proxyPort, '127.0.0.1', 1); // the exit policy refuses it
  r.conn.destroy();
  assert.notEqual(r.reply, 0);
  const rel = await statusJson(['--control', relaySock]);
  assert.ok((rel.refusals.policy ?? 0) >= 1, JSON.stringify(rel.refusals));
  const cli = await statusJson([], xdg());
  assert.ok((cli.refusals.policy ?? 0) >= 1, JSON.stringify(cli.refusals));
});

test('metrics: Prometheus text with links, streams and bytes, and no targets or pins', async () => {
  const r = await socks5Connect(proxyPort, '127.0.0.1', echo.port);
  try {
    r.conn.socket.write(Buffer.alloc(2000, 3));
    await r.conn.read(2000);
    for (const url of [relayMetrics, clientMetrics]) {
      const { text, values } = await scrape(url);
      assert.equal(values.get('ett_links'), 1, url);
      assert.ok(values.get('ett_streams')! >= 1, url);
      assert.ok(values.get('ett_stream_bytes_total{direction="out"}')! >= 2000, url);
      assert.ok(values.get('ett_link_bytes_total{direction="in"}')! > 2000, url);
      assert.ok(values.get('ett_stream_open_seconds_count')! >= 1, url);
      assert.ok(values.get('ett_refusals_total{reason="policy"}')! >= 1, url);
      assert.ok(values.has('process_resident_memory_bytes'), url);
      assert.ok(values.has('nodejs_eventloop_lag_seconds'), url);
      assert.ok(!text.includes(String(echo.port)), 'no target in the metrics');
      for (const k of [relayKey, clientKey]) {
        assert.ok(!text.includes(shortPin(k.pin)), 'no pin in the metrics');
      }
    }
    assert.equal((await fetch(relayMetrics.replace('/metrics', '/other'))).status, 404);
  } finally {
    r.conn.destroy();
  }
});

test('--log-format json: one object per line with time, level and the usual words', async () => {
  await waitFor(() => client.errLines.some((l) => l.includes('link up:')), 10_000, 'a link up line');
  for (const line of client.errLines) {
    const o = JSON.parse(line) as { time: string; level: string; msg: string };
    assert.ok(!Number.isNaN(Date.parse(o.time)) && typeof o.level === 'string' && typeof o.msg === 'string');
  }
});

test('reload over the control socket: the unchanged file gives "no changes", and the daemon goes on', async () => {
  const r = await runEtt(['reload', '--control', relaySock]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.toString(), 'no changes\n');
  assert.ok(relay.alive);
});

/** A raw control connection: what it receives, and when it closes. */
function rawControl(sock: string): Promise<{ s: net.Socket; got: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(sock);
    cleanup.add(() => void s.destroy());
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (got += d));
    s.on('error', () => undefined);
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    s.once('connect', () => resolve({ s, got: () => got, closed }));
    s.once('error', reject);
  });
}

async function stillServing(): Promise<void> {
  const s = await statusJson(['--control', relaySock]);
  assert.equal(s.daemon, 'relay');
}

test('bad control input gets an error and a close; the daemon keeps serving', async () => {
  for (const bad of [
    'not json\n',
    '[1,2]\n',
    '{"cmd":"shutdown"}\n',
    'x'.repeat(2000) + '\n',
    'y'.repeat(5000),
  ]) {
    const c = await rawControl(relaySock);
    c.s.write(bad);
    await c.closed;
    const reply = JSON.parse(c.got().split('\n')[0]!) as { ok: boolean; error: string };
    assert.equal(reply.ok, false);
    assert.match(reply.error, /^bad request: /, bad.slice(0, 20));
  }
  // More requests at once than may wait: refused whole.
  const flood = await rawControl(relaySock);
  flood.s.write('{"cmd":"status"}\n'.repeat(20));
  await flood.closed;
  assert.match(flood.got(), /"error":"bad request: over 8 requests waiting"/);
  // Several requests on one connection are answered in order, with their ids.
  const c = await rawControl(relaySock);
  c.s.write('{"cmd":"status","id":1}\n{"cmd":"status","id":"two"}\n');
  await waitFor(() => c.got().split('\n').length > 2, 10_000, 'two answers');
  const [a, b] = c
    .got()
    .split('\n')
    .map((l) => (l ? (JSON.parse(l) as { id: unknown; ok: boolean }) : null));
  assert.deepEqual([a?.id, a?.ok, b?.id, b?.ok], [1, true, 'two', true]);
  c.s.destroy();
  await stillServing();
});

test('a control client that stalls is dropped at the idle deadline; many at once are told busy', async () => {
  const stalled = await rawControl(relaySock);
  stalled.s.write('{"cmd":"sta'); // half a request, then nothing
  await stalled.closed; // closed by the daemon (the test would time out otherwise)
  assert.equal(stalled.got(), '');

  const held = await Promise.all(Array.from({ length: CONNECTIONS_MAX + 3 }, () => rawControl(relaySock)));
  await Promise.all(held.map((h) => h.closed)); // busy ones at once, the rest at their idle deadline
  // At most CONNECTIONS_MAX were served (one may still have been held by the status run before).
  const busy = held.filter((h) => h.got().includes('"error":"busy: 4 control connections open"')).length;
  assert.ok(busy >= 3 && held.length - busy <= CONNECTIONS_MAX, `${busy} of ${held.length} told busy`);
  await stillServing();
  assert.ok(relay.alive && client.alive);
});
