// Isolated circuits in the pool, with a stand-in builder and a manual clock: each isolation key gets a
// circuit of its own, never shared; their number is bounded (the least recently used idle one makes
// room, else `limit`); an idle one closes; their failures mark the route down.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../test/support/fake-clock.js';
import { FakeSession } from '../../test/support/fake-session.js';
import { TunnelError } from '../errors.js';
import type { Identity } from '../identity/identity.js';
import { withLimits } from '../limits.js';
import { createLogger } from '../log.js';
import type { Session } from '../link/session.js';
import type { Hop } from './circuit.js';
import { CircuitPool } from './pool.js';

const ROUTE: Hop[] = [
  { pin: 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=', target: { host: '127.0.0.1', port: 9 } },
];
const iso = (name: string) => ({ key: `k-${name}`, label: `login ${name} #000000` });

function setup(max: number, idleMs = 1_000, fail = false) {
  const clock = new FakeClock([0.5]);
  const lines: string[] = [];
  const sessions: FakeSession[] = [];
  const pool = new CircuitPool({
    identity: {} as Identity,
    limits: withLimits({ isolatedCircuitsMax: max, isolatedCircuitIdleMs: idleMs }),
    log: createLogger('debug', (l) => lines.push(l.replace(/^\S+ /, ''))),
    clock,
    build: () => {
      if (fail) return Promise.reject(new TunnelError('refused', 'relay QUJDREVG: connect ECONNREFUSED'));
      const s = new FakeSession();
      sessions.push(s);
      return Promise.resolve(s as unknown as Session);
    },
  });
  return { pool, clock, lines, sessions };
}

test('each isolation key has its own circuit, the same key shares one, no key takes the shared one', async () => {
  const t = setup(8);
  const shared = await t.pool.get(ROUTE);
  const a1 = await t.pool.get(ROUTE, undefined, iso('alice'));
  const a2 = await t.pool.get(ROUTE, undefined, iso('alice'));
  const b = await t.pool.get(ROUTE, undefined, iso('bob'));
  const shared2 = await t.pool.get(ROUTE, undefined, null);
  assert.equal(t.sessions.length, 3, 'three circuits: shared, alice, bob');
  assert.equal(a1, a2);
  assert.notEqual(a1, b);
  assert.notEqual(a1, shared);
  assert.equal(shared, shared2);
  assert.equal(t.pool.isolatedCount, 2);
  assert.ok(
    t.lines.some((l) => l === 'info link up: QUJDREVG [login alice #000000]'),
    t.lines.join('\n'),
  );
});

test('isolatedCircuitsMax: the least recently used idle circuit makes room; when all carry streams, `limit`', async () => {
  const t = setup(2);
  const a = (await t.pool.get(ROUTE, undefined, iso('a'))) as unknown as FakeSession;
  const b = (await t.pool.get(ROUTE, undefined, iso('b'))) as unknown as FakeSession;
  a.streamCount = 1; // a is busy, b idle: c takes b's place
  await t.pool.get(ROUTE, undefined, iso('c'));
  assert.equal(b.closed, true, 'the idle one closed');
  assert.equal(a.closed, false, 'the busy one kept');
  assert.equal(t.pool.isolatedCount, 2);
  t.sessions[2]!.streamCount = 1; // a and c both busy now
  await assert.rejects(t.pool.get(ROUTE, undefined, iso('d')), (err: unknown) => {
    assert.ok(err instanceof TunnelError);
    assert.equal(err.code, 'limit');
    assert.match(err.message, /2 isolated circuits all carry streams \(limits\.isolated_circuits_max\)/);
    return true;
  });
  assert.equal(t.sessions.length, 3, 'no build for the refused one');
  // An existing key still gets its circuit at the limit.
  assert.equal(await t.pool.get(ROUTE, undefined, iso('a')), a as unknown as Session);
  // The shared circuit is not counted.
  await t.pool.get(ROUTE);
  assert.equal(t.sessions.length, 4);
});

test('an isolated circuit with no stream for isolatedCircuitIdleMs closes; a busy one stays', async () => {
  const t = setup(8, 1_000);
  const idle = (await t.pool.get(ROUTE, undefined, iso('idle'))) as unknown as FakeSession;
  const busy = (await t.pool.get(ROUTE, undefined, iso('busy'))) as unknown as FakeSession;
  busy.streamCount = 3;
  await t.clock.advance(999);
  assert.equal(idle.closed, false, 'not before its time');
  await t.clock.advance(600);
  assert.equal(idle.closed, true);
  assert.equal(busy.closed, false);
  assert.equal(t.pool.isolatedCount, 1);
  assert.ok(
    t.lines.some((l) => /link down: QUJDREVG \[login idle #000000\]: isolated circuit closed/.test(l)),
  );
  busy.streamCount = 0; // its streams end: idle from now on
  await t.clock.advance(1_600);
  assert.equal(busy.closed, true);
  assert.equal(t.pool.isolatedCount, 0);
  assert.equal(t.clock.pending, 0, 'the sweep stops with no isolated circuit left');
  // The same key again: a new circuit.
  await t.pool.get(ROUTE, undefined, iso('idle'));
  assert.equal(t.sessions.length, 3);
});

test('a failed isolated build marks the route down; it is not rebuilt in the background', async () => {
  const t = setup(8, 1_000, true);
  await assert.rejects(t.pool.get(ROUTE, undefined, iso('a')), { code: 'refused' });
  assert.equal(t.pool.isDown(ROUTE), true);
  const before = t.clock.pending;
  await t.clock.advance(60_000);
  assert.equal(t.pool.reconnectAttempts(ROUTE), 0);
  assert.ok(before <= 1, 'at most the idle sweep was pending');
  assert.equal(t.pool.isolatedCount, 0, 'forgotten once idle');
});

test('close stops the sweep and closes isolated circuits', async () => {
  const t = setup(8);
  const a = (await t.pool.get(ROUTE, undefined, iso('a'))) as unknown as FakeSession;
  await t.pool.close(0);
  assert.equal(a.closed, true);
  assert.equal(t.clock.pending, 0);
});
