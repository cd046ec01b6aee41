// The HTTP side of the mixed port: real curl for forwarding, keep-alive, CONNECT and error statuses;
// a hand-written client for the byte-level cases (split first bytes, half-close, a body cut short).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TunnelError } from '../errors.js';
import {
  RawClient,
  curl,
  directDialer,
  failingDialer,
  sleep,
  startEchoOrigin,
  startHalfCloseOrigin,
  startPort,
} from './front-end-harness.test.js';

interface Echoed {
  method: string;
  url: string;
  rawHeaders: string[];
  bodyLength: number;
  body: string;
}
const headerNames = (e: Echoed): string[] =>
  e.rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase());

describe('http proxy with curl', () => {
  let origin: Awaited<ReturnType<typeof startEchoOrigin>>;
  before(async () => {
    origin = await startEchoOrigin();
  });
  after(() => origin.close());

  test('absolute-form GET is forwarded in origin-form; the name reaches the dialer unresolved', async () => {
    const dialer = directDialer();
    const port = await startPort(dialer);
    try {
      const r = await curl([
        '-x',
        `http://127.0.0.1:${port.address.port}`,
        `http://echo.test:${origin.port}/a/b?c=d`,
      ]);
      assert.equal(r.exitCode, 0, r.stderr);
      const e = JSON.parse(r.stdout) as Echoed;
      assert.equal(e.url, '/a/b?c=d');
      assert.equal(
        e.rawHeaders[e.rawHeaders.findIndex((h) => h.toLowerCase() === 'host') + 1],
        `echo.test:${origin.port}`,
      );
      assert.deepEqual(dialer.targets, [{ host: 'echo.test', port: origin.port }]);
    } finally {
      await port.close();
    }
  });

  test('keep-alive: two URLs in one curl run share one app connection, both bodies arrive', async () => {
    const dialer = directDialer();
    const port = await startPort(dialer);
    try {
      const url = `http://echo.test:${origin.port}`;
      const r = await curl([
        '-x',
        `http://127.0.0.1:${port.address.port}`,
        '-w',
        '\n%{num_connects}\n',
        `${url}/first`,
        `${url}/second`,
      ]);
      assert.equal(r.exitCode, 0, r.stderr);
      const lines = r.stdout.split('\n');
      assert.equal((JSON.parse(lines[0]!) as Echoed).url, '/first');
      assert.equal(lines[1], '1');
      assert.equal((JSON.parse(lines[2]!) as Echoed).url, '/second');
      assert.equal(lines[3], '0', 'the second request reused the connection');
      assert.equal(dialer.targets.length, 2);
    } finally {
      await port.close();
    }
  });

  test('hop-by-hop headers are dropped both ways, end-to-end ones kept', async () => {
    const port = await startPort(directDialer());
    try {
      const r = await curl([
        '-x',
        `http://127.0.0.1:${port.address.port}`,
        '-D',
        '-',
        '-H',
        'Connection: keep-alive, X-Named-Hop',
        '-H',
        'X-Named-Hop: 1',
        '-H',
        'Keep-Alive: timeout=5',
        '-H',
        'TE: trailers',
        '-H',
        'Upgrade: websocket',
        '-H',
        'Trailer: X-T',
        '-H',
        'X-End-To-End: kept',
        '--proxy-user',
        'u:p',
        `http://echo.test:${origin.port}/`,
      ]);
      assert.equal(r.exitCode, 0, r.stderr);
      const split = r.stdout.indexOf('\r\n\r\n');
      const [head, body] = [r.stdout.slice(0, split), r.stdout.slice(split + 4)];
      const echoed = JSON.parse(body) as Echoed;
      const names = headerNames(echoed);
      // The proxy's own hop to the origin says Connection: close; the app's Connection never passes.
      const connection = echoed.rawHeaders.filter(
        (_, i) => echoed.rawHeaders[i - 1]?.toLowerCase() === 'connection',
      );
      assert.deepEqual(connection, ['close']);
      for (const hop of [
        'keep-alive',
        'proxy-connection',
        'proxy-authorization',
        'te',
        'trailer',
        'upgrade',
        'x-named-hop',
      ]) {
        assert.ok(!names.includes(hop), `${hop} reached the origin`);
      }
      assert.ok(names.includes('x-end-to-end'));
      // The origin's own hop-by-hop headers (X-Hop named in Connection, Keep-Alive) stop at the proxy.
      assert.doesNotMatch(head, /x-hop|timeout=99/i);
      assert.match(head, /content-type: application\/json/i);
    } finally {
      await port.close();
    }
  });

  test('request bodies: content-length and chunked, POST and GET', async () => {
    const port = await startPort(directDialer());
    try {
      const proxy = `http://127.0.0.1:${port.address.port}`;
      const url = `http://echo.test:${origin.port}/up`;
      const plain = await curl(['-x', proxy, '--data-binary', 'hello body', url]);
      assert.equal(plain.exitCode, 0, plain.stderr);
      assert.deepEqual(
        [(JSON.parse(plain.stdout) as Echoed).method, (JSON.parse(plain.stdout) as Echoed).body],
        ['POST', 'hello body'],
      );
      for (const method of ['POST', 'GET']) {
        const r = await curl([
          '-x',
          proxy,
          '-X',
          method,
          '-H',
          'Transfer-Encoding: chunked',
          '--data-binary',
          'x'.repeat(70_000),
          url,
        ]);
        assert.equal(r.exitCode, 0, r.stderr);
        const e = JSON.parse(r.stdout) as Echoed;
        assert.equal(e.method, method);
        assert.equal(e.bodyLength, 70_000);
      }
    } finally {
      await port.close();
    }
  });

  test('CONNECT through the proxy (curl -p)', async () => {
    const dialer = directDialer();
    const port = await startPort(dialer);
    try {
      const r = await curl([
        '-p',
        '-x',
        `http://127.0.0.1:${port.address.port}`,
        `http://echo.test:${origin.port}/tunnelled`,
      ]);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as Echoed).url, '/tunnelled');
      assert.deepEqual(dialer.targets, [{ host: 'echo.test', port: origin.port }]);
    } finally {
      await port.close();
    }
  });

  test('dialer failures map to HTTP statuses: policy 403, timeout 504, refused 502', async () => {
    for (const [code, status] of [
      ['policy', '403'],
      ['timeout', '504'],
      ['refused', '502'],
    ] as const) {
      const port = await startPort(failingDialer(code));
      try {
        const proxy = `http://127.0.0.1:${port.address.port}`;
        const get = await curl(['-x', proxy, '-w', '%{http_code}', '-o', '/dev/null', 'http://echo.test:9/']);
        assert.equal(get.stdout, status, `GET ${code}`);
        const conn = await curl([
          '-p',
          '-x',
          proxy,
          '-w',
          '%{http_connect}',
          '-o',
          '/dev/null',
          'http://echo.test:9/',
        ]);
        assert.equal(conn.stdout, status, `CONNECT ${code}`);
        assert.notEqual(conn.exitCode, 0);
      } finally {
        await port.close();
      }
    }
  });
});

describe('a port with users configured', () => {
  test('HTTP needs Proxy-Authorization (407 otherwise); SOCKS4, which has no password, is refused', async () => {
    const origin = await startEchoOrigin();
    const port = await startPort(directDialer(), {}, new Map([['alice', 'pw:with:colons']]));
    try {
      const proxy = `http://127.0.0.1:${port.address.port}`;
      const url = `http://echo.test:${origin.port}/`;
      const code = async (args: string[]): Promise<string> =>
        (await curl(['-w', '%{http_code}|%{http_connect}', '-o', '/dev/null', ...args])).stdout;
      assert.equal(await code(['-x', proxy, url]), '407|000');
      assert.equal(await code(['-x', proxy, '--proxy-user', 'alice:wrong', url]), '407|000');
      assert.equal(await code(['-x', proxy, '--proxy-user', 'alice:pw:with:colons', url]), '200|000');
      assert.equal(await code(['-p', '-x', proxy, url]), '000|407');
      assert.equal(await code(['-p', '-x', proxy, '--proxy-user', 'alice:pw:with:colons', url]), '200|200');
      const s4 = await curl(['--socks4a', `127.0.0.1:${port.address.port}`, url]);
      assert.notEqual(s4.exitCode, 0);
    } finally {
      await port.close();
      await origin.close();
    }
  });
});

describe('http proxy with a hand-written client', () => {
  test('origin-form and https:// requests get 400; the connection closes', async () => {
    const port = await startPort(directDialer());
    try {
      for (const [line, hint] of [
        ['GET / HTTP/1.1', /absolute-form/],
        ['GET https://echo.test/ HTTP/1.1', /CONNECT/],
        ['GET ftp://echo.test/ HTTP/1.1', /absolute-form/],
      ] as const) {
        const c = await RawClient.connect(port.address.port);
        c.socket.write(`${line}\r\nHost: echo.test\r\n\r\n`);
        const answer = (await c.readAll()).toString();
        assert.match(answer, /^HTTP\/1\.1 400 /, line);
        assert.match(answer, /Connection: close/i);
        assert.match(answer, hint);
        c.close();
      }
    } finally {
      await port.close();
    }
  });

  test('first bytes arriving one at a time, then two pipelined requests, are all parsed', async () => {
    const origin = await startEchoOrigin();
    const port = await startPort(directDialer());
    const c = await RawClient.connect(port.address.port);
    try {
      const req = (p: string): string =>
        `GET http://echo.test:${origin.port}${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
      const first = req('/one');
      for (const ch of first.slice(0, 5)) {
        c.socket.write(ch);
        await sleep(15);
      }
      c.socket.write(first.slice(5) + req('/two') + req('/three'));
      await sleep(300);
      c.socket.end();
      const text = (await c.readAll()).toString();
      assert.equal(text.match(/^HTTP\/1\.1 200 /gm)?.length, 3, text);
      assert.ok(
        text.indexOf('"/one"') < text.indexOf('"/two"') && text.indexOf('"/two"') < text.indexOf('"/three"'),
      );
    } finally {
      c.close();
      await port.close();
      await origin.close();
    }
  });

  test('half-close through CONNECT: the app ends its side and still receives the whole answer', async () => {
    const origin = await startHalfCloseOrigin(500_000);
    const port = await startPort(directDialer());
    const c = await RawClient.connect(port.address.port);
    try {
      c.socket.write(
        `CONNECT echo.test:${origin.port} HTTP/1.1\r\nHost: echo.test:${origin.port}\r\n\r\nearly`,
      );
      const established = 'HTTP/1.1 200 Connection established\r\n\r\n';
      assert.equal((await c.read(established.length)).toString(), established);
      c.socket.end('+late');
      const answer = await c.readAll();
      assert.equal(answer.subarray(0, 7).toString(), 'got 10\n');
      assert.equal(answer.length, 7 + 500_000);
      assert.equal(c.error, undefined);
    } finally {
      c.close();
      await port.close();
      await origin.close();
    }
  });

  test('a response broken mid-body resets the app socket instead of ending it', async () => {
    const origin = await startEchoOrigin();
    const dialer = directDialer();
    const port = await startPort(dialer);
    const c = await RawClient.connect(port.address.port);
    try {
      c.socket.write(`GET http://echo.test:${origin.port}/partial HTTP/1.1\r\nHost: x\r\n\r\n`);
      const head = await c.read(100);
      assert.match(head.toString(), /^HTTP\/1\.1 200 /);
      dialer.streams[0]!.destroy(new TunnelError('link-down', 'test breaks the link'));
      assert.equal(await c.closed(), 'reset');
    } finally {
      c.close();
      await port.close();
      await origin.close();
    }
  });

  test('curl sees a broken body as an error, not as a short success', async () => {
    const origin = await startEchoOrigin();
    const dialer = directDialer();
    const port = await startPort(dialer);
    try {
      const run = curl([
        '-x',
        `http://127.0.0.1:${port.address.port}`,
        '-o',
        '/dev/null',
        `http://echo.test:${origin.port}/partial`,
      ]);
      for (let i = 0; i < 100 && dialer.streams.length === 0; i++) await sleep(20);
      await sleep(100);
      dialer.streams[0]!.destroy(new TunnelError('link-down', 'test breaks the link'));
      const r = await run;
      assert.equal(r.exitCode, 56, r.stderr); // "Failure in receiving network data" (reset), not 18 (partial)
    } finally {
      await port.close();
      await origin.close();
    }
  });
});
