// Hostile or confused peers. Against the relay: garbage, plaintext HTTP, TLS without a certificate, TLS
// with a key not on the allow-list; each is closed without learning anything, and the relay keeps
// serving good clients. Against the client: a relay that does not hold the pinned key gets not one
// application byte after the handshake, and the application gets a failure.

import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import * as tls from 'node:tls';
import {
  Cleanup,
  certFile,
  curl,
  keygen,
  pinUrl,
  startClient,
  startTunnel,
  waitFor,
  withDeadline,
  type Key,
  type Tunnel,
} from '../support/proc.js';
import { seededBytes, sha256, startHttpTarget, testBody, type HttpTarget } from '../support/servers.js';
import { Conn } from '../support/socks.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

const body = testBody(2 * 1024 * 1024, 'hostile');
let target: HttpTarget;
let tunnel: Tunnel;

before(async () => {
  target = await startHttpTarget(cleanup, body);
  tunnel = await startTunnel(cleanup, { exit: [`accept 127.0.0.1:${target.port}`] });
});

/** The relay process is alive, and a fresh client (a new TLS link) and the old one both get through. */
async function relayStillServes(): Promise<void> {
  assert.ok(tunnel.relay.proc.alive, `relay alive: ${tunnel.relay.proc.stderr()}`);
  const fresh = await startClient(cleanup, tunnel.clientKey, tunnel.relay.share);
  for (const proxy of [fresh.proxy, tunnel.client.proxy]) {
    const r = await curl(['--socks5-hostname', proxy, `http://127.0.0.1:${target.port}/`]);
    assert.equal(r.code, 0, `good curl via ${proxy}: ${r.stderr}`);
    assert.equal(sha256(r.stdout), body.sha256);
  }
  await fresh.proc.stop();
}

/** A TLS 1.3 connection to the relay with the given identity (or none); resolves on 'secureConnect' or rejects. */
function tlsTo(port: number, opts: { key?: string; cert?: string; alpn: string[] }): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({
      host: '127.0.0.1',
      port,
      rejectUnauthorized: false,
      ALPNProtocols: opts.alpn,
      minVersion: 'TLSv1.3',
      ...(opts.key ? { key: opts.key, cert: opts.cert } : {}),
    });
    sock.once('secureConnect', () => resolve(sock));
    sock.once('error', reject);
  });
}

describe('the relay against hostile peers', () => {
  test(
    '64 KiB of seeded random bytes over plain TCP: closed, relay serves on',
    { timeout: 60_000 },
    async () => {
      const conn = await Conn.open(tunnel.relay.port);
      conn.socket.write(seededBytes(64 * 1024, 'garbage'));
      const { data } = await conn.finish(20_000);
      assert.ok(!data.toString('latin1').includes('HTTP/'), 'no HTTP answer to garbage');
      await relayStillServes();
    },
  );

  test(
    'plaintext "GET / HTTP/1.1" that then waits: no HTTP answer, closed',
    { timeout: 60_000 },
    async () => {
      const conn = await Conn.open(tunnel.relay.port);
      conn.socket.write(`GET http://127.0.0.1:${target.port}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      // While this client sits there, others are served.
      await relayStillServes();
      const { data } = await conn.finish(30_000);
      assert.ok(!data.toString('latin1').startsWith('HTTP/'), 'the relay never speaks HTTP in the clear');
      await relayStillServes();
    },
  );

  test('TLS without a client certificate: nothing goes through, closed', { timeout: 60_000 }, async () => {
    const before = target.connections();
    for (const alpn of [['http/1.1'], ['ett/1']]) {
      let sock: tls.TLSSocket;
      try {
        sock = await tlsTo(tunnel.relay.port, { alpn });
      } catch {
        continue; // refused during the handshake: fine too
      }
      const got = await drainUntilClosed(
        sock,
        `CONNECT 127.0.0.1:${target.port} HTTP/1.1\r\nHost: x\r\n\r\n`,
      );
      assert.equal(got, 0, `no application byte from the relay (ALPN ${alpn[0]})`);
    }
    assert.equal(target.connections(), before, 'the target saw no connection');
    await relayStillServes();
  });

  test(
    'TLS with a key not on the allow-list, ALPN ett/1: nothing goes through, closed',
    { timeout: 60_000 },
    async () => {
      const before = target.connections();
      const stranger = await keygen(tunnel.dir, 'stranger');
      const cert = await fs.readFile(await certFile(stranger, tunnel.dir, 'stranger'), 'utf8');
      const key = await fs.readFile(stranger.file, 'utf8');
      for (const alpn of [['ett/1'], ['http/1.1']]) {
        let sock: tls.TLSSocket;
        try {
          sock = await tlsTo(tunnel.relay.port, { key, cert, alpn });
        } catch {
          continue;
        }
        // A yamux-style SYN frame header (version 0, DATA, SYN, stream 1) plus junk, or an HTTP CONNECT.
        const first =
          alpn[0] === 'ett/1'
            ? Buffer.concat([Buffer.from('000000010000000100000010', 'hex'), seededBytes(16, 'x')])
            : `CONNECT 127.0.0.1:${target.port} HTTP/1.1\r\nHost: x\r\n\r\n`;
        const got = await drainUntilClosed(sock, first);
        assert.equal(got, 0, `no application byte from the relay (ALPN ${alpn[0]})`);
      }
      assert.equal(target.connections(), before);
      await relayStillServes();
    },
  );
});

/** Writes `first`, then counts application bytes until the relay closes the connection (bounded). */
async function drainUntilClosed(sock: tls.TLSSocket, first: string | Buffer): Promise<number> {
  let got = 0;
  const closed = new Promise<void>((resolve) => {
    sock.on('data', (d: Buffer) => (got += d.length));
    sock.on('error', () => undefined);
    sock.once('close', () => resolve());
  });
  sock.write(first, () => undefined);
  try {
    await withDeadline(closed, 20_000, 'the relay to close a refused TLS client');
  } finally {
    sock.destroy();
  }
  return got;
}

describe('the client against the wrong relay key', () => {
  let other: Key;
  before(async () => {
    other = await keygen(tunnel.dir, 'other');
  });

  test(
    "--via the real relay with another key's pin: curl fails, nothing reaches the target",
    { timeout: 60_000 },
    async () => {
      const before = target.connections();
      const share = tunnel.relay.share.replace(/^ett:\/\/[^@]+@/, `ett://${pinUrl(other.pin)}@`);
      assert.notEqual(share, tunnel.relay.share);
      const client = await startClient(cleanup, tunnel.clientKey, share);
      for (const args of [
        ['--socks5-hostname', client.proxy],
        ['-p', '-x', `http://${client.proxy}`],
        ['-f', '-x', `http://${client.proxy}`],
      ]) {
        const r = await curl([...args, `http://127.0.0.1:${target.port}/`]);
        assert.notEqual(r.code, 0, `curl ${args[0]} must fail`);
        assert.notEqual(r.code, null, 'curl ended by itself');
        assert.ok(!r.stdout.includes(body.bytes.subarray(0, 64)), 'no byte of the body reached curl');
      }
      assert.equal(target.connections(), before);
      assert.ok(client.proc.alive);
    },
  );

  interface FakeRelay {
    readonly port: number;
    /** TCP connections accepted, and how many of those are still open. */
    connections(): number;
    open(): number;
    /** TLS handshakes that completed ('secureConnection'). */
    handshakes(): number;
    /** Application bytes decrypted after a completed handshake. */
    bytes(): number;
  }

  /** A node TLS server posing as a relay with `key` (cert from `ett cert`), counting what it receives. */
  async function fakeRelay(key: Key, name: string): Promise<FakeRelay> {
    const cert = await fs.readFile(await certFile(key, tunnel.dir, name), 'utf8');
    let connections = 0;
    let handshakes = 0;
    let bytes = 0;
    const sockets = new Set<Socket>();
    const server = tls.createServer({
      key: await fs.readFile(key.file, 'utf8'),
      cert,
      requestCert: true,
      rejectUnauthorized: false,
      ALPNProtocols: ['ett/1'],
      minVersion: 'TLSv1.3',
    });
    server.on('connection', (s: Socket) => {
      connections++;
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    });
    server.on('secureConnection', (sock) => {
      handshakes++;
      sock.on('data', (d: Buffer) => {
        bytes += d.length;
        sock.destroy(); // a pretender cannot answer anyway; end the client's wait
      });
      sock.on('error', () => undefined);
    });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.add(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const s of sockets) s.destroy();
        }),
    );
    return {
      port: (server.address() as AddressInfo).port,
      connections: () => connections,
      open: () => sockets.size,
      handshakes: () => handshakes,
      bytes: () => bytes,
    };
  }

  test('a fake relay holding another key receives zero application bytes', { timeout: 60_000 }, async () => {
    const fakeKey = await keygen(tunnel.dir, 'fake');
    const fake = await fakeRelay(fakeKey, 'fake');
    // The client pins `other`, but the server at that address holds `fakeKey`.
    const share = `ett://${pinUrl(other.pin)}@127.0.0.1:${fake.port}`;
    const client = await startClient(cleanup, tunnel.clientKey, share);
    const r = await curl(['--socks5-hostname', client.proxy, `http://127.0.0.1:${target.port}/`]);
    assert.notEqual(r.code, 0);
    assert.notEqual(r.code, null);
    await waitFor(
      () => fake.connections() >= 1 && fake.open() === 0,
      15_000,
      'the client to connect to the fake relay and hang up',
    );
    // The client gives up as soon as it has seen the fake's certificate; with node's TLS client that is
    // even before its own Finished leaves, so the fake usually never completes a handshake at all.
    assert.equal(fake.bytes(), 0, 'not one application byte after the handshake');
    assert.ok(client.proc.alive);
  });

  test(
    'control: the same fake relay, pinned correctly, does receive the OPEN',
    { timeout: 60_000 },
    async () => {
      const fakeKey = await keygen(tunnel.dir, 'fake2');
      const fake = await fakeRelay(fakeKey, 'fake2');
      const share = `ett://${pinUrl(fakeKey.pin)}@127.0.0.1:${fake.port}`;
      const client = await startClient(cleanup, tunnel.clientKey, share);
      const r = await curl(['--socks5-hostname', client.proxy, `http://127.0.0.1:${target.port}/`]);
      assert.notEqual(r.code, 0, 'the fake cannot serve the request');
      assert.ok(fake.handshakes() >= 1, 'the handshake completed');
      assert.ok(fake.bytes() > 0, 'the counter above does see bytes when the pin matches');
    },
  );
});
