// The exit policy seen from outside: a relay with the default policy (only --allow given) refuses every
// spelling of loopback, and `localhost`, with SOCKS5 reply 0x02 before any connection is made; an explicit
// `accept 127.0.0.1:PORT` opens exactly that port.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Cleanup, curl, httpStatusVia, startTunnel, waitFor, type Tunnel } from '../support/proc.js';
import { sha256, startHttpTarget, testBody, type HttpTarget } from '../support/servers.js';
import { socks5Connect } from '../support/socks.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

const body = testBody(256 * 1024, 'policy');
let target: HttpTarget;

before(async () => {
  target = await startHttpTarget(cleanup, body);
});

// Every one of these names 127.0.0.1 (or the unspecified address, which the kernel treats as local).
const ODD_HOSTS = [
  '127.1',
  '0x7f.1',
  '2130706433',
  '017700000001',
  '::ffff:127.0.0.1',
  '[::]',
  'localhost',
  '127.0.0.1',
];

/** The URL host: IPv6 forms in brackets (curl then may send ATYP 4, which the policy must refuse too). */
function urlHost(host: string): string {
  if (host.startsWith('[')) return host;
  return host.includes(':') ? `[${host}]` : host;
}

describe('default policy (relay given only --allow)', () => {
  let tunnel: Tunnel;
  before(async () => {
    tunnel = await startTunnel(cleanup);
  });

  for (const host of ODD_HOSTS) {
    test(`curl --socks5-hostname to ${host}: SOCKS reply 2, no connection`, { timeout: 60_000 }, async () => {
      const r = await curl([
        '--socks5-hostname',
        tunnel.client.proxy,
        `http://${urlHost(host)}:${target.port}/`,
      ]);
      assert.equal(r.code, 97, `curl exit status (stderr: ${r.stderr})`);
      assert.match(r.stderr, /\(2\)/, 'SOCKS5 reply 2 (connection not allowed by ruleset)');
      assert.equal(r.stdout.length, 0);
      assert.equal(target.connections(), 0, 'the target was never connected to');
    });
  }

  for (const host of ODD_HOSTS) {
    test(
      `SOCKS5 ATYP=3 "${host}" sent verbatim: reply 0x02, no connection`,
      { timeout: 60_000 },
      async () => {
        const { conn, reply } = await socks5Connect(tunnel.client.port, host, target.port, 'domain');
        conn.destroy();
        assert.equal(reply, 0x02);
        assert.equal(target.connections(), 0);
      },
    );
  }

  test(
    'SOCKS5 ATYP=3 bracketed IPv6 names of loopback: reply 0x02, no connection',
    { timeout: 60_000 },
    async () => {
      // A bracketed literal sent as a name stands for the address inside; the policy must judge that address.
      for (const host of ['[::ffff:127.0.0.1]', '[::1]', '[0:0:0:0:0:ffff:7f00:1]', '[::ffff:7f00:1]']) {
        const { conn, reply } = await socks5Connect(tunnel.client.port, host, target.port, 'domain');
        conn.destroy();
        assert.equal(reply, 0x02, host);
      }
      assert.equal(target.connections(), 0);
    },
  );

  for (const [host, atyp] of [
    ['127.0.0.1', 'ipv4'],
    ['::ffff:127.0.0.1', 'ipv6'],
    ['::', 'ipv6'],
    ['::1', 'ipv6'],
  ] as const) {
    test(
      `SOCKS5 ATYP=${atyp === 'ipv4' ? 1 : 4} ${host}: reply 0x02, no connection`,
      { timeout: 60_000 },
      async () => {
        const { conn, reply } = await socks5Connect(tunnel.client.port, host, target.port, atyp);
        conn.destroy();
        assert.equal(reply, 0x02);
        assert.equal(target.connections(), 0);
      },
    );
  }

  test('the HTTP proxy front-end answers a refusal with 403', { timeout: 60_000 }, async () => {
    const r = await httpStatusVia(tunnel.client.proxy, `http://127.1:${target.port}/`);
    assert.equal(r.status, '403', r.stderr);
    const c = await curl(['-p', '-x', `http://${tunnel.client.proxy}`, `http://127.0.0.1:${target.port}/`]);
    assert.notEqual(c.code, 0);
    assert.match(c.stderr, /403/);
    assert.equal(target.connections(), 0);
  });
});

describe('explicit accept 127.0.0.1:PORT', () => {
  let tunnel: Tunnel;
  let open: HttpTarget;
  let closed: HttpTarget;
  before(async () => {
    open = await startHttpTarget(cleanup, body);
    closed = await startHttpTarget(cleanup, body);
    tunnel = await startTunnel(cleanup, { exit: [`accept 127.0.0.1:${open.port}`] });
  });

  test('the accepted port is reachable (curl and hand-written SOCKS5)', { timeout: 60_000 }, async () => {
    const r = await curl(['--socks5-hostname', tunnel.client.proxy, `http://127.0.0.1:${open.port}/`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(r.stdout), body.sha256);
    const { conn, reply } = await socks5Connect(tunnel.client.port, '127.0.0.1', open.port, 'domain');
    conn.destroy();
    assert.equal(reply, 0x00);
    // The reply can overtake this process's accept of the relay's connection: wait for it (bounded).
    await waitFor(() => open.connections() >= 2, 10_000, 'the target to accept both connections');
    assert.equal(open.connections(), 2);
  });

  test(
    'another loopback port is still refused with 0x02 and never connected',
    { timeout: 60_000 },
    async () => {
      for (const host of ['127.0.0.1', '127.1', 'localhost']) {
        const { conn, reply } = await socks5Connect(tunnel.client.port, host, closed.port, 'domain');
        conn.destroy();
        assert.equal(reply, 0x02, host);
      }
      const r = await curl(['--socks5-hostname', tunnel.client.proxy, `http://127.0.0.1:${closed.port}/`]);
      assert.equal(r.code, 97, r.stderr);
      assert.match(r.stderr, /\(2\)/);
      assert.equal(closed.connections(), 0);
    },
  );

  test('the default-policy target (other port) saw no connection at all', () => {
    assert.equal(target.connections(), 0);
  });
});
