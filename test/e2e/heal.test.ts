// The self-healing client with real processes on loopback: a relay that stops answering (SIGSTOP) is
// found dead by the PING deadline and its running streams are reset, never ended; an OPEN lost with its
// link before the exit answered is retried once on another circuit; a group fails over to its second
// member and returns to the first once that is healthy again. Clients run with short PING and health
// check periods ([limits]) so the tests are quick; every wait is a log line or a result with a generous
// deadline, never a measured time.

import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  Cleanup,
  curl,
  keygen,
  spawnEtt,
  tempDir,
  waitFor,
  type EttProcess,
  type Key,
} from '../support/proc.js';
import { sha256, startHttpTarget, startSlowTarget, testBody, type HttpTarget } from '../support/servers.js';
import { socks5Connect } from '../support/socks.js';

const cleanup = new Cleanup();
const body = testBody(256 * 1024, 'ett-heal-body');
let dir: string;
let clientKey: Key;
let target: HttpTarget; // 127.0.0.1:P
let other: { port: number }; // a second HTTP target on 127.0.0.2, to tell group members apart

const LIMITS = '[limits]\nping_interval_ms = 1000\nping_timeout_ms = 3000\nhealth_check_interval_ms = 1000\n';
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

interface TestRelay {
  proc: EttProcess;
  readonly key: Key;
  readonly share: string;
  readonly port: number;
  readonly short: string;
  readonly exit: string[];
}

/** `ett relay` allowing the client key, on 127.0.0.1:port (0 picks one). */
async function relay(name: string, exit: string[], port = 0, key?: Key): Promise<TestRelay> {
  const k = key ?? (await keygen(dir, name));
  const args = ['relay', '--key', k.file, '--listen', `127.0.0.1:${port}`, '--allow', clientKey.pin];
  for (const rule of [...exit, 'reject *:*']) args.push('--exit', rule);
  const proc = spawnEtt(cleanup, args);
  // A stopped relay must be continued for its cleanup SIGTERM to act.
  cleanup.add(() => proc.signal('SIGCONT'));
  const line = await proc.waitForLine(/ett:\/\//);
  const share = /(ett:\/\/\S+)/.exec(line)![1]!;
  return { proc, key: k, share, port: Number(/:(\d+)$/.exec(share)![1]), short: k.pin.slice(0, 8), exit };
}

/** `ett client --config` with the test limits, relays by name, and extra top-level lines and tables. */
async function client(name: string, top: string, relays: Record<string, TestRelay>, tables = '') {
  const file = path.join(dir, `${name}.toml`);
  const names = Object.entries(relays).map(([n, r]) => `${n} = "${r.share}"`);
  await writeFile(
    file,
    `key = "${clientKey.file}"\nlisten = "127.0.0.1:0"\n${top}\n${LIMITS}[relays]\n${names.join('\n')}\n${tables}`,
  );
  const proc = spawnEtt(cleanup, ['client', '--config', file]);
  const line = await proc.waitForLine(/listening on \S+:\d+/);
  const proxy = /listening on (\S+:\d+)/.exec(line)![1]!;
  return { proc, proxy, port: Number(/:(\d+)$/.exec(proxy)![1]) };
}

async function fetchOk(proxy: string, host = '127.0.0.1', port = target.port): Promise<void> {
  const r = await curl(['--socks5-hostname', proxy, `http://${host}:${port}/`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(sha256(r.stdout), body.sha256);
}

const count = (p: EttProcess, re: RegExp): number => p.errLines.filter((l) => re.test(l)).length;

before(async () => {
  dir = await tempDir(cleanup);
  clientKey = await keygen(dir, 'client');
  target = await startHttpTarget(cleanup, body);
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-length': body.bytes.length });
    res.end(body.bytes);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.2', port: 0 }, resolve);
  });
  cleanup.add(() => new Promise<void>((resolve) => server.close(() => resolve())));
  cleanup.add(() => server.closeAllConnections());
  other = { port: (server.address() as AddressInfo).port };
});

after(() => cleanup.run(), { timeout: 60_000 });

test(
  'a SIGSTOPped relay: link down by ping-timeout, the running download is reset (never a clean end), and after SIGCONT a new request succeeds',
  { timeout: 90_000 },
  async () => {
    const slow = await startSlowTarget(cleanup, { http: false, chunk: 16 * 1024, intervalMs: 20 });
    const r = await relay('stopped', [`accept 127.0.0.1:${target.port}`, `accept 127.0.0.1:${slow.port}`]);
    const c = await client('single', 'default = "r"', { r });
    await fetchOk(c.proxy);
    const { conn, reply } = await socks5Connect(c.port, '127.0.0.1', slow.port);
    assert.equal(reply, 0);
    await conn.waitForTotal(64 * 1024, 20_000);

    r.proc.signal('SIGSTOP');
    const down = await c.proc.waitForLine(new RegExp(`link down: ${esc(r.short)}: ping-timeout`), {
      stderr: true,
      timeoutMs: 45_000,
    });
    const end = await conn.finish(20_000);
    console.log(
      `client: ${down.replace(/^\S+ /, '')}; download got ${conn.total} bytes, then ${end.error?.code}`,
    );
    assert.equal(end.ended, false, 'the app never sees a clean EOF');
    assert.equal(end.error?.code, 'ECONNRESET');

    r.proc.signal('SIGCONT');
    await fetchOk(c.proxy);
    assert.equal(count(c.proc, /link down: .*ping-timeout/), 1);
    assert.ok(count(c.proc, new RegExp(`link up: ${esc(r.short)}`)) >= 2, 'the link came up again');
  },
);

test(
  'retry once: an OPEN whose link dies before the exit answers is served on the next group member',
  { timeout: 90_000 },
  async () => {
    const exit = [`accept 127.0.0.1:${target.port}`];
    const first = await relay('first', exit);
    const second = await relay('second', exit);
    const c = await client('retry', 'default = "g"', { a: first, b: second }, '[groups]\ng = ["a", "b"]\n');
    await fetchOk(c.proxy);
    assert.equal(count(c.proc, new RegExp(`link up: ${esc(first.short)}`)), 1);
    assert.equal(count(c.proc, new RegExp(`link up: ${esc(second.short)}`)), 0, 'b not used yet');

    // The first relay stops: the next OPEN goes out on its (still open) link and gets no answer.
    first.proc.signal('SIGSTOP');
    await fetchOk(c.proxy);
    const lines = c.proc.errLines.map((l) => l.replace(/^\S+ /, ''));
    console.log(lines.filter((l) => /link (up|down)|retrying|group g/.test(l)).join('\n'));
    assert.equal(count(c.proc, /group g route a: link lost before the exit answered .*retrying once/), 1);
    assert.equal(count(c.proc, new RegExp(`link down: ${esc(first.short)}: ping-timeout`)), 1);
    assert.equal(count(c.proc, new RegExp(`link up: ${esc(second.short)}`)), 1, 'served through b');
    assert.equal(count(c.proc, /group g: route a down, using b/), 1);
    first.proc.signal('SIGCONT');
  },
);

test(
  'a group fails over to its second member, and returns to the first once it is healthy again',
  { timeout: 120_000 },
  async () => {
    // a exits only to 127.0.0.1:P, b only to 127.0.0.2:Q: which one serves shows in the result.
    let a = await relay('a', [`accept 127.0.0.1:${target.port}`]);
    const b = await relay('b', [`accept 127.0.0.2:${other.port}`]);
    const c = await client(
      'failover',
      'default = "g"\nlog_level = "debug"',
      { a, b },
      '[groups]\ng = ["a", "b"]\n',
    );
    await fetchOk(c.proxy);

    await a.proc.stop(); // SIGTERM: the relay sends GO_AWAY and exits
    await c.proc.waitForLine(new RegExp(`link down: ${esc(a.short)}: (go-away|closed)`), { stderr: true });
    await fetchOk(c.proxy, '127.0.0.2', other.port);
    const viaB = await socks5Connect(c.port, '127.0.0.1', target.port);
    viaB.conn.destroy();
    assert.equal(viaB.reply, 2, 'b serves new streams: its exit policy refuses 127.0.0.1');
    assert.equal(count(c.proc, /group g: route a down, using b/), 1);

    // Health checks (every ~1 s here) and reconnects probe a while it is down; each failure reason is
    // logged once at warn, the rest at debug.
    await waitFor(() => count(c.proc, /debug link to .* failed: refused .* in a row/) >= 3, 30_000, 'probes');
    a = await relay('a', a.exit, a.port, a.key); // the same relay back, same key and port
    await c.proc.waitForLine(/group g: back to route a/, { stderr: true, timeoutMs: 45_000 });
    await fetchOk(c.proxy); // 127.0.0.1 again: only a serves it

    const attempts = count(c.proc, new RegExp(`reconnecting ${esc(a.short)}: attempt`));
    const warned = count(c.proc, new RegExp(`warn link to ${esc(a.short)} failed`));
    const failed = count(c.proc, new RegExp(`link to ${esc(a.short)} failed`));
    console.log(
      `a down: ${failed} failed builds (reconnects + health checks), ${attempts} reconnect attempts, ${warned} warning(s)`,
    );
    assert.ok(
      attempts >= 1 && attempts <= 8,
      `reconnect attempts bounded by reconnect_attempts_max (${attempts})`,
    );
    assert.ok(warned <= 2, `no log spam: ${warned} warnings for ${failed} failures`);
    assert.equal(count(c.proc, /group g: back to route a/), 1);
  },
);
