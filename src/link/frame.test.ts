import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TunnelError } from '../errors.js';
import {
  decodeHeader,
  encodeHeader,
  FLAG_ACK,
  FLAG_FIN,
  FLAG_RST,
  FLAG_SYN,
  FrameDecoder,
  TYPE_DATA,
  TYPE_GO_AWAY,
  TYPE_PING,
  TYPE_WINDOW_UPDATE,
  type Frame,
} from './frame.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// Known-answer vectors: header fields → bytes (yamux layout, big-endian).
const VECTORS: { name: string; bytes: string; frame: Omit<Frame, 'payload'> & { payload: string } }[] = [
  {
    name: 'DATA|SYN stream 1 with OPEN 127.0.0.1:80',
    bytes: '00 00 0001 00000001 00000008  01 01 7f000001 0050',
    frame: { type: TYPE_DATA, flags: FLAG_SYN, streamId: 1, length: 8, payload: '01017f0000010050' },
  },
  {
    name: 'DATA|ACK result 0 on stream 1',
    bytes: '00 00 0002 00000001 00000001 00',
    frame: { type: TYPE_DATA, flags: FLAG_ACK, streamId: 1, length: 1, payload: '00' },
  },
  {
    name: 'DATA|ACK|RST result 2 (policy)',
    bytes: '00 00 000a 00000003 00000001 02',
    frame: { type: TYPE_DATA, flags: FLAG_ACK | FLAG_RST, streamId: 3, length: 1, payload: '02' },
  },
  {
    name: 'DATA|FIN empty',
    bytes: '00 00 0004 00000005 00000000',
    frame: { type: TYPE_DATA, flags: FLAG_FIN, streamId: 5, length: 0, payload: '' },
  },
  {
    name: 'WINDOW_UPDATE +131072 on stream 2',
    bytes: '00 01 0000 00000002 00020000',
    frame: { type: TYPE_WINDOW_UPDATE, flags: 0, streamId: 2, length: 0x20000, payload: '' },
  },
  {
    name: 'WINDOW_UPDATE|RST',
    bytes: '00 01 0008 00000007 00000000',
    frame: { type: TYPE_WINDOW_UPDATE, flags: FLAG_RST, streamId: 7, length: 0, payload: '' },
  },
  {
    name: 'PING|SYN opaque 0xdeadbeef',
    bytes: '00 02 0001 00000000 deadbeef',
    frame: { type: TYPE_PING, flags: FLAG_SYN, streamId: 0, length: 0xdeadbeef, payload: '' },
  },
  {
    name: 'GO_AWAY protocol error',
    bytes: '00 03 0000 00000000 00000001',
    frame: { type: TYPE_GO_AWAY, flags: 0, streamId: 0, length: 1, payload: '' },
  },
  {
    name: 'DATA max stream id',
    bytes: '00 00 0000 ffffffff 00000003 616263',
    frame: { type: TYPE_DATA, flags: 0, streamId: 0xffffffff, length: 3, payload: '616263' },
  },
];

function plain(f: Frame) {
  return {
    type: f.type,
    flags: f.flags,
    streamId: f.streamId,
    length: f.length,
    payload: f.payload.toString('hex'),
  };
}

test('encodeHeader writes the known-answer bytes', () => {
  for (const v of VECTORS) {
    const h = encodeHeader(v.frame.type, v.frame.flags, v.frame.streamId, v.frame.length);
    assert.equal(h.toString('hex'), hex(v.bytes).subarray(0, 12).toString('hex'), v.name);
  }
});

test('decoder reads each vector whole', () => {
  for (const v of VECTORS) {
    const frames = new FrameDecoder(1024).push(hex(v.bytes));
    assert.deepEqual(frames.map(plain), [v.frame], v.name);
  }
});

test('every strict prefix of a frame yields nothing (need more)', () => {
  for (const v of VECTORS) {
    const bytes = hex(v.bytes);
    for (let n = 0; n < bytes.length; n++) {
      assert.deepEqual(new FrameDecoder(1024).push(bytes.subarray(0, n)), [], `${v.name}: prefix ${n}`);
      if (n <= 12)
        assert.deepEqual(decodeHeader(bytes.subarray(0, n)), n === 12 ? decodeHeader(bytes) : null);
    }
  }
});

test('all vectors back to back, fed one byte at a time, decode in order', () => {
  const all = Buffer.concat(VECTORS.map((v) => hex(v.bytes)));
  const d = new FrameDecoder(1024);
  const out: Frame[] = [];
  for (let i = 0; i < all.length; i++) out.push(...d.push(all.subarray(i, i + 1)));
  assert.deepEqual(
    out.map(plain),
    VECTORS.map((v) => v.frame),
  );
  assert.equal(d.buffered, 0);
});

test('random chunkings decode identically (seeded)', () => {
  const all = Buffer.concat(VECTORS.map((v) => hex(v.bytes)));
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let round = 0; round < 200; round++) {
    const d = new FrameDecoder(1024);
    const out: Frame[] = [];
    for (let off = 0; off < all.length;) {
      const n = 1 + rand(40);
      out.push(...d.push(all.subarray(off, off + n)));
      off += n;
    }
    assert.deepEqual(
      out.map(plain),
      VECTORS.map((v) => v.frame),
      `round ${round}`,
    );
  }
});

test('a large payload split over many chunks arrives whole', () => {
  const payload = Buffer.alloc(200_000, 7);
  const bytes = Buffer.concat([encodeHeader(TYPE_DATA, 0, 9, payload.length), payload]);
  const d = new FrameDecoder(256 * 1024);
  const out: Frame[] = [];
  for (let off = 0; off < bytes.length; off += 16384) out.push(...d.push(bytes.subarray(off, off + 16384)));
  assert.equal(out.length, 1);
  assert.ok(out[0]!.payload.equals(payload));
});

function rejects(bytes: string, max: number, pattern: RegExp): void {
  assert.throws(
    () => new FrameDecoder(max).push(hex(bytes)),
    (err: unknown) => err instanceof TunnelError && err.code === 'protocol' && pattern.test(err.message),
  );
}

test('malformed headers are protocol errors, detected on the header alone', () => {
  rejects('01 00 0000 00000001 00000000', 1024, /version 1/);
  rejects('00 04 0000 00000001 00000000', 1024, /unknown frame type 4/);
  rejects('00 ff 0000 00000001 00000000', 1024, /unknown frame type 255/);
  rejects('00 00 0010 00000001 00000000', 1024, /flags 0x10/);
  // DATA longer than the maximum: refused before its payload is buffered.
  rejects('00 00 0000 00000001 00000401', 1024, /exceeds 1024/);
  rejects('00 00 0000 00000001 ffffffff', 256 * 1024, /exceeds/);
});

test('pieces(): DATA comes out as the pieces it arrived in, uncopied; FIN and RST only on the last', () => {
  const payload = Buffer.alloc(200_000);
  for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff;
  const flags = FLAG_ACK | FLAG_FIN | FLAG_RST;
  const bytes = Buffer.concat([encodeHeader(TYPE_DATA, flags, 9, payload.length), payload]);
  const d = new FrameDecoder(256 * 1024);
  const out: Frame[] = [];
  const chunks: Buffer[] = [];
  for (let off = 0; off < bytes.length; off += 16384)
    chunks.push(Buffer.from(bytes.subarray(off, off + 16384)));
  for (const c of chunks) {
    out.push(...d.pieces(c));
    assert.equal(d.buffered, 0, 'a piece is handed on, never held');
  }
  assert.equal(out.length, chunks.length, 'one piece per chunk');
  assert.ok(Buffer.concat(out.map((f) => f.payload)).equals(payload));
  out.forEach((f, i) => {
    assert.equal(f.type, TYPE_DATA);
    assert.equal(f.streamId, 9);
    assert.equal(f.length, f.payload.length, 'a piece is its own length');
    assert.equal(f.payload.buffer, chunks[i]!.buffer, `piece ${i} is a view of its chunk, not a copy`);
    assert.equal(f.flags, i === out.length - 1 ? flags : FLAG_ACK, `piece ${i} flags`);
  });
});

test('pieces(): an OPEN (DATA|SYN) and frames without payload come out whole', () => {
  const open = Buffer.alloc(40_000, 3);
  const bytes = Buffer.concat([
    encodeHeader(TYPE_DATA, FLAG_SYN, 1, open.length),
    open,
    encodeHeader(TYPE_DATA, FLAG_FIN, 1, 0),
    encodeHeader(TYPE_WINDOW_UPDATE, 0, 1, 5),
  ]);
  const d = new FrameDecoder(256 * 1024);
  const out: Frame[] = [];
  for (let off = 0; off < bytes.length; off += 1000) out.push(...d.pieces(bytes.subarray(off, off + 1000)));
  assert.deepEqual(
    out.map((f) => [f.type, f.flags, f.length, f.payload.length]),
    [
      [TYPE_DATA, FLAG_SYN, open.length, open.length],
      [TYPE_DATA, FLAG_FIN, 0, 0],
      [TYPE_WINDOW_UPDATE, 0, 5, 0],
    ],
  );
  assert.ok(out[0]!.payload.equals(open));
  assert.equal(d.buffered, 0);
});

test('pieces(): a DATA length over the maximum is refused on the header, before any piece', () => {
  const d = new FrameDecoder(1024);
  assert.throws(
    () => d.pieces(Buffer.concat([hex('00 00 0000 00000001 00000401'), Buffer.alloc(100)])),
    (err: unknown) =>
      err instanceof TunnelError && err.code === 'protocol' && /exceeds 1024/.test(err.message),
  );
});

test('a non-DATA frame with a huge length is not a payload (WINDOW_UPDATE delta)', () => {
  const frames = new FrameDecoder(16).push(hex('00 01 0000 00000001 ffffffff'));
  assert.equal(frames.length, 1);
  assert.equal(frames[0]!.length, 0xffffffff);
  assert.equal(frames[0]!.payload.length, 0);
});
