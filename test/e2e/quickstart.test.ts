// The quick start (`ett up`, what `npm start` runs): one process, relay and client on loopback with
// throwaway keys. The curl lines it prints must work as printed, pointed at a local web server; its exit
// reaches loopback only; SIGTERM stops it with status 0.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Cleanup, curl, spawnEtt, type EttProcess } from '../support/proc.js';
import { sha256, startHttpTarget, testBody, type HttpTarget } from '../support/servers.js';
import { socks5Connect } from '../support/socks.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

const body = testBody(8 * 1024 * 1024, 'quickstart');
let target: HttpTarget;
let up: EttProcess;
let curlLines: string[];
let proxyPort: number;

before(async () => {
  target = await startHttpTarget(cleanup, body);
  // Port 0: `up` binds a free port and prints the one it got.
  up = spawnEtt(cleanup, ['up', '--listen', '127.0.0.1:0']);
  await up.waitForLine(/Ctrl-C stops/);
  const listening = up.lines.find((l) => /ett client listening on/.test(l));
  assert.ok(listening, `a "client listening" line: ${up.lines.join('\n')}`);
  proxyPort = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(listening)![1]);
  assert.ok(proxyPort > 0, 'the actual port, not 0');
  curlLines = up.lines.map((l) => l.trim()).filter((l) => l.startsWith('curl '));
});

test('prints its share string and at least the socks5h and http proxy curl lines', () => {
  assert.ok(
    up.lines.some((l) => /ett:\/\/[A-Za-z0-9_-]{43}@127\.0\.0\.1:\d+/.test(l)),
    up.lines.join('\n'),
  );
  assert.ok(
    curlLines.some((l) => l.includes('--socks5-hostname')),
    'a socks5h line',
  );
  assert.ok(
    curlLines.some((l) => / -x http:\/\//.test(l)),
    'an http proxy line',
  );
  for (const line of curlLines)
    assert.ok(line.includes(`127.0.0.1:${proxyPort}`), `uses the real port: ${line}`);
});

test('every printed curl line works against a local web server', { timeout: 60_000 }, async () => {
  assert.ok(curlLines.length >= 2);
  for (const line of curlLines) {
    const args = line.split(/\s+/).slice(1);
    const urls = args.filter((a) => /^https?:\/\//.test(a) && !a.includes(`:${proxyPort}`));
    assert.equal(urls.length, 1, `one destination URL in: ${line}`);
    const url = `http://127.0.0.1:${target.port}/`;
    const before = target.requests();
    const r = await curl(args.map((a) => (a === urls[0] ? url : a)));
    assert.equal(r.code, 0, `${line}: ${r.stderr}\n${up.stderr()}`);
    assert.equal(sha256(r.stdout), body.sha256, line);
    assert.equal(target.requests(), before + 1);
  }
});

test(
  'its exit reaches loopback only: the unspecified address is refused by policy',
  { timeout: 60_000 },
  async () => {
    // 0.0.0.0 and :: are not in 127.0.0.0/8 or ::1, so `up`'s rules refuse them; were they accepted, the
    // kernel would route them to this host (to the target), never onto a network.
    const before = target.connections();
    for (const host of ['0.0.0.0', '::']) {
      const { conn, reply } = await socks5Connect(proxyPort, host, target.port, 'domain');
      conn.destroy();
      assert.equal(reply, 0x02, host);
    }
    assert.equal(target.connections(), before);
  },
);

test('SIGTERM stops it cleanly (status 0) and frees the port', { timeout: 60_000 }, async () => {
  const exit = await up.stop(10_000);
  assert.deepEqual(exit, { code: 0, signal: null }, up.stderr());
  const r = await curl(
    ['--socks5-hostname', `127.0.0.1:${proxyPort}`, `http://127.0.0.1:${target.port}/`],
    10_000,
  );
  assert.equal(r.code, 7, 'nothing listens there any more (curl: could not connect)');
});
