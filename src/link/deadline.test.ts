// The PING deadline counts any byte from the peer as life: a peer that never answers PINGs but keeps
// sending (as a link busy with data whose answer is queued behind it would) is not declared dead; once
// it falls silent, the link goes down within the deadline, its error carrying a 'timeout' cause.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { test } from 'node:test';
import { TunnelError } from '../errors.js';
import { withLimits } from '../limits.js';
import { silentLogger } from '../log.js';
import { encodeHeader, TYPE_WINDOW_UPDATE } from './frame.js';
import { Session } from './session.js';

test('bytes from the peer keep a link alive past the PING deadline; silence ends it', async () => {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const a = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const [peer] = (await accepted) as [net.Socket];
  await once(a, 'connect');
  let reads = 0;
  peer.on('data', () => reads++); // reads our PINGs, never answers them
  const s = new Session(a, {
    role: 'client',
    limits: withLimits({ pingIntervalMs: 200, pingTimeoutMs: 1500 }),
    log: silentLogger,
    peer: 'p',
  });
  let closed: Error | undefined | null = null;
  s.once('close', (err?: Error) => (closed = err));
  // A frame for a stream we do not know is dropped, but it is a byte from the peer: 50 of them, 100 ms
  // apart, span more than three deadlines.
  const frame = encodeHeader(TYPE_WINDOW_UPDATE, 0, 2, 1);
  for (let i = 0; i < 50 && closed === null; i++) {
    peer.write(frame);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(closed, null, 'alive while bytes arrive');
  assert.ok(s.alive);
  const [err] = (await once(s, 'close')) as [TunnelError];
  assert.equal(err.code, 'link-down');
  assert.equal((err.cause as TunnelError).code, 'timeout');
  console.log(
    `link alive through 50 frames (our unanswered PING read in ${reads} chunk(s)), then down: ${err.message}`,
  );
  peer.destroy();
  server.close();
});
