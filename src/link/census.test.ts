import assert from 'node:assert/strict';
import * as net from 'node:net';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { Census } from './census.js';

test('a snapshot lists at most streamsMax streams, oldest first, with the total; closed ones go', async () => {
  const census = new Census('relay');
  const streams = Array.from({ length: 5 }, () => new PassThrough());
  streams.forEach((s, i) => census.stream(s, `host${i}.example:443`, 'r'));
  const snap = census.snapshot(2);
  assert.equal(snap.streams.total, 5);
  assert.deepEqual(
    snap.streams.shown.map((s) => s.target),
    ['host0.example:443', 'host1.example:443'],
  );
  streams[0]!.destroy();
  await new Promise((r) => setImmediate(r));
  assert.equal(census.snapshot(10).streams.total, 4);
  assert.equal(census.totals().streams, 4);
});

test('stream bytes are read from the sockets, and stay counted after they close; refusals by code', async () => {
  const census = new Census('client');
  const server = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sock = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  census.stream(sock, 'echo', 'direct');
  sock.write(Buffer.alloc(3000));
  let got = 0;
  await new Promise<void>((r) =>
    sock.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= 3000) r();
    }),
  );
  const live = census.snapshot(10).streams.shown[0]!;
  assert.deepEqual([live.bytes_in, live.bytes_out, live.state], [3000, 3000, 'open']);
  sock.destroy();
  await new Promise((r) => sock.once('close', r));
  const t = census.totals();
  assert.deepEqual([t.streams, t.streamBytesIn, t.streamBytesOut], [0, 3000, 3000]);
  census.refused('policy');
  census.refused('policy');
  census.refused('timeout');
  assert.deepEqual(census.totals().refusals, { policy: 2, timeout: 1 });
  server.close();
});
