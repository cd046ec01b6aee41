// End to end through real `bin/ett relay` and `bin/ett client` processes on loopback: a 20 MB body comes
// back byte-exact (SHA-256) through every front-end curl speaks to the client's mixed port, and a hostname
// sent by socks5h is resolved at the exit, not by the client.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  Cleanup,
  curl,
  httpStatusVia,
  startClient,
  startRelay,
  startTunnel,
  tempDir,
  keygen,
  type Tunnel,
} from '../support/proc.js';
import {
  sha256,
  startDualStackHttpTarget,
  startHttpTarget,
  testBody,
  type HttpTarget,
} from '../support/servers.js';

const cleanup = new Cleanup();
const body = testBody();
let target: HttpTarget;
let tunnel: Tunnel;

before(async () => {
  target = await startHttpTarget(cleanup, body);
  tunnel = await startTunnel(cleanup, { exit: [`accept 127.0.0.1:${target.port}`] });
});

after(() => cleanup.run());

/** Runs curl with the given proxy flags against the target and checks the whole body arrived intact. */
async function fetchThrough(proxyArgs: string[], url = `http://127.0.0.1:${target.port}/`): Promise<void> {
  const before = target.requests();
  const r = await curl([...proxyArgs, url]);
  assert.equal(
    r.code,
    0,
    `curl ${proxyArgs.join(' ')} failed: ${r.stderr}\nrelay: ${tunnel.relay.proc.stderr()}`,
  );
  assert.equal(r.stdout.length, body.bytes.length, 'body length');
  assert.equal(sha256(r.stdout), body.sha256, 'body SHA-256');
  assert.equal(target.requests(), before + 1, 'the target served exactly this request');
}

test('SOCKS5 with remote hostname (curl --socks5-hostname): 20 MB intact', { timeout: 60_000 }, async () => {
  await fetchThrough(['--socks5-hostname', tunnel.client.proxy]);
});

test('SOCKS4a (curl --socks4a): 20 MB intact', { timeout: 60_000 }, async () => {
  await fetchThrough(['--socks4a', tunnel.client.proxy]);
});

test('HTTP proxy, plain absolute-form GET (curl -x http://): 20 MB intact', { timeout: 60_000 }, async () => {
  await fetchThrough(['-x', `http://${tunnel.client.proxy}`]);
});

test('HTTP proxy, CONNECT tunnel (curl -p -x http://): 20 MB intact', { timeout: 60_000 }, async () => {
  await fetchThrough(['-p', '-x', `http://${tunnel.client.proxy}`]);
});

test('two downloads at once over the one link both arrive intact', { timeout: 60_000 }, async () => {
  const url = `http://127.0.0.1:${target.port}/`;
  const before = target.requests();
  const results = await Promise.all([
    curl(['--socks5-hostname', tunnel.client.proxy, url]),
    curl(['-p', '-x', `http://${tunnel.client.proxy}`, url]),
  ]);
  for (const r of results) {
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(r.stdout), body.sha256);
  }
  assert.equal(target.requests(), before + 2);
});

test('a policy refusal reaches curl: a port the exit rule does not accept', { timeout: 60_000 }, async () => {
  // Same host, other port: the owner's rule accepts only target.port, and the defaults refuse loopback.
  const other = await startHttpTarget(cleanup, testBody(1024, 'other'));
  const r = await curl(['--socks5-hostname', tunnel.client.proxy, `http://127.0.0.1:${other.port}/`]);
  assert.equal(r.code, 97, `expected curl's proxy error 97: ${r.stderr}`);
  assert.match(r.stderr, /\(2\)/, 'SOCKS5 reply 2: not allowed by ruleset');
  const h = await httpStatusVia(tunnel.client.proxy, `http://127.0.0.1:${other.port}/`);
  assert.equal(h.status, '403', 'HTTP proxy answers a policy refusal with 403');
  assert.equal(other.connections(), 0, 'the refused target saw no connection');
});

test(
  'socks5h hostname "localhost" travels unresolved and the exit resolves it',
  { timeout: 60_000 },
  async () => {
    const dual = await startDualStackHttpTarget(cleanup, body);
    const dir = await tempDir(cleanup);
    const clientKey = await keygen(dir, 'client');
    const relay = await startRelay(cleanup, dir, {
      allow: [clientKey.pin],
      exit: [`accept 127.0.0.1:${dual.port}`, `accept [::1]:${dual.port}`],
    });
    const client = await startClient(cleanup, clientKey, relay.share);
    const r = await curl(['--socks5-hostname', client.proxy, `http://localhost:${dual.port}/`]);
    assert.equal(r.code, 0, `${r.stderr}\nrelay: ${relay.proc.stderr()}`);
    assert.equal(sha256(r.stdout), body.sha256);
    assert.equal(dual.requests(), 1);
  },
);
