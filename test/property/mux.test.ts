// Properties of the multiplexer codec: frame headers, the streaming FrameDecoder, and the OPEN header.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';

import {
  FrameDecoder,
  HEADER_SIZE,
  MAX_DATA_PAYLOAD,
  FLAG_FIN,
  FLAG_RST,
  FLAG_SYN,
  TYPE_DATA,
  decodeHeader,
  encodeHeader,
  type FrameType,
} from '../../src/link/frame.js';
import { OPEN_CONNECT, decodeOpen, encodeOpen } from '../../src/link/open.js';
import { formatIp } from '../../src/wire/ip.js';
import { check, domainArb, ipBytesArb, portArb, settle } from './run.js';

interface Spec {
  type: FrameType;
  flags: number;
  streamId: number;
  length: number;
  payload: Buffer;
}

const frameArb: fc.Arbitrary<Spec> = fc
  .record({
    type: fc.constantFrom<FrameType>(0, 1, 2, 3),
    flags: fc.integer({ min: 0, max: 15 }),
    streamId: fc.integer({ min: 0, max: 0xffffffff }),
    length: fc.integer({ min: 0, max: 0xffffffff }),
    payload: fc.uint8Array({ maxLength: 200 }),
  })
  .map((f) =>
    f.type === TYPE_DATA
      ? { ...f, length: f.payload.length, payload: Buffer.from(f.payload) }
      : { ...f, payload: Buffer.alloc(0) },
  );

const encode = (f: Spec): Buffer =>
  Buffer.concat([encodeHeader(f.type, f.flags, f.streamId, f.length), f.payload]);

/** wire cut at the given points (taken modulo its length), as the reads a socket might deliver. */
function chunked(wire: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of [...points, wire.length]) {
    out.push(wire.subarray(at, p));
    at = p;
  }
  return out;
}

test('FrameDecoder: random valid frame sequences come out whole and in order under any chunking', () => {
  check(
    fc.property(
      fc.array(frameArb, { maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      (frames, cuts) => {
        const dec = new FrameDecoder(MAX_DATA_PAYLOAD);
        const got: Spec[] = [];
        for (const chunk of chunked(Buffer.concat(frames.map(encode)), cuts)) got.push(...dec.push(chunk));
        assert.equal(dec.buffered, 0);
        assert.deepEqual(
          got.map((f) => ({ ...f, payload: Buffer.from(f.payload) })),
          frames,
        );
      },
    ),
  );
});

test('FrameDecoder.pieces: under any chunking, the pieces of each DATA frame join to it, flags end-only', () => {
  check(
    fc.property(
      fc.array(frameArb, { maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      (frames, cuts) => {
        const dec = new FrameDecoder(MAX_DATA_PAYLOAD);
        const got: Spec[] = [];
        let open: Spec | null = null; // the DATA frame whose pieces are being joined
        for (const chunk of chunked(Buffer.concat(frames.map(encode)), cuts)) {
          for (const f of dec.pieces(chunk)) {
            if (f.type !== TYPE_DATA || f.flags & FLAG_SYN || f.length === 0) {
              assert.equal(open, null, 'no other frame between the pieces of one');
              assert.equal(f.payload.length, f.type === TYPE_DATA ? f.length : 0);
              got.push({ ...f, payload: Buffer.from(f.payload) });
              continue;
            }
            assert.ok(
              f.payload.length > 0 && f.payload.length === f.length,
              'a piece is non-empty, its own length',
            );
            const spec = frames[got.length]!;
            if (open === null) open = { ...f, flags: spec.flags, length: 0, payload: Buffer.alloc(0) };
            assert.equal(f.streamId, open.streamId);
            open.payload = Buffer.concat([open.payload, f.payload]);
            open.length = open.payload.length;
            const last: boolean = open.length === spec.length;
            assert.equal(
              f.flags,
              last ? spec.flags : spec.flags & ~(FLAG_FIN | FLAG_RST),
              'FIN/RST on the last piece only',
            );
            if (last) {
              got.push(open);
              open = null;
            }
          }
          assert.ok(
            dec.buffered < HEADER_SIZE + 1 + (open === null ? 200 : 0),
            'holds a header or an OPEN, no more',
          );
        }
        assert.equal(dec.buffered, 0);
        assert.equal(open, null);
        assert.deepEqual(got, frames);
      },
    ),
  );
});

test('FrameDecoder: every strict prefix of a valid frame yields no frame', () => {
  check(
    fc.property(frameArb, (f) => {
      const wire = encode(f);
      for (let i = 0; i < wire.length; i++) {
        assert.deepEqual(new FrameDecoder(MAX_DATA_PAYLOAD).push(wire.subarray(0, i)), [], `prefix ${i}`);
      }
    }),
  );
});

test('decodeHeader on arbitrary bytes: null below 12 bytes, else accepts exactly version 0, type <= 3, flags within 0x000F', () => {
  check(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 16 }),
        fc
          .tuple(
            fc.constantFrom(0, 0, 1),
            fc.integer({ min: 0, max: 5 }),
            fc.constantFrom(0, 0x10, 0x80),
            fc.uint8Array({ minLength: 9, maxLength: 9 }),
          )
          .map(([v, t, hi, rest]) => Uint8Array.from([v, t, hi, ...rest])),
      ),
      (bytes) => {
        const buf = Buffer.from(bytes);
        const r = settle(() => decodeHeader(buf));
        if (buf.length < HEADER_SIZE) return assert.deepEqual(r, { ok: true, value: null });
        const valid = buf[0] === 0 && buf[1]! <= 3 && (buf.readUInt16BE(2) & ~0xf) === 0;
        if (!valid) return assert.deepEqual(r, { ok: false, code: 'protocol' });
        assert.deepEqual(r, {
          ok: true,
          value: {
            type: buf[1],
            flags: buf.readUInt16BE(2),
            streamId: buf.readUInt32BE(4),
            length: buf.readUInt32BE(8),
          },
        });
      },
    ),
  );
});

test('FrameDecoder on arbitrary bytes throws only TunnelError(protocol), and never buffers past one frame', () => {
  check(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 6 }),
      fc.integer({ min: 0, max: 64 }),
      (chunks, max) => {
        for (const how of ['push', 'pieces'] as const) {
          const dec = new FrameDecoder(max);
          for (const c of chunks) {
            const r = settle(() => dec[how](Buffer.from(c)));
            if (!r.ok) {
              assert.equal(r.code, 'protocol');
              break;
            }
            assert.ok(dec.buffered < HEADER_SIZE + max + HEADER_SIZE + 40);
          }
        }
      },
    ),
  );
});

const targetArb = fc.record({
  host: fc.oneof(
    ipBytesArb.map((ip) => formatIp(ip)),
    domainArb,
  ),
  port: portArb,
});

test('encodeOpen / decodeOpen round trip; optimistic data is left; truncations and junk throw only TunnelError', () => {
  check(
    fc.property(targetArb, fc.uint8Array({ maxLength: 16 }), (target, data) => {
      const open = encodeOpen({ command: OPEN_CONNECT, target });
      const payload = Buffer.concat([open, data]);
      assert.deepEqual(decodeOpen(payload), {
        open: { command: OPEN_CONNECT, target },
        bytesUsed: open.length,
      });
      for (let i = 0; i < open.length; i++) {
        const r = settle(() => decodeOpen(open.subarray(0, i)));
        assert.ok(
          !r.ok && (r.code === 'bad-request' || r.code === 'address-type'),
          `prefix ${i}: ${JSON.stringify(r)}`,
        );
      }
    }),
  );
  check(
    fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
      const r = settle(() => decodeOpen(b));
      if (!r.ok) assert.ok(['bad-request', 'command-unsupported', 'address-type'].includes(r.code), r.code);
    }),
  );
});
