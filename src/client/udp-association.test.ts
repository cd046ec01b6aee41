// The client's association on its own, with a stream that never drains: what cannot go now is dropped
// and counted, never queued without bound.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';

import { withLimits } from '../limits.js';
import type { MuxStream } from '../link/stream.js';
import { silentLogger } from '../log.js';
import type { Route } from './rules.js';
import { ClientAssociation, UDP_QUEUE_MAX } from './udp-association.js';

const route: Route = { name: 'r', relays: [] };
const datagram = (n: number) => ({ peer: { host: '192.0.2.1', port: 53 }, data: Buffer.alloc(n) });

function association(limits: Parameters<typeof withLimits>[0], open: () => Promise<MuxStream>) {
  return new ClientAssociation({
    decide: () => ({ kind: 'route', route }),
    open,
    limits: withLimits(limits),
    log: silentLogger,
    onReply: () => undefined,
  });
}

test('udp_bytes_in_flight: a stream backed up beyond it drops new datagrams', async () => {
  // A stream nobody reads: everything written stays in its buffer (writableLength).
  const stream = new PassThrough({ highWaterMark: 1 });
  stream.pause();
  const a = association({ udpBytesInFlight: 10_000 }, async () => stream as unknown as MuxStream);
  a.send(datagram(10));
  await new Promise((r) => setImmediate(r)); // the path opens
  for (let i = 0; i < 20; i++) a.send(datagram(1000));
  assert.ok(stream.writableLength <= 10_000 + 1100, `buffered ${stream.writableLength}`);
  assert.ok(a.drops.slow >= 9, JSON.stringify(a.drops));
  a.close();
});

test('datagrams waiting for the path to open are bounded (UDP_QUEUE_MAX), the rest dropped', async () => {
  let resolve!: (s: MuxStream) => void;
  const a = association({}, () => new Promise((r) => (resolve = r)));
  for (let i = 0; i < UDP_QUEUE_MAX + 10; i++) a.send(datagram(1));
  assert.equal(a.drops.queue, 10);
  const stream = new PassThrough();
  const got: Buffer[] = [];
  stream.on('data', (c: Buffer) => got.push(c));
  resolve(stream as unknown as MuxStream);
  await new Promise((r) => setImmediate(r));
  assert.equal(Buffer.concat(got).length, UDP_QUEUE_MAX * (2 + 7 + 1), 'the queued ones went, as records');
  a.close();
});

test('udp_datagrams_per_second: a burst beyond it is dropped', () => {
  const a = association({ udpDatagramsPerSecond: 3 }, () => new Promise(() => undefined));
  for (let i = 0; i < 10; i++) a.send(datagram(1));
  assert.ok(a.drops.rate >= 4 && a.drops.rate <= 7, JSON.stringify(a.drops)); // a second may turn over
  a.close();
});

test('a failed open drops for a while, then the next datagram tries again', async () => {
  let opens = 0;
  const a = association({}, async () => {
    opens++;
    throw new Error('no');
  });
  a.send(datagram(1));
  await new Promise((r) => setImmediate(r));
  a.send(datagram(1));
  assert.equal(opens, 1);
  assert.equal(a.drops.failed, 2, 'the queued one and the one after');
  a.close();
});
