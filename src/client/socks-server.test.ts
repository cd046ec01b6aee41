// SOCKS5 and SOCKS4/4a through the mixed port: real curl for the common paths, a hand-written client
// for the replies curl cannot show (BIND, reply codes, pipelining, half-close, malformed requests).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ErrorCode } from '../errors.js';
import {
  RawClient,
  curl,
  directDialer,
  failingDialer,
  hangingDialer,
  socks5Connect,
  startEchoOrigin,
  startHalfCloseOrigin,
  startPort,
  startTcpEcho,
} from './front-end-harness.test.js';

describe('socks5 and socks4 with curl', () => {
  let origin: Awaited<ReturnType<typeof startEchoOrigin>>;
  before(async () => {
    origin = await startEchoOrigin();
  });
  after(() => origin.close());

  const cases: [string, string, string][] = [
    ['--socks5-hostname keeps the name for the dialer', '--socks5-hostname', 'echo.test'],
    ['--socks5 with an IPv4 address', '--socks5', '127.0.0.1'],
    ['--socks4 with an IPv4 address', '--socks4', '127.0.0.1'],
    ['--socks4a keeps the name for the dialer', '--socks4a', 'echo.test'],
  ];
  for (const [name, flag, host] of cases) {
    test(name, async () => {
      const dialer = directDialer();
      const port = await startPort(dialer);
      try {
        const r = await curl([flag, `127.0.0.1:${port.address.port}`, `http://${host}:${origin.port}/x?y=1`]);
        assert.equal(r.exitCode, 0, r.stderr);
        assert.equal(JSON.parse(r.stdout).url, '/x?y=1');
        assert.deepEqual(dialer.targets, [{ host, port: origin.port }]);
      } finally {
        await port.close();
      }
    });
  }

  test('--proxy-user is checked when users are configured', async () => {
    const users = new Map([['alice', 's3cret']]);
    const port = await startPort(directDialer(), {}, users);
    try {
      const url = `http://echo.test:${origin.port}/`;
      const proxy = `127.0.0.1:${port.address.port}`;
      const ok = await curl(['--socks5-hostname', proxy, '--proxy-user', 'alice:s3cret', url]);
      assert.equal(ok.exitCode, 0, ok.stderr);
      const wrong = await curl(['--socks5-hostname', proxy, '--proxy-user', 'alice:nope', url]);
      assert.notEqual(wrong.exitCode, 0);
      assert.match(wrong.stderr, /authentication failed|User was rejected/i);
      const none = await curl(['--socks5-hostname', proxy, url]);
      assert.notEqual(none.exitCode, 0);
      assert.match(none.stderr, /No authentication method was acceptable|no acceptable/i);
    } finally {
      await port.close();
    }
  });

  test('dialer refusing with policy: curl reports SOCKS5 reply 2', async () => {
    const port = await startPort(failingDialer('policy'));
    try {
      const r = await curl(['--socks5-hostname', `127.0.0.1:${port.address.port}`, 'http://echo.test:1/']);
      assert.equal(r.exitCode, 97, r.stderr);
      assert.match(r.stderr, /\(2\)|not allowed/);
    } finally {
      await port.close();
    }
  });
});

describe('socks5 with a hand-written client', () => {
  test('reply codes follow the error table', async () => {
    const expected: [ErrorCode, number][] = [
      ['policy', 0x02],
      ['network-unreachable', 0x03],
      ['host-unreachable', 0x04],
      ['refused', 0x05],
      ['timeout', 0x06],
      ['link-down', 0x01],
    ];
    for (const [code, rep] of expected) {
      const port = await startPort(failingDialer(code));
      const c = await RawClient.connect(port.address.port);
      try {
        c.socket.write(socks5Connect('echo.test', 80));
        assert.deepEqual([...(await c.read(2))], [0x05, 0x00]);
        const reply = await c.read(10);
        assert.equal(reply[1], rep, code);
        assert.equal(await c.closed(), 'clean');
      } finally {
        c.close();
        await port.close();
      }
    }
  });

  test('BIND and UDP ASSOCIATE are answered 0x07, nothing is dialed', async () => {
    const dialer = directDialer();
    const port = await startPort(dialer);
    try {
      for (const cmd of [0x02, 0x03, 0x7f]) {
        const c = await RawClient.connect(port.address.port);
        c.socket.write(socks5Connect('echo.test', 80, cmd));
        await c.read(2);
        assert.equal((await c.read(10))[1], 0x07);
        await c.closed();
      }
      assert.equal(dialer.targets.length, 0);
    } finally {
      await port.close();
    }
  });

  test('user/pass offered alone is accepted with any credentials when no users are configured', async () => {
    const echo = await startTcpEcho();
    const port = await startPort(directDialer());
    const c = await RawClient.connect(port.address.port);
    try {
      c.socket.write(Buffer.from([0x05, 0x01, 0x02]));
      assert.deepEqual([...(await c.read(2))], [0x05, 0x02]);
      c.socket.write(Buffer.from([0x01, 0x01, 0x61, 0x01, 0x62]));
      assert.deepEqual([...(await c.read(2))], [0x01, 0x00]);
      c.socket.write(socks5Connect('echo.test', echo.port).subarray(3));
      assert.equal((await c.read(10))[1], 0x00);
      c.socket.write('ping');
      assert.equal((await c.read(4)).toString(), 'ping');
    } finally {
      c.close();
      await port.close();
      await echo.close();
    }
  });

  test('bytes pipelined with the greeting and request reach the destination', async () => {
    const echo = await startTcpEcho();
    const port = await startPort(directDialer());
    const c = await RawClient.connect(port.address.port);
    try {
      c.socket.write(Buffer.concat([socks5Connect('echo.test', echo.port), Buffer.from('early bytes')]));
      await c.read(2);
      assert.equal((await c.read(10))[1], 0x00);
      assert.equal((await c.read(11)).toString(), 'early bytes');
    } finally {
      c.close();
      await port.close();
      await echo.close();
    }
  });

  test('half-close: the app ends its side and still receives the whole answer', async () => {
    const origin = await startHalfCloseOrigin(1_000_000);
    const port = await startPort(directDialer());
    const c = await RawClient.connect(port.address.port);
    try {
      c.socket.write(socks5Connect('echo.test', origin.port));
      await c.read(12);
      c.socket.end('request of 21 bytes..');
      const answer = await c.readAll();
      assert.equal(answer.subarray(0, 7).toString(), 'got 21\n');
      assert.equal(answer.length, 7 + 1_000_000);
      assert.equal(c.error, undefined);
    } finally {
      c.close();
      await port.close();
      await origin.close();
    }
  });

  test('a dialer that never answers is cut at openTimeoutMs: reply 0x06, signal aborted', async () => {
    const dialer = hangingDialer();
    const port = await startPort(dialer, { openTimeoutMs: 150 });
    const c = await RawClient.connect(port.address.port);
    try {
      c.socket.write(socks5Connect('echo.test', 80));
      await c.read(2);
      assert.equal((await c.read(10))[1], 0x06);
      assert.equal(dialer.signals[0]?.aborted, true);
    } finally {
      c.close();
      await port.close();
    }
  });

  test('malformed requests are answered and closed; the port keeps serving', async () => {
    const echo = await startTcpEcho();
    const port = await startPort(directDialer());
    try {
      const bad: [string, Buffer, number[]][] = [
        ['NMETHODS 0', Buffer.from([0x05, 0x00]), [0x05, 0xff]],
        ['only GSSAPI offered', Buffer.from([0x05, 0x01, 0x01]), [0x05, 0xff]],
        ['bad ATYP', Buffer.from([0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x09, 1, 2]), [0x05, 0x00, 0x05, 0x08]],
        [
          'wrong request version',
          Buffer.from([0x05, 0x01, 0x00, 0x04, 0x01, 0x00, 0x01]),
          [0x05, 0x00, 0x05, 0x01],
        ],
      ];
      for (const [name, bytes, reply] of bad) {
        const c = await RawClient.connect(port.address.port);
        c.socket.write(bytes);
        const got = await c.readAll();
        assert.deepEqual([...got.subarray(0, reply.length)], reply, name);
        c.close();
      }
      const c = await RawClient.connect(port.address.port);
      c.socket.write(socks5Connect('echo.test', echo.port));
      assert.equal((await c.read(12))[5], 0x01); // ATYP of a success reply: still serving
      c.close();
    } finally {
      await port.close();
      await echo.close();
    }
  });
});

describe('socks4 with a hand-written client', () => {
  const socks4 = (cmd: number, port: number, host?: string): Buffer =>
    Buffer.concat([
      Buffer.from([0x04, cmd, port >> 8, port & 0xff]),
      host === undefined ? Buffer.from([127, 0, 0, 1]) : Buffer.from([0, 0, 0, 1]),
      Buffer.from('user\0'),
      host === undefined ? Buffer.alloc(0) : Buffer.from(`${host}\0`),
    ]);

  test('BIND is refused with 0x5B; a failed dial is 0x5B; CONNECT with pipelined bytes works', async () => {
    const echo = await startTcpEcho();
    const dialer = directDialer();
    const ok = await startPort(dialer);
    const failing = await startPort(failingDialer('refused'));
    try {
      let c = await RawClient.connect(ok.address.port);
      c.socket.write(socks4(0x02, echo.port));
      assert.equal((await c.readAll())[1], 0x5b);
      c.close();

      c = await RawClient.connect(failing.address.port);
      c.socket.write(socks4(0x01, echo.port, 'echo.test'));
      assert.equal((await c.readAll())[1], 0x5b);
      c.close();

      c = await RawClient.connect(ok.address.port);
      c.socket.write(Buffer.concat([socks4(0x01, echo.port, 'echo.test'), Buffer.from('hi')]));
      assert.equal((await c.read(8))[1], 0x5a);
      assert.equal((await c.read(2)).toString(), 'hi');
      c.close();
      assert.deepEqual(dialer.targets, [{ host: 'echo.test', port: echo.port }]);
    } finally {
      await ok.close();
      await failing.close();
      await echo.close();
    }
  });
});
