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
 * Turns a byte stream into frames, whatever the chunking. It holds at most one partial frame: a header
 * and up to `maxPayload` bytes of DATA. Throws TunnelError('protocol') on a malformed header or a DATA
 * length over maxPayload (checked on the header, before any payload is buffered); after a throw the
 * decoder must not be used again (the link is closed).
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private header: FrameHeader | null = null;

  constructor(private readonly maxPayload: number) {}

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.bytes;
  }

  /** Feeds a chunk; returns the frames it completed, in order. */
  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.bytes += chunk.length;
    }
    for (;;) {
      const header = this.header;
      if (header === null) {
        if (this.bytes < HEADER_SIZE) break;
        const h = decodeHeader(this.take(HEADER_SIZE))!;
        if (h.type !== TYPE_DATA) {
          frames.push({ ...h, payload: EMPTY });
        } else if (h.length > this.maxPayload) {
          throw new TunnelError('protocol', `DATA frame of ${h.length} bytes exceeds ${this.maxPayload}`);
        } else {
          this.header = h;
        }
        continue;
      }
      if (this.bytes < header.length) break;
      frames.push({ ...header, payload: header.length === 0 ? EMPTY : this.take(header.length) });
      this.header = null;
    }
    return frames;
  }

  // Removes n bytes from the front. A slice of the first chunk when it holds them all (no copy);
  // otherwise one concatenation, so a payload spread over many reads is copied once, not per read.
  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - filled);
        c.copy(out, filled, 0, k);
        filled += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.bytes -= n;
    return out;
  }
}

const EMPTY = Buffer.alloc(0);

/** Every stream starts with this receive window each way (yamux spec); WINDOW_UPDATE grows it. */
export const INITIAL_WINDOW = 256 * 1024;
/** Largest DATA payload either side may send in one frame. Part of ett/1: a bigger frame is a protocol error. */
export const MAX_DATA_PAYLOAD = 256 * 1024;
/** Largest window a stream may have (yamux: a 32-bit field). */
export const MAX_WINDOW = 0xffff_ffff;
