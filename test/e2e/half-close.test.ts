// Half-close and broken links, end to end. An application that sends its request and then shuts down its
// write side must still read the whole answer (FIN travels one way only), through SOCKS5 and through HTTP
// CONNECT. And when the relay dies mid-download, the application must see a reset, never a clean EOF
// that would pass a truncated body off as complete.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Cleanup, curl, startTunnel, waitFor, type Tunnel } from '../support/proc.js';
import {
  seededBytes,
  startHalfCloseTarget,
  startSlowTarget,
  type HalfCloseTarget,
} from '../support/servers.js';
import { httpConnect, socks5Connect, type Conn } from '../support/socks.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

const REPLY = seededBytes(1024 * 1024, 'half-close reply');

describe('half-close: request, shutdown(SHUT_WR), then the whole answer', () => {
  let target: HalfCloseTarget;
  let tunnel: Tunnel;
  before(async () => {
    target = await startHalfCloseTarget(cleanup, REPLY);
    tunnel = await startTunnel(cleanup, { exit: [`accept 127.0.0.1:${target.port}`] });
  });

  /** Writes request in pieces, ends the write side, and checks the digest + reply that come back. */
  async function exchange(conn: Conn, request: Buffer): Promise<void> {
    for (let at = 0; at < request.length; at += 16 * 1024)
      conn.socket.write(request.subarray(at, at + 16 * 1024));
    conn.socket.end();
    const { data, ended, error } = await conn.finish(30_000);
    assert.equal(error, undefined, `no error on the app socket (${error?.code})`);
    assert.ok(ended, 'the answer ends with a clean EOF (the target ended it)');
    assert.equal(data.length, 32 + REPLY.length, 'digest + whole reply');
    assert.deepEqual(
      data.subarray(0, 32),
      createHash('sha256').update(request).digest(),
      'the target read it all',
    );
    assert.ok(data.subarray(32).equals(REPLY), 'reply intact');
  }

  test('through SOCKS5 (hand-written client, ATYP domain)', { timeout: 60_000 }, async () => {
    const { conn, reply } = await socks5Connect(tunnel.client.port, '127.0.0.1', target.port);
    assert.equal(reply, 0);
    await exchange(conn, seededBytes(300 * 1024, 'request socks'));
    assert.equal(target.received.at(-1), 300 * 1024);
  });

  test('through HTTP CONNECT to the client port', { timeout: 60_000 }, async () => {
    const { conn, status } = await httpConnect(tunnel.client.port, '127.0.0.1', target.port);
    assert.equal(status, 200);
    await exchange(conn, seededBytes(300 * 1024, 'request connect'));
    assert.equal(target.received.at(-1), 300 * 1024);
  });

  test('an empty request (shutdown at once) still gets the whole answer', { timeout: 60_000 }, async () => {
    const { conn, reply } = await socks5Connect(tunnel.client.port, '127.0.0.1', target.port);
    assert.equal(reply, 0);
    await exchange(conn, Buffer.alloc(0));
    assert.equal(target.received.at(-1), 0);
  });

  test('several half-closed exchanges at once over the one link', { timeout: 60_000 }, async () => {
    const runs = [0, 1, 2, 3].map(async (i) => {
      const { conn, reply } = await socks5Connect(tunnel.client.port, '127.0.0.1', target.port);
      assert.equal(reply, 0);
      await exchange(conn, seededBytes(64 * 1024 * (i + 1), `parallel ${i}`));
    });
    await Promise.all(runs);
  });
});

describe('the relay killed (SIGKILL) during a download', () => {
  test('the app socket is reset, not ended', { timeout: 60_000 }, async () => {
    const slow = await startSlowTarget(cleanup, { http: false });
    const tunnel = await startTunnel(cleanup, { exit: [`accept 127.0.0.1:${slow.port}`] });
    const { conn, reply } = await socks5Connect(tunnel.client.port, '127.0.0.1', slow.port);
    assert.equal(reply, 0);
    await conn.waitForTotal(512 * 1024, 30_000);
    tunnel.relay.proc.signal('SIGKILL');
    const exit = await tunnel.relay.proc.exited;
    assert.equal(exit.signal, 'SIGKILL');
    const { ended, error } = await conn.finish(30_000);
    assert.ok(!ended, `no clean EOF after ${conn.total} bytes (the download was cut short)`);
    assert.ok(error !== undefined, 'the app socket saw an error');
    assert.equal(error.code, 'ECONNRESET');
    assert.ok(tunnel.client.proc.alive, 'the client survives its relay');
  });

  /** Starts curl through `proxyArgs(client)` on a slow endless-looking download, SIGKILLs the relay mid-way. */
  async function curlCut(proxyArgs: (proxy: string) => string[]): Promise<void> {
    // The response has no Content-Length and ends at EOF: had ett turned the broken link into a clean
    // EOF, curl would report success with a truncated body. Only a reset makes it fail.
    const slow = await startSlowTarget(cleanup, { http: true });
    const tunnel = await startTunnel(cleanup, { exit: [`accept 127.0.0.1:${slow.port}`] });
    const url = `http://127.0.0.1:${slow.port}/`;
    const running = curl([...proxyArgs(tunnel.client.proxy), '-o', '/dev/null', url], 50_000);
    await waitFor(() => slow.written() >= 1024 * 1024, 30_000, 'the download to be under way');
    tunnel.relay.proc.signal('SIGKILL');
    await tunnel.relay.proc.exited;
    const r = await running;
    assert.notEqual(r.code, null, 'curl ended by itself');
    assert.notEqual(r.code, 0, `curl must fail: ${r.stderr}`);
  }

  test('curl --socks5-hostname exits non-zero', { timeout: 60_000 }, async () => {
    await curlCut((proxy) => ['--socks5-hostname', proxy]);
  });

  test('curl -p -x http:// (CONNECT) exits non-zero', { timeout: 60_000 }, async () => {
    await curlCut((proxy) => ['-p', '-x', `http://${proxy}`]);
  });

  test('curl -x http:// (plain GET) exits non-zero', { timeout: 60_000 }, async () => {
    await curlCut((proxy) => ['-x', `http://${proxy}`]);
  });

  test(
    'control: the same download, not cut, ends cleanly with curl status 0',
    { timeout: 60_000 },
    async () => {
      const slow = await startSlowTarget(cleanup, { http: true, intervalMs: 1, maxChunks: 32 });
      const tunnel = await startTunnel(cleanup, { exit: [`accept 127.0.0.1:${slow.port}`] });
      const r = await curl(['--socks5-hostname', tunnel.client.proxy, `http://127.0.0.1:${slow.port}/`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.length, 32 * 64 * 1024);
    },
  );
});
