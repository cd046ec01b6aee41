// serveTransparentUdp on a real loopback UDP socket, with connection tracking and the router stood in
// for: what it must prove is its own bookkeeping (the flow bound, the idle end, names held, direct
// refused). The namespace path with the real kernel is test/run/isolate-native.test.ts and
// test/netns/isolate-udp.test.ts.

import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { test } from 'node:test';
import type { Router } from '../client/router.js';
import type { Action } from '../client/rules.js';
import { DEFAULT_LIMITS, withLimits, type Limits } from '../limits.js';
import type { Logger } from '../log.js';
import type { UdpSender } from '../proxy/dialer.js';
import type { Datagram } from '../wire/udp.js';
import { formatTarget } from '../wire/address.js';
import { NameTable } from './names.js';
import type { Addon } from './native.js';
import { serveTransparentUdp } from './transparent-udp.js';

interface Fixture {
  server: dgram.Socket;
  sent: string[];
  opened: number;
  closed: number;
  lines: string[];
  /** Original destination by the program's source port. */
  dst: Map<number, { address: string; port: number }>;
}

async function fixture(
  limits: Limits,
  action: Action,
  allowDirect = false,
): Promise<Fixture & { served: ReturnType<typeof serveTransparentUdp>; table: NameTable }> {
  const server = dgram.createSocket('udp4');
  server.bind(0, '127.0.0.1');
  await once(server, 'listening');
  const f: Fixture = { server, sent: [], opened: 0, closed: 0, lines: [], dst: new Map() };
  const addon = {
    conntrackOrigDst: (_fd: number, _l: string, _lp: number, _p: string, peerPort: number) =>
      f.dst.get(peerPort) ?? null,
  } as unknown as Addon;
  const router = {
    decision: () => ({ rule: null, action }),
    associate: (onReply: (d: Datagram) => void): UdpSender => {
      f.opened++;
      return {
        send: (d: Datagram) => {
          f.sent.push(`${formatTarget(d.peer)} ${d.data.toString()}`);
          onReply({ peer: d.peer, data: Buffer.from(`re:${d.data.toString()}`) });
        },
        close: () => void f.closed++,
        drops: {},
      };
    },
  } as unknown as Router;
  const log: Logger = {
    debug: () => undefined,
    info: (m) => void f.lines.push(m),
    warn: (m) => void f.lines.push(m),
    error: (m) => void f.lines.push(m),
  };
  const table = new NameTable(16, 64);
  const served = serveTransparentUdp(server, {
    router,
    table,
    addon,
    conntrackFd: -1,
    limits,
    log,
    allowDirect,
  });
  return Object.assign(f, { served, table });
}

async function program(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

/** Sends one datagram and waits (bounded) for an answer, or null after 300 ms. */
async function ask(s: dgram.Socket, to: dgram.Socket, text: string): Promise<string | null> {
  const answer = new Promise<string | null>((resolve) => {
    const t = setTimeout(() => {
      s.off('message', on);
      resolve(null);
    }, 300);
    const on = (m: Buffer): void => {
      clearTimeout(t);
      resolve(m.toString());
    };
    s.once('message', on);
  });
  s.send(text, to.address().port, '127.0.0.1');
  return answer;
}

const ROUTE: Action = { kind: 'route', route: { name: 'r', hops: [] } } as unknown as Action;

test('transparent udp: a flow per program socket, by its original destination; a table address goes as its name and is held', async () => {
  const f = await fixture(DEFAULT_LIMITS, ROUTE);
  const a = f.table.addressFor('echo.test')!;
  const p1 = await program();
  const p2 = await program();
  f.dst.set(p1.address().port, { address: a, port: 7 });
  f.dst.set(p2.address().port, { address: '192.0.2.8', port: 9 });
  try {
    assert.equal(await ask(p1, f.server, 'one'), 're:one');
    assert.equal(await ask(p1, f.server, 'two'), 're:two');
    assert.equal(await ask(p2, f.server, 'three'), 're:three');
    assert.deepEqual(f.sent, ['echo.test:7 one', 'echo.test:7 two', '192.0.2.8:9 three']);
    assert.equal(f.opened, 2);
    assert.equal(f.served.flowCount(), 2);
    assert.equal(f.table.heldCount, 1, 'the name is held while its flow lives');
    f.served.close();
    assert.equal(f.closed, 2);
    assert.equal(f.table.heldCount, 0);
  } finally {
    f.served.close();
    for (const s of [p1, p2, f.server]) s.close();
  }
});

test('transparent udp: udp_flows_max bounds the flows; one more is dropped and counted, the open ones go on', async () => {
  const f = await fixture(withLimits({ udpFlowsMax: 2 }), ROUTE);
  const ps = [await program(), await program(), await program()];
  ps.forEach((p, i) => f.dst.set(p.address().port, { address: '192.0.2.8', port: 100 + i }));
  try {
    assert.equal(await ask(ps[0]!, f.server, 'a'), 're:a');
    assert.equal(await ask(ps[1]!, f.server, 'b'), 're:b');
    assert.equal(await ask(ps[2]!, f.server, 'c'), null, 'a third flow is not carried');
    assert.equal(f.served.drops.flows, 1);
    assert.equal(f.opened, 2);
    assert.equal(await ask(ps[0]!, f.server, 'd'), 're:d', 'an open flow still carries');
    await new Promise((r) => setTimeout(r, 1100)); // the per-second log line
    assert.ok(
      f.lines.some((l) => /2 UDP flows open \(limits\.udp_flows_max\)/.test(l)),
      f.lines.join('\n'),
    );
  } finally {
    f.served.close();
    for (const s of [...ps, f.server]) s.close();
  }
});

test('transparent udp: a flow quiet for udp_idle_timeout_ms ends (association closed, name released); the next datagram opens a new one', async () => {
  const f = await fixture(withLimits({ udpIdleTimeoutMs: 200 }), ROUTE);
  const a = f.table.addressFor('quiet.test')!;
  const p = await program();
  f.dst.set(p.address().port, { address: a, port: 53 });
  try {
    assert.equal(await ask(p, f.server, 'x'), 're:x');
    assert.equal(f.table.heldCount, 1);
    for (let i = 0; i < 40 && f.served.flowCount() > 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(f.served.flowCount(), 0);
    assert.equal(f.closed, 1);
    assert.equal(f.table.heldCount, 0);
    assert.equal(await ask(p, f.server, 'y'), 're:y');
    assert.equal(f.opened, 2);
  } finally {
    f.served.close();
    for (const s of [p, f.server]) s.close();
  }
});

test('transparent udp: unreadable destination and direct without --allow-direct are dropped and counted; with it, direct is carried', async () => {
  const f = await fixture(DEFAULT_LIMITS, { kind: 'direct' });
  const p = await program();
  const q = await program();
  f.dst.set(q.address().port, { address: '192.0.2.8', port: 5 });
  try {
    assert.equal(await ask(p, f.server, 'lost'), null, 'no tracked destination');
    assert.equal(f.served.drops.unreadable, 1);
    assert.equal(await ask(q, f.server, 'out'), null, 'direct would leave outside ett');
    assert.equal(f.served.drops.refused, 1);
    assert.equal(f.opened, 0);
    await new Promise((r) => setTimeout(r, 1100));
    assert.ok(
      f.lines.some((l) => /says direct, refused under --isolate/.test(l)),
      f.lines.join('\n'),
    );
  } finally {
    f.served.close();
    for (const s of [p, q, f.server]) s.close();
  }
  const g = await fixture(DEFAULT_LIMITS, { kind: 'direct' }, true);
  const r = await program();
  g.dst.set(r.address().port, { address: '192.0.2.8', port: 5 });
  try {
    assert.equal(await ask(r, g.server, 'ok'), 're:ok');
  } finally {
    g.served.close();
    for (const s of [r, g.server]) s.close();
  }
});
