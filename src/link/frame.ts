// The multiplexer's frames. The framing is yamux's (hashicorp/yamux spec.md), byte for byte, so it is a
// documented format; what ett adds lives inside DATA payloads (the OPEN header and the result byte, see
// open.ts). Pure: no I/O.
//
//   0               1               2               3
//   0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
//  +---------------+---------------+-------------------------------+
//  |  Version (0)  |     Type      |            Flags              |
//  +---------------+---------------+-------------------------------+
//  |                          Stream ID                            |
//  +---------------------------------------------------------------+
//  |                            Length                             |
//  +---------------------------------------------------------------+
//  |               Payload (DATA frames only: Length bytes)        |
//
// All fields big-endian. Length means: DATA → payload bytes that follow; WINDOW_UPDATE → window delta;
// PING → opaque value echoed in the answer; GO_AWAY → reason code. Stream ID 0 is the link itself.

import { TunnelError } from '../errors.js';

export const FRAME_VERSION = 0;
export const HEADER_SIZE = 12;

export const TYPE_DATA = 0x0;
export const TYPE_WINDOW_UPDATE = 0x1;
export const TYPE_PING = 0x2;
export const TYPE_GO_AWAY = 0x3;

export const FLAG_SYN = 0x1;
export const FLAG_ACK = 0x2;
export const FLAG_FIN = 0x4;
export const FLAG_RST = 0x8;
const KNOWN_FLAGS = FLAG_SYN | FLAG_ACK | FLAG_FIN | FLAG_RST;

/** GO_AWAY reason codes (yamux). */
export const GO_AWAY_NORMAL = 0;
export const GO_AWAY_PROTOCOL_ERROR = 1;
export const GO_AWAY_INTERNAL_ERROR = 2;

export type FrameType = typeof TYPE_DATA | typeof TYPE_WINDOW_UPDATE | typeof TYPE_PING | typeof TYPE_GO_AWAY;

export interface FrameHeader {
  readonly type: FrameType;
  readonly flags: number;
  readonly streamId: number;
  readonly length: number;
}

export interface Frame extends FrameHeader {
  /** DATA payload; empty for every other type. */
  readonly payload: Buffer;
}

/** Writes a 12-byte header. Out-of-range fields are a programming error and throw RangeError. */
export function encodeHeader(type: FrameType, flags: number, streamId: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(HEADER_SIZE);
  b[0] = FRAME_VERSION;
  b[1] = type;
  b.writeUInt16BE(flags, 2);
  b.writeUInt32BE(streamId, 4);
  b.writeUInt32BE(length, 8);
  return b;
}

/**
 * Reads a header at buf[offset..]. Returns null when fewer than 12 bytes remain. Throws
 * TunnelError('protocol') for a version other than 0, an unknown type, or unknown flag bits.
 */
export function decodeHeader(buf: Buffer, offset = 0): FrameHeader | null {
  if (buf.length - offset < HEADER_SIZE) return null;
  const version = buf[offset]!;
  if (version !== FRAME_VERSION) throw new TunnelError('protocol', `frame version ${version} (want 0)`);
  const type = buf[offset + 1]!;
  if (type > TYPE_GO_AWAY) throw new TunnelError('protocol', `unknown frame type ${type}`);
  const flags = buf.readUInt16BE(offset + 2);
  if ((flags & ~KNOWN_FLAGS) !== 0)
    throw new TunnelError('protocol', `unknown frame flags 0x${flags.toString(16)}`);
  return {
    type: type as FrameType,
    flags,
    streamId: buf.readUInt32BE(offset + 4),
    length: buf.readUInt32BE(offset + 8),
  };
}

/**
 * Turns a byte stream into frames, whatever the chunking. Throws TunnelError('protocol') on a malformed
 * header or a DATA length over maxPayload (checked on the header, before any payload is taken); after a
 * throw the decoder must not be used again (the link is closed).
 *
 * Two ways out, both over the same parser (use one per decoder):
 * - push(chunk): whole frames. It holds at most one partial frame: a header and up to maxPayload bytes.
 * - pieces(chunk): what the link uses. A DATA frame without SYN comes out as the pieces of its payload
 *   as they arrive (subarrays of the chunks, no copy), each a Frame whose length is the piece's; only the
 *   last piece carries the frame's FIN and RST flags (earlier ones carry the rest: ACK). A DATA frame
 *   with SYN (an OPEN, which must be read whole) and every other frame type come out whole. It holds at
 *   most a partial header, or a partial SYN frame.
 */
export class FrameDecoder {
  private readonly head = Buffer.alloc(HEADER_SIZE); // a header split over chunks
  private headLen = 0;
  private header: FrameHeader | null = null; // of the DATA frame whose payload is being read
  private left = 0; // its payload bytes still to come
  private whole = false; // its payload is gathered in parts (push(), or a SYN frame)
  private parts: Buffer[] = [];
  private partsBytes = 0;

  constructor(private readonly maxPayload: number) {}

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.headLen + this.partsBytes;
  }

  /** Feeds a chunk; returns the whole frames it completed, in order. */
  push(chunk: Buffer): Frame[] {
    return this.run(chunk, true);
  }

  /** Feeds a chunk; returns the frames and DATA pieces it completed, in order (see the class comment). */
  pieces(chunk: Buffer): Frame[] {
    return this.run(chunk, false);
  }

  private run(chunk: Buffer, wholeData: boolean): Frame[] {
    const out: Frame[] = [];
    let off = 0;
    const end = chunk.length;
    for (;;) {
      const header = this.header;
      if (header === null) {
        let h: FrameHeader;
        if (this.headLen === 0 && end - off >= HEADER_SIZE) {
          h = decodeHeader(chunk, off)!;
          off += HEADER_SIZE;
        } else {
          const k = Math.min(HEADER_SIZE - this.headLen, end - off);
          chunk.copy(this.head, this.headLen, off, off + k);
          this.headLen += k;
          off += k;
          if (this.headLen < HEADER_SIZE) break;
          this.headLen = 0;
          h = decodeHeader(this.head)!;
        }
        if (h.type !== TYPE_DATA || h.length === 0) {
          out.push(frameOf(h.type, h.flags, h.streamId, h.length, EMPTY));
          continue;
        }
        if (h.length > this.maxPayload) {
          throw new TunnelError('protocol', `DATA frame of ${h.length} bytes exceeds ${this.maxPayload}`);
        }
        this.header = h;
        this.left = h.length;
        this.whole = wholeData || (h.flags & FLAG_SYN) !== 0;
        continue;
      }
      if (off >= end) break;
      const n = Math.min(this.left, end - off);
      const piece = off === 0 && n === end ? chunk : chunk.subarray(off, off + n);
      off += n;
      this.left -= n;
      const last = this.left === 0;
      if (this.whole) {
        if (last && this.partsBytes === 0) {
          out.push(frameOf(header.type, header.flags, header.streamId, header.length, piece));
        } else {
          this.parts.push(piece);
          this.partsBytes += n;
          if (last) {
            out.push(
              frameOf(
                header.type,
                header.flags,
                header.streamId,
                header.length,
                concat(this.parts, header.length),
              ),
            );
            this.parts = [];
            this.partsBytes = 0;
          }
        }
      } else {
        const flags = last ? header.flags : header.flags & ~(FLAG_FIN | FLAG_RST);
        out.push(frameOf(header.type, flags, header.streamId, n, piece));
      }
      if (last) this.header = null;
    }
    return out;
  }
}

// One object shape for every frame out of the decoder (no spread, so the engine sees one hidden class).
function frameOf(type: FrameType, flags: number, streamId: number, length: number, payload: Buffer): Frame {
  return { type, flags, streamId, length, payload };
}

function concat(parts: Buffer[], n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  let at = 0;
  for (const p of parts) {
    p.copy(out, at);
    at += p.length;
  }
  return out;
}

const EMPTY = Buffer.alloc(0);

/** Every stream starts with this receive window each way (yamux spec); WINDOW_UPDATE grows it. */
export const INITIAL_WINDOW = 256 * 1024;
/** Largest DATA payload either side may send in one frame. Part of ett/1: a bigger frame is a protocol error. */
export const MAX_DATA_PAYLOAD = 256 * 1024;
/** Largest window a stream may have (yamux: a 32-bit field). */
export const MAX_WINDOW = 0xffff_ffff;
