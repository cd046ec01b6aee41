// The retry-once rule of the router over real sessions on loopback: an OPEN lost with its link before
// the exit answered is opened once more on a new circuit (the same route, or the group's next member);
// an answer from the exit is final; a second loss is not retried again.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { test } from 'node:test';
import type { CircuitPool } from '../circuit/pool.js';
import { TunnelError } from '../errors.js';
import { withLimits } from '../limits.js';
import { createLogger, silentLogger } from '../log.js';
import { Session } from '../link/session.js';
import type { MuxStream } from '../link/stream.js';
import { Router } from './router.js';
import type { Action, Route } from './rules.js';

type Exit = 'silent' | 'accept' | 'refuse';

/** A client session whose far end is a server session answering every OPEN as `exit` says. */
async function link(exit: Exit, cleanup: (() => void)[]): Promise<{ client: Session; opens: MuxStream[] }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const a = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const [b] = (await accepted) as [net.Socket];
  await once(a, 'connect');
  const opens: MuxStream[] = [];
  const limits = withLimits();
  const client = new Session(a, { role: 'client', limits, log: silentLogger, peer: 'c' });
  const srv = new Session(b, {
    role: 'server',
    limits,
    log: silentLogger,
    peer: 's',
    onStream: (stream) => {
      opens.push(stream);
      if (exit === 'accept') stream.accept();
      else if (exit === 'refuse') stream.reject('refused');
    },
  });
  cleanup.push(() => {
    client.destroy();
    srv.destroy();
    server.close();
  });
  return { client, opens };
}

/** A pool handing out, per route, the given links in turn; a route is down while its last link is dead. */
function fakePool(links: Map<Route, Session[]>) {
  const handed = new Map<Route, Session>();
  let gets = 0;
  const routeOf = (relays: unknown): Route => [...links.keys()].find((r) => r.relays === relays)!;
  const pool = {
    get(relays: unknown): Promise<Session> {
      gets++;
      const route = routeOf(relays);
      const s = links.get(route)!.shift();
      if (!s) return Promise.reject(new TunnelError('refused', 'no more links'));
      handed.set(route, s);
      return Promise.resolve(s);
    },
    isDown: (relays: unknown) => handed.get(routeOf(relays))?.alive === false,
    probe: () => Promise.resolve(false),
  };
  return { pool: pool as unknown as CircuitPool, gets: () => gets };
}

const target = { host: 'example.test', port: 80 };
const routeA: Route = { name: 'a', relays: [] };
const routeB: Route = { name: 'b', relays: [] };

function router(pool: CircuitPool, lines: string[] = []): Router {
  return new Router({
    routing: { rules: [], default: { kind: 'block' } },
    pool,
    limits: withLimits(),
    log: createLogger('info', (l) => lines.push(l)),
  });
}

/** Kills `s` (as a dead link would) once its peer has received the OPEN. */
async function killAfterOpen(s: Session, opens: MuxStream[]): Promise<void> {
  for (let i = 0; i < 500 && opens.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(opens.length, 1, 'the exit received the OPEN');
  s.destroy(new TunnelError('link-down', 'test kills the link'));
}

test('route: an OPEN lost before its answer is retried once on a new circuit', async () => {
  const cleanup: (() => void)[] = [];
  const dead = await link('silent', cleanup);
  const good = await link('accept', cleanup);
  const { pool, gets } = fakePool(new Map([[routeA, [dead.client, good.client]]]));
  const lines: string[] = [];
  const dialing = router(pool, lines).dialVia({ kind: 'route', route: routeA }, target);
  await killAfterOpen(dead.client, dead.opens);
  const stream = (await dialing) as MuxStream;
  assert.ok(stream.connected);
  assert.equal(gets(), 2);
  assert.equal(good.opens.length, 1);
  assert.equal(
    lines.filter((l) => /route a: link lost before the exit answered .*retrying once/.test(l)).length,
    1,
  );
  stream.destroy();
  cleanup.forEach((f) => f());
});

test('route: the exit’s answer is final (a refusal is not retried); a second loss is not retried', async () => {
  const cleanup: (() => void)[] = [];
  const refusing = await link('refuse', cleanup);
  const spare = await link('accept', cleanup);
  const one = fakePool(new Map([[routeA, [refusing.client, spare.client]]]));
  await assert.rejects(router(one.pool).dialVia({ kind: 'route', route: routeA }, target), {
    code: 'refused',
  });
  assert.equal(one.gets(), 1);
  assert.equal(spare.opens.length, 0);

  const lost1 = await link('silent', cleanup);
  const lost2 = await link('silent', cleanup);
  const two = fakePool(new Map([[routeA, [lost1.client, lost2.client, spare.client]]]));
  const dialing = router(two.pool).dialVia({ kind: 'route', route: routeA }, target);
  const failed = assert.rejects(dialing, { code: 'link-down' });
  await killAfterOpen(lost1.client, lost1.opens);
  await killAfterOpen(lost2.client, lost2.opens);
  await failed;
  assert.equal(two.gets(), 2, 'one retry, not more');
  assert.equal(spare.opens.length, 0);
  cleanup.forEach((f) => f());
});

test('group: the retry goes to the next member, and the switch is logged', async () => {
  const cleanup: (() => void)[] = [];
  const a = await link('silent', cleanup);
  const b = await link('accept', cleanup);
  const { pool } = fakePool(
    new Map([
      [routeA, [a.client]],
      [routeB, [b.client]],
    ]),
  );
  const lines: string[] = [];
  const r = router(pool, lines);
  const action: Action = { kind: 'group', name: 'g', members: [routeA, routeB] };
  const dialing = r.dialVia(action, target);
  await killAfterOpen(a.client, a.opens);
  const stream = (await dialing) as MuxStream;
  assert.ok(stream.connected);
  assert.equal(b.opens.length, 1);
  assert.equal(r.servingMember('g'), 1);
  assert.ok(lines.some((l) => /group g route a: link lost before the exit answered/.test(l)));
  assert.ok(lines.some((l) => /group g: route a down, using b/.test(l)));
  r.close();
  stream.destroy();
  cleanup.forEach((f) => f());
});
