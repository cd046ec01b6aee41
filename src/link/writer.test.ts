// The link write queue: a PING passes the data frames waiting in the queue (so a busy link answers and
// asks PINGs in time), frames are never split or reordered otherwise, and writers wait at
// LINK_WRITE_QUEUE.

import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { test } from 'node:test';
import { FLAG_SYN, FrameDecoder, MAX_DATA_PAYLOAD, TYPE_DATA, TYPE_PING, type Frame } from './frame.js';
import { LINK_WRITE_QUEUE, LinkWriter } from './writer.js';

/** A socket that takes writes but completes them only when release() is called (a slow line). */
function slowSocket() {
  const pending: (() => void)[] = [];
  const out: Buffer[] = [];
  const sock = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk);
      pending.push(() => cb());
    },
  });
  const release = async (): Promise<void> => {
    for (let i = 0; i < 10_000; i++) {
      await new Promise<void>((r) => setImmediate(r)); // corked writes reach the socket on the next tick
      if (pending.length === 0) break;
      pending.shift()!();
    }
  };
  return { sock, out, release, pending };
}

test('a PING passes the data frames waiting in the link queue; nothing else is reordered', async () => {
  const { sock, out, release } = slowSocket();
  const w = new LinkWriter(sock);
  const FRAMES = 24; // 24 × 64 KiB = 1.5 MiB queued behind a line that takes nothing yet
  for (let i = 0; i < FRAMES; i++) w.frame(TYPE_DATA, 0, 1, 65536, Buffer.alloc(65536, i));
  assert.ok(w.queued > 0, 'frames beyond the socket queue wait in the link queue');
  let writable = false;
  w.whenWritable(() => (writable = true));
  assert.equal(writable, false, `a writer waits once ${LINK_WRITE_QUEUE} bytes are queued`);
  w.ping(FLAG_SYN, 77);
  await release();
  assert.equal(writable, true, 'released once the queue drained');
  const frames: Frame[] = new FrameDecoder(MAX_DATA_PAYLOAD).push(Buffer.concat(out));
  assert.equal(frames.length, FRAMES + 1);
  const at = frames.findIndex((f) => f.type === TYPE_PING);
  assert.equal(frames[at]!.length, 77);
  const data = frames.filter((f) => f.type === TYPE_DATA);
  data.forEach((f, i) =>
    assert.ok(f.payload.equals(Buffer.alloc(65536, i)), `data frame ${i} intact, in order`),
  );
  console.log(
    `PING left as frame ${at + 1} of ${frames.length} (queued behind it: ${FRAMES - at} data frames)`,
  );
  assert.ok(at <= 5, `the PING went out after at most the 256 KiB already on the socket (at ${at})`);
});

test('close(flush) hands every held frame to the socket; close() without flush drops them', async () => {
  const a = slowSocket();
  const wa = new LinkWriter(a.sock);
  for (let i = 0; i < 8; i++) wa.frame(TYPE_DATA, 0, 1, 65536, Buffer.alloc(65536, i));
  assert.ok(wa.queued > 0);
  wa.close(true);
  assert.equal(wa.queued, 0);
  await a.release();
  assert.equal(new FrameDecoder(MAX_DATA_PAYLOAD).push(Buffer.concat(a.out)).length, 8);

  const b = slowSocket();
  const wb = new LinkWriter(b.sock);
  for (let i = 0; i < 8; i++) wb.frame(TYPE_DATA, 0, 1, 65536, Buffer.alloc(65536, i));
  let released = false;
  wb.whenWritable(() => (released = true));
  wb.close(false);
  assert.equal(released, true, 'waiting writers are released at close');
  await b.release();
  assert.ok(new FrameDecoder(MAX_DATA_PAYLOAD).push(Buffer.concat(b.out)).length < 8);
});
