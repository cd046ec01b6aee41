// The mixed port itself: dispatch on the first byte, the request head's deadline and size bound (for
// every protocol, with small limits), listening and closing.

import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import { TunnelError } from '../errors.js';
import { withLimits } from '../limits.js';
import { silentLogger } from '../log.js';
import { startMixedPort } from './mixed-port.js';
import {
  RawClient,
  curl,
  directDialer,
  sleep,
  socks5Connect,
  startEchoOrigin,
  startPort,
} from './front-end-harness.test.js';

describe('mixed port', () => {
  test('one port serves SOCKS5, SOCKS4a and HTTP side by side', async () => {
    const origin = await startEchoOrigin();
    const port = await startPort(directDialer());
    try {
      const proxy = `127.0.0.1:${port.address.port}`;
      const url = `http://echo.test:${origin.port}/`;
      const runs = await Promise.all([
        curl(['--socks5-hostname', proxy, url]),
        curl(['--socks4a', proxy, url]),
        curl(['-x', `http://${proxy}`, url]),
        curl(['-p', '-x', `http://${proxy}`, url]),
      ]);
      for (const r of runs) assert.equal(r.exitCode, 0, r.stderr);
    } finally {
      await port.close();
      await origin.close();
    }
  });

  test('request head deadline closes a slow client of each protocol; the next client is served', async () => {
    const origin = await startEchoOrigin();
    const port = await startPort(directDialer(), { requestHeadTimeoutMs: 200 });
    try {
      const partial = [
        Buffer.from([0x05]), // SOCKS5 greeting cut short
        Buffer.from([0x05, 0x01, 0x00, 0x05, 0x01]), // SOCKS5 request cut short
        Buffer.from([0x04, 0x01, 0x00, 0x50, 127, 0, 0, 1, 0x61]), // SOCKS4 user id without its NUL
        Buffer.from('GET http://echo.test/ HTTP/1.1\r\nHost: x\r\n'), // HTTP head without its blank line
        Buffer.alloc(0), // nothing at all
      ];
      const started = Date.now();
      const clients = await Promise.all(partial.map(() => RawClient.connect(port.address.port)));
      clients.forEach((c, i) => c.socket.write(partial[i]!));
      for (const c of clients) {
        await c.closed(3000);
        c.close();
      }
      const took = Date.now() - started;
      assert.ok(took >= 150 && took < 2000, `closed after ${took} ms`);
      const r = await curl([
        '-x',
        `http://127.0.0.1:${port.address.port}`,
        `http://echo.test:${origin.port}/`,
      ]);
      assert.equal(r.exitCode, 0, r.stderr);
    } finally {
      await port.close();
      await origin.close();
    }
  });

  test('the HTTP deadline applies again between keep-alive requests', async () => {
    const origin = await startEchoOrigin();
    const port = await startPort(directDialer(), { requestHeadTimeoutMs: 300 });
    const c = await RawClient.connect(port.address.port);
    try {
      c.socket.write(`GET http://echo.test:${origin.port}/ HTTP/1.1\r\nHost: x\r\n\r\n`);
      await c.read(12);
      await sleep(100);
      c.socket.write('GET http://echo.test/ HT'); // a second head that never finishes
      await c.closed(2000);
    } finally {
      c.close();
      await port.close();
      await origin.close();
    }
  });

  test('request head size limit: over-long heads are refused; the next client is served', async () => {
    const origin = await startEchoOrigin();
    const port = await startPort(directDialer(), { requestHeadMax: 256 });
    try {
      const url = `http://echo.test:${origin.port}/`;
      const big = await curl([
        '-x',
        `http://127.0.0.1:${port.address.port}`,
        '-H',
        `X-Big: ${'b'.repeat(600)}`,
        '-w',
        '%{http_code}',
        '-o',
        '/dev/null',
        url,
      ]);
      assert.equal(big.stdout, '431');

      const s4 = await RawClient.connect(port.address.port);
      s4.socket.write(
        Buffer.concat([Buffer.from([0x04, 0x01, 0x00, 0x50, 127, 0, 0, 1]), Buffer.alloc(400, 0x61)]),
      );
      const s4Reply = await s4.readAll();
      assert.ok(s4Reply.length === 0 || s4Reply[1] === 0x5b, 'refused or closed');
      s4.close();

      // A SOCKS5 greeting of 257 bytes, held back one byte short: 256 buffered bytes and still
      // incomplete is over the bound, so the port drops the connection without an answer.
      const s5 = await RawClient.connect(port.address.port);
      const greeting = Buffer.concat([Buffer.from([0x05, 0xff]), Buffer.alloc(255, 0x80)]);
      s5.socket.write(greeting.subarray(0, 256));
      assert.equal((await s5.readAll()).length, 0);
      s5.close();

      const ok = await curl(['--socks5-hostname', `127.0.0.1:${port.address.port}`, url]);
      assert.equal(ok.exitCode, 0, ok.stderr);
    } finally {
      await port.close();
      await origin.close();
    }
  });

  test('HTTP head size is exact in raw bytes: max accepted, max + 1 refused, many short fields too', async () => {
    const origin = await startEchoOrigin();
    const max = 1024;
    const port = await startPort(directDialer(), { requestHeadMax: max });
    // A head of exactly n bytes (request line through the blank line) made of short fields, which
    // node:http alone would count at about half their size on the wire.
    const head = (n: number, keepAlive = false): string => {
      const line = `GET http://echo.test:${origin.port}/ HTTP/1.1\r\n`;
      const last = keepAlive ? '' : 'Connection: close\r\n';
      let fields = '';
      while (line.length + fields.length + last.length + 2 + 8 + 7 <= n) fields += 'X-A: b\r\n';
      const pad = n - (line.length + fields.length + last.length + 2 + 'X-P: \r\n'.length);
      const out = `${line}${fields}X-P: ${'p'.repeat(pad)}\r\n${last}\r\n`;
      assert.equal(out.length, n);
      return out;
    };
    try {
      const statusOf = async (raw: string): Promise<string> => {
        const c = await RawClient.connect(port.address.port);
        c.socket.write(raw);
        const got = (await c.readAll(10_000)).toString('latin1');
        c.close();
        return /^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? `none: ${JSON.stringify(got.slice(0, 40))}`;
      };
      assert.equal(await statusOf(head(max)), '200', `a head of ${max} bytes is served`);
      assert.equal(await statusOf(head(max + 1)), '431', `a head of ${max + 1} bytes is refused`);
      assert.equal(await statusOf(head(2 * max - 100)), '431', 'many short fields count by their bytes');
      // The second head on a kept-alive connection is measured afresh: max passes, max + 1 does not.
      const c = await RawClient.connect(port.address.port);
      c.socket.write(head(max, true));
      const first = await c.read(1); // the first response has started
      await sleep(200);
      c.socket.write(head(max + 1));
      const both = Buffer.concat([first, await c.readAll(10_000)]).toString('latin1');
      c.close();
      assert.deepEqual(
        [...both.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]),
        ['200', '431'],
      );
      const ok = await curl([
        '-x',
        `http://127.0.0.1:${port.address.port}`,
        `http://echo.test:${origin.port}/`,
      ]);
      assert.equal(ok.exitCode, 0, ok.stderr);
    } finally {
      await port.close();
      await origin.close();
    }
  });

  test('an app that connects and leaves at once costs nothing', async () => {
    const port = await startPort(directDialer());
    try {
      for (let i = 0; i < 20; i++) {
        const s = net.connect(port.address.port, '127.0.0.1');
        s.on('error', () => undefined);
        if (i % 2 === 0) s.end();
        else s.once('connect', () => s.resetAndDestroy());
      }
      await sleep(100);
      const c = await RawClient.connect(port.address.port);
      c.socket.write(socks5Connect('echo.test', 1));
      assert.deepEqual([...(await c.read(2))], [0x05, 0x00]);
      c.close();
    } finally {
      await port.close();
    }
  });

  test('close() stops listening and destroys open connections', async () => {
    const port = await startPort(directDialer());
    const c = await RawClient.connect(port.address.port);
    c.socket.write(Buffer.from([0x05])); // mid-head, held open by the port
    await sleep(20);
    await port.close();
    await c.closed(1000);
    c.close();
    await assert.rejects(RawClient.connect(port.address.port), /ECONNREFUSED/);
  });

  test('listening on ::1 works; a busy address rejects with TunnelError config', async (t) => {
    const opts = { dialer: directDialer(), limits: withLimits(), log: silentLogger };
    let v6;
    try {
      v6 = await startMixedPort({ host: '::1', port: 0 }, opts);
    } catch {
      t.skip('no IPv6 loopback here');
      return;
    }
    try {
      assert.equal(v6.address.host, '::1');
      await assert.rejects(
        startMixedPort({ host: '::1', port: v6.address.port }, opts),
        (err: unknown) => err instanceof TunnelError && err.code === 'config',
      );
    } finally {
      await v6.close();
    }
  });
});
