// The pool's self-healing with a stand-in circuit builder and a manual clock: background reconnects are
// bounded and stop when they should, a request never waits for the backoff, and the log says each
// state change once.

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
import { buildFailReason, linkDownReason } from './reason.js';
import { RECENT_USE_MS } from './retry.js';

const ROUTE: Hop[] = [
  { pin: 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=', target: { host: '127.0.0.1', port: 9 } },
];

/** A pool whose builder answers from `outcomes` (a session, or an error), the last one repeating. */
function setup(outcomes: (TunnelError | 'ok')[], attemptsMax = 5, accepted = true) {
  const clock = new FakeClock([0.5]);
  const lines: string[] = [];
  const sessions: FakeSession[] = [];
  let builds = 0;
  const pool = new CircuitPool({
    identity: {} as Identity,
    limits: withLimits({ reconnectAttemptsMax: attemptsMax }),
    log: createLogger('debug', (l) => lines.push(l.replace(/^\S+ /, ''))),
    clock,
    build: () => {
      const o = outcomes[Math.min(builds++, outcomes.length - 1)]!;
      if (o !== 'ok') return Promise.reject(o);
      const s = new FakeSession();
      s.accepted = accepted;
      sessions.push(s);
      return Promise.resolve(s as unknown as Session);
    },
  });
  return { pool, clock, lines, sessions, builds: () => builds };
}

const refused = new TunnelError('refused', 'relay QUJDREVG at 127.0.0.1:9: connect ECONNREFUSED');
const count = (lines: string[], re: RegExp): number => lines.filter((l) => re.test(l)).length;

test('a link lost while in use is rebuilt in the background, at most reconnectAttemptsMax times', async () => {
  const t = setup(['ok', refused], 5);
  await t.pool.get(ROUTE);
  t.sessions[0]!.destroy(new TunnelError('link-down', 'link closed'));
  assert.ok(t.pool.isDown(ROUTE));
  await t.clock.advance(RECENT_USE_MS - 1);
  assert.equal(t.builds(), 1 + 5, 'the first build and 5 reconnect attempts');
  assert.equal(t.pool.reconnectAttempts(ROUTE), 5);
  assert.equal(count(t.lines, /^info link down: QUJDREVG: closed/), 1);
  assert.equal(count(t.lines, /^warn link to QUJDREVG failed: refused/), 1, 'one warning for five failures');
  assert.equal(count(t.lines, /^debug link to QUJDREVG failed: refused .*in a row/), 4);
  assert.equal(count(t.lines, /gave up reconnecting after 5 attempts/), 1);
  assert.equal(t.clock.pending, 0, 'no timer left');
  console.log(`builds ${t.builds()}; log:\n  ${t.lines.filter((l) => !l.startsWith('debug')).join('\n  ')}`);
});

test("link up is logged at the relay's first frame; a link closed before it is a failed build, never up", async () => {
  const t = setup(['ok'], 0, false);
  await t.pool.get(ROUTE);
  assert.equal(count(t.lines, /link up/), 0, 'not before the first frame');
  t.sessions[0]!.destroy(
    new TunnelError('link-auth', 'relay QUJDREVG closed the link without accepting our key'),
  );
  assert.equal(count(t.lines, /link up|link down/), 0, t.lines.join('\n'));
  assert.equal(count(t.lines, /^warn link to QUJDREVG failed: auth/), 1, t.lines.join('\n'));
  await t.pool.get(ROUTE);
  t.sessions[1]!.accepted = true;
  t.sessions[1]!.emit('accepted');
  assert.equal(count(t.lines, /^info link up: QUJDREVG/), 1, t.lines.join('\n'));
});

test('a request during the backoff builds at once, and ends the background run', async () => {
  const t = setup(['ok', refused, 'ok'], 8);
  await t.pool.get(ROUTE);
  t.sessions[0]!.destroy(new TunnelError('link-down', 'link closed'));
  await t.clock.advance(600); // attempt 1 is due at 1000 ms (base 1000, jitter factor 1.0): not yet
  assert.equal(t.builds(), 1);
  await t.clock.advance(1000); // attempt 1 fails: refused
  assert.equal(t.builds(), 2);
  const s = await t.pool.get(ROUTE); // the user's request: no waiting for attempt 2
  assert.equal(t.builds(), 3);
  assert.equal(s, t.sessions[1] as unknown as Session);
  assert.ok(!t.pool.isDown(ROUTE));
  assert.equal(count(t.lines, /^info link up: QUJDREVG \(after 1 failed attempt\)/), 1);
  await t.clock.advance(10 * 60_000);
  assert.equal(t.builds(), 3, 'no more background builds once up');
  assert.equal(t.clock.pending, 0);
});

test('a changed failure reason is logged again; a route unused for long is not reconnected', async () => {
  const timeout = new TunnelError('timeout', 'TLS handshake took over 10000 ms');
  const t = setup(['ok', refused, refused, timeout, timeout, refused], 5);
  await t.pool.get(ROUTE);
  t.sessions[0]!.destroy(
    new TunnelError('link-down', 'x', { cause: new TunnelError('reset', 'ECONNRESET') }),
  );
  await t.clock.advance(RECENT_USE_MS - 1);
  assert.equal(count(t.lines, /^info link down: QUJDREVG: reset/), 1);
  assert.deepEqual(
    t.lines.filter((l) => l.startsWith('warn')).map((l) => /failed: (\S+)/.exec(l)![1]),
    ['refused', 'timeout', 'refused'],
  );

  const idle = setup(['ok', refused]);
  await idle.pool.get(ROUTE);
  await idle.clock.advance(RECENT_USE_MS + 1);
  idle.sessions[0]!.destroy(new TunnelError('link-down', 'link closed'));
  await idle.clock.advance(RECENT_USE_MS);
  assert.equal(idle.builds(), 1, 'not in use: no background build');
});

test('close() stops reconnecting and logs the links it closes as shutdown', async () => {
  const t = setup(['ok', refused]);
  await t.pool.get(ROUTE);
  t.sessions[0]!.destroy(new TunnelError('link-down', 'link closed'));
  await t.pool.close(10);
  await t.clock.advance(10 * 60_000);
  assert.equal(t.builds(), 1);
  const u = setup(['ok']);
  await u.pool.get(ROUTE);
  await u.pool.close(10);
  assert.equal(count(u.lines, /^info link down: QUJDREVG: shutdown$/), 1);
});

test('reasons: stable words from the error and its causes', () => {
  const ping = new TunnelError('link-down', 'PING deadline missed', {
    cause: new TunnelError('timeout', 'no PING answer in 5000 ms'),
  });
  assert.equal(linkDownReason(ping, false), 'ping-timeout');
  const inner = new TunnelError('link-down', 'an outer hop went down', { cause: ping });
  assert.equal(linkDownReason(inner, false), 'ping-timeout');
  assert.equal(linkDownReason(undefined, true), 'go-away');
  assert.equal(linkDownReason(undefined, false), 'closed');
  assert.equal(linkDownReason(new TunnelError('link-down', 'link ended by peer'), false), 'closed');
  const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
  assert.equal(linkDownReason(new TunnelError('link-down', 'x', { cause: reset }), false), 'reset');
  assert.equal(linkDownReason(new TunnelError('protocol', 'bad frame'), false), 'protocol-error');
  const tls = Object.assign(new Error('decryption failed'), {
    code: 'ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC',
  });
  assert.equal(linkDownReason(new TunnelError('link-down', 'x', { cause: tls }), false), 'tls-error');
  assert.equal(buildFailReason(refused), 'refused');
  assert.equal(buildFailReason(new TunnelError('timeout', 'TLS handshake took over 10000 ms')), 'timeout');
  assert.equal(buildFailReason(new TunnelError('link-auth', 'relay key X is not the pinned Y')), 'auth');
  assert.equal(buildFailReason(new TunnelError('policy', 'relay answered policy')), 'policy');
  assert.equal(
    buildFailReason(new TunnelError('link-down', 'relay closed the connection during the handshake')),
    'closed',
  );
});
