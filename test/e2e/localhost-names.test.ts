// RFC 6761 loopback names through a real relay: `localhost`, `localhost.` and `*.localhost` are the
// loopback addresses by definition, so the exit's policy decides before any lookup — refused by the
// default policy (SOCKS 0x02, HTTP 403, not a DNS failure), served when the owner accepts loopback.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Cleanup, curl, startTunnel, type Tunnel } from '../support/proc.js';
import { sha256, startHttpTarget, testBody, type HttpTarget } from '../support/servers.js';
import { socks5Connect } from '../support/socks.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

const body = testBody(64 * 1024, 'localhost-names');
let target: HttpTarget;
let closed: Tunnel;
let open: Tunnel;

before(async () => {
  target = await startHttpTarget(cleanup, body);
  closed = await startTunnel(cleanup);
  open = await startTunnel(cleanup, { exit: [`accept 127.0.0.1:${target.port}`] });
});

test('default policy: every localhost spelling is refused by policy (0x02), the relay says why', async () => {
  for (const host of ['localhost', 'localhost.', 'app.localhost', 'x.y.localhost.']) {
    const { conn, reply } = await socks5Connect(closed.client.port, host, target.port, 'domain');
    conn.destroy();
    assert.equal(reply, 0x02, host);
  }
  const r = await curl([
    '-x',
    `http://${closed.client.proxy}`,
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    `http://app.localhost.:${target.port}/`,
  ]);
  assert.equal(r.stdout.toString(), '403');
  assert.equal(target.requests(), 0);
});

test('an exit accepting loopback serves app.localhost without a resolver', async () => {
  const r = await curl(['--socks5-hostname', open.client.proxy, `http://app.localhost:${target.port}/`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(sha256(r.stdout), body.sha256);
});
