// dialExit against real loopback servers (127.0.0.1 and ::1 only) that count the connections they
// accept, so "refused by policy" is checked where it matters: nothing reached the server.

import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { TunnelError, type ErrorCode } from '../errors.js';
import { buildExitPolicy, parseExitRule } from './exit-policy.js';
import { dialExit, type ExitOptions } from './exit.js';

interface Counted {
  readonly server: Server;
  readonly port: number;
  count: number;
}

async function listen(host: string, port = 0): Promise<Counted> {
  const c: Counted = { server: createServer(), port: 0, count: 0 };
  c.server.on('connection', (s: Socket) => {
    c.count++;
    s.destroy();
  });
  c.server.listen(port, host);
  await Promise.race([once(c.server, 'listening'), once(c.server, 'error').then(([e]) => Promise.reject(e))]);
  return Object.assign(c, { port: (c.server.address() as { port: number }).port });
}

async function close(c: Counted | undefined): Promise<void> {
  if (c?.server.listening) await new Promise((r) => c.server.close(r));
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
async function freePort(): Promise<number> {
  const c = await listen('127.0.0.1');
  await close(c);
  return c.port;
}

async function rejectsWith(p: Promise<Socket>, code: ErrorCode, message?: RegExp): Promise<TunnelError> {
  let caught: unknown;
  try {
    const s = await p;
    s.destroy();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof TunnelError, `expected TunnelError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

const neverLookup = async (host: string): Promise<string[]> => {
  throw new Error(`lookup must not be called for ${host}`);
};
const DEFAULTS = buildExitPolicy([], []);
const opts = (extra: Partial<ExitOptions> = {}): ExitOptions => ({
  policy: DEFAULTS,
  connectTimeoutMs: 2000,
  lookup: neverLookup,
  ...extra,
});

let v4: Counted;
let v6: Counted | undefined; // ::1 on the same port, when the host has IPv6 loopback

before(async () => {
  v4 = await listen('127.0.0.1');
  v6 = await listen('::1', v4.port).catch(() => undefined);
});
after(async () => {
  await close(v4);
  await close(v6);
});
const total = (): number => v4.count + (v6?.count ?? 0);
let mark = 0;
beforeEach(() => {
  mark = total();
});
/** Connections the servers accepted since this test began. */
const accepted = (): number => total() - mark;

test('default policy: every odd loopback form is refused and never reaches the server', async () => {
  const forms = [
    '127.0.0.1',
    '127.1',
    '127.0.1',
    '0x7f.1',
    '0x7f.0.0.1',
    '0x7f000001',
    '2130706433',
    '017700000001',
    '0177.0.0.1',
    '::ffff:127.0.0.1',
    '[::ffff:127.0.0.1]',
    '::ffff:7f00:1',
    '::1',
    '[::1]',
    '::',
    '[::]',
    '0.0.0.0',
    '0',
    '2002:7f00:1::1',
    '64:ff9b::127.0.0.1',
  ];
  for (const host of forms) {
    await rejectsWith(
      dialExit({ host, port: v4.port }, opts()),
      'policy',
      /^refused by exit policy rule "reject /,
    );
  }
  await sleep(20);
  assert.equal(accepted(), 0);
});

test('default policy: localhost names (RFC 6761) are refused before any lookup, naming the rule', async () => {
  for (const host of ['localhost', 'localhost.', 'LocalHost', 'app.localhost', 'a.b.localhost.']) {
    // neverLookup throws if called: the name is loopback by definition, not the resolver's to answer.
    const err = await rejectsWith(dialExit({ host, port: v4.port }, opts()), 'policy');
    assert.equal(
      err.message,
      'refused by exit policy rule "reject 127.0.0.0/8:*" (a localhost name is loopback by definition, RFC 6761; never looked up)',
      host,
    );
  }
  await sleep(20);
  assert.equal(accepted(), 0);
});

test('a localhost name is the loopback addresses to an owner who accepts them', async () => {
  const policy = buildExitPolicy([parseExitRule(`accept 127.0.0.1:${v4.port}`)], []);
  const s = await dialExit({ host: 'app.localhost.', port: v4.port }, opts({ policy }));
  s.destroy();
  for (let i = 0; i < 100 && accepted() < 1; i++) await sleep(10);
  assert.equal(accepted(), 1);
});

test('names that only end like localhost are looked up as usual', async () => {
  const seen: string[] = [];
  const lookup = async (host: string): Promise<string[]> => (seen.push(host), ['10.0.0.1']);
  await rejectsWith(dialExit({ host: 'notlocalhost', port: 80 }, opts({ lookup })), 'policy');
  await rejectsWith(dialExit({ host: 'localhost.example', port: 80 }, opts({ lookup })), 'policy');
  assert.deepEqual(seen, ['notlocalhost', 'localhost.example']);
});

test('a resolver answer with any approved address is still refused if none is approved', async () => {
  const seen: string[] = [];
  const lookup = async (host: string): Promise<string[]> => {
    seen.push(host);
    return ['127.0.0.1', '10.0.0.1'];
  };
  const err = await rejectsWith(
    dialExit({ host: 'rebind.example', port: v4.port }, opts({ lookup })),
    'policy',
  );
  assert.equal(err.message, 'refused by exit policy rule "reject 127.0.0.0/8:*"');
  assert.doesNotMatch(err.message, /10\.0\.0\.1|rebind/);
  assert.deepEqual(seen, ['rebind.example']); // looked up exactly once
  await sleep(20);
  assert.equal(accepted(), 0);
});

test('accept 127.0.0.1:<port> first: that port connects, in any literal form', async () => {
  const policy = buildExitPolicy([parseExitRule(`accept 127.0.0.1:${v4.port}`)], []);
  for (const host of ['127.0.0.1', '127.1', '0x7f.1', '2130706433', '::ffff:127.0.0.1']) {
    const s = await dialExit({ host, port: v4.port }, opts({ policy }));
    assert.equal(s.remoteAddress, '127.0.0.1', host);
    assert.equal(s.allowHalfOpen, true);
    s.destroy();
  }
  for (let i = 0; i < 100 && accepted() < 5; i++) await sleep(10);
  assert.equal(accepted(), 5);
  // Another port on loopback stays closed.
  await rejectsWith(dialExit({ host: '127.0.0.1', port: v4.port + 1 }, opts({ policy })), 'policy');
});

test('only approved addresses are dialled, in order, until one connects', async () => {
  const policy = buildExitPolicy([parseExitRule('accept 127.0.0.1:*'), parseExitRule('accept [::1]:*')], []);
  const only4 = await listen('127.0.0.1');
  try {
    // 10.0.0.1 is refused by the defaults and never dialled; ::1 has nothing on this port (or no IPv6).
    const lookup = async (): Promise<string[]> => ['10.0.0.1', '::1', '127.0.0.1'];
    const s = await dialExit({ host: 'mixed.example', port: only4.port }, opts({ policy, lookup }));
    assert.equal(s.remoteAddress, '127.0.0.1');
    s.destroy();
  } finally {
    await close(only4);
  }
});

test('a closed port is refused', async () => {
  const port = await freePort();
  const policy = buildExitPolicy([parseExitRule(`accept 127.0.0.1:${port}`)], []);
  await rejectsWith(dialExit({ host: '127.0.0.1', port }, opts({ policy })), 'refused');
});

test('resolver failures are host-unreachable', async () => {
  const enotfound = async (): Promise<string[]> => {
    throw Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.invalid'), { code: 'ENOTFOUND' });
  };
  await rejectsWith(
    dialExit({ host: 'nowhere.invalid', port: 80 }, opts({ lookup: enotfound })),
    'host-unreachable',
    /ENOTFOUND/,
  );
  const odd = async (): Promise<string[]> => {
    throw new Error('resolver exploded');
  };
  await rejectsWith(dialExit({ host: 'x.example', port: 80 }, opts({ lookup: odd })), 'host-unreachable');
  const empty = async (): Promise<string[]> => [];
  await rejectsWith(dialExit({ host: 'x.example', port: 80 }, opts({ lookup: empty })), 'host-unreachable');
  const garbage = async (): Promise<string[]> => ['not-an-address', 'fe80::1%eth0'];
  await rejectsWith(dialExit({ host: 'x.example', port: 80 }, opts({ lookup: garbage })), 'host-unreachable');
});

test('bad targets are address-type and never looked up', async () => {
  for (const port of [0, -1, 65536, 1.5]) {
    await rejectsWith(dialExit({ host: '127.0.0.1', port }, opts()), 'address-type');
  }
  for (const host of ['', 'fe80::1%eth0', '[::1', '1.2.3.4 junk', 'a/b', 'a\u0000b', ':80']) {
    await rejectsWith(dialExit({ host, port: 80 }, opts()), 'address-type');
  }
  assert.equal(accepted(), 0);
});

test('abort and deadline: before, during lookup, and the timeout', async () => {
  const hanging = (): Promise<string[]> => new Promise<string[]>(() => {});
  const pre = new AbortController();
  pre.abort();
  await rejectsWith(dialExit({ host: '127.0.0.1', port: v4.port }, opts({ signal: pre.signal })), 'timeout');

  const mid = new AbortController();
  const p = dialExit({ host: 'slow.example', port: 80 }, opts({ lookup: hanging, signal: mid.signal }));
  setImmediate(() => mid.abort());
  await rejectsWith(p, 'timeout', /aborted/);

  // A TunnelError given as the abort reason is what the caller gets back.
  const why = new AbortController();
  const q = dialExit({ host: 'slow.example', port: 80 }, opts({ lookup: hanging, signal: why.signal }));
  why.abort(new TunnelError('link-down', 'link went away'));
  await rejectsWith(q, 'link-down');

  const t0 = Date.now();
  await rejectsWith(
    dialExit({ host: 'slow.example', port: 80 }, opts({ lookup: hanging, connectTimeoutMs: 50 })),
    'timeout',
    /50 ms/,
  );
  assert.ok(Date.now() - t0 < 1000);
  await sleep(20);
  assert.equal(accepted(), 0);
});

test('failures leave no socket or timer behind', async () => {
  const count = (): Map<string, number> => {
    const m = new Map<string, number>();
    for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1);
    return m;
  };
  await sleep(20);
  const start = count();
  const port = await freePort();
  const policy = buildExitPolicy([parseExitRule(`accept 127.0.0.1:${port}`)], []);
  for (let i = 0; i < 20; i++) {
    await rejectsWith(dialExit({ host: '127.0.0.1', port }, opts({ policy })), 'refused');
    await rejectsWith(dialExit({ host: '127.1', port }, opts()), 'policy');
  }
  await sleep(20);
  const end = count();
  for (const kind of ['Timeout', 'TCPSocketWrap']) {
    assert.ok(
      (end.get(kind) ?? 0) <= (start.get(kind) ?? 0),
      `${kind}: ${start.get(kind)} -> ${end.get(kind)}`,
    );
  }
});
