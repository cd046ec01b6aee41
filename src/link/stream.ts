// One multiplexed stream as a Node Duplex.
//
// Contract:
// - end() sends FIN: the peer's reads end; our reads go on until the peer's FIN (half-close both ways).
// - destroy() before both directions have ended sends RST; the peer's stream errors with code 'reset'.
// - A RST from the peer, a protocol error or a broken link destroys the stream with a TunnelError
//   ('reset' or 'link-down'): never a clean end, so nobody mistakes a cut-off reply for a whole one.
// - Flow control: we never send more than the peer's window; we grant window only as our reader
//   consumes, so a stream whose reader stops holds at most its window, and the link goes on.
// - A stream we open reports its result with a 'connect' event (result 0) or by erroring with the
//   result's code. Data may be written before the result arrives (optimistic data).
// - A stream the peer opened sends nothing until accept() (or reject(code)) is called.

import { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { codeFromMuxResult, ERROR_TABLE, MUX_RESULT_OK, TunnelError, type ErrorCode } from '../errors.js';
import {
  FLAG_ACK,
  FLAG_FIN,
  FLAG_RST,
  INITIAL_WINDOW,
  MAX_WINDOW,
  TYPE_DATA,
  TYPE_WINDOW_UPDATE,
  type Frame,
  type FrameType,
} from './frame.js';
import type { ReadGate } from './gate.js';

/** Largest DATA payload we put in one frame (64 KiB writes measured faster than 16 KiB here). */
const SEND_FRAME_MAX = 64 * 1024;
/** A received payload under this size is copied rather than kept as a view (see keep). */
const COPY_BELOW = 4 * 1024;
/** ...and so is one whose underlying buffer is this many times its size or more. */
const PIN_RATIO = 4;
/** Small payloads waiting in the queue are gathered in blocks of this size. */
const GATHER_BLOCK = 16 * 1024;

/** What a stream needs from its session. */
export interface StreamHost {
  readonly streamWindowMax: number;
  /** False once the link is gone: no frame can be sent any more. */
  readonly alive: boolean;
  sendFrame(type: FrameType, flags: number, streamId: number, length: number, payload?: Buffer): void;
  /** False while a good batch is already queued on the link's socket: writers wait for whenWritable. */
  readonly linkWritable: boolean;
  /** Calls cb now if the link can take more bytes, else once it drains (or dies). */
  whenWritable(cb: () => void): void;
  /** Sockets joined to the link's streams stop reading while the link is full (see gate.ts). */
  readonly readGate?: ReadGate;
  /** Smoothed round-trip time of the link, ms (0 if not yet measured). */
  rttMs(): number;
  /** Adjusts the link's count of received-but-unconsumed bytes; false if over the link's cap. */
  adjustBuffered(delta: number): boolean;
  /** True if the link may grant this stream `bytes` more of window. */
  mayGrow(bytes: number): boolean;
  protocolError(reason: string): void;
  streamClosed(stream: MuxStream): void;
}

type State = 'opening' | 'accepting' | 'open';

/** Longest reason a failure result carries after its code, bytes. */
export const REASON_MAX = 255;

/** A refusal's reason as it goes on the wire: printable ASCII only (others become '?'), at most REASON_MAX. Pure. */
export function encodeReason(reason: string): Buffer {
  return Buffer.from(reason.replace(/[^\x20-\x7e]/g, '?').slice(0, REASON_MAX), 'latin1');
}

/** The reason after a failure's code (bytes after REASON_MAX ignored), made printable ASCII. Pure. */
export function decodeReason(bytes: Uint8Array): string {
  return Buffer.from(bytes.subarray(0, REASON_MAX))
    .toString('latin1')
    .replace(/[^\x20-\x7e]/g, '?');
}

export class MuxStream extends Duplex {
  readonly id: number;
  private state: State;
  // sending
  private sendWindow = INITIAL_WINDOW;
  private pendingWrite: { chunk: Buffer; offset: number; cb: (err?: Error | null) => void } | null = null;
  private pendingFinal: ((err?: Error | null) => void) | null = null;
  private awaitingLink = false;
  private finSent = false;
  // receiving
  private recvWindow = INITIAL_WINDOW;
  private windowMax = INITIAL_WINDOW;
  private unacked = 0;
  private lastUpdateAt = performance.now();
  private queue: Buffer[] = [];
  private queued = 0;
  /** The queue's last entry, when it is a copy in a block of ours with room after it (see keep). */
  private gather: Buffer | null = null;
  private wantRead = false;
  private finReceived = false;
  private endPushed = false;
  private resetByPeer = false;
  private gotResult = false;
  private sentPayload = false;
  /** When data last moved either way (performance.now()), for the link's idle sweep. */
  lastActive = performance.now();
  /** Exempt from the idle sweep: a publication's control stream carries no data by design (§20). */
  keepWhenIdle = false;
  /** Payload bytes received and sent (OPEN header and result byte not counted), for `ett status`. */
  bytesReceived = 0;
  bytesSent = 0;

  constructor(
    private readonly host: StreamHost,
    id: number,
    opener: 'local' | 'remote',
  ) {
    super({ allowHalfOpen: true, readableHighWaterMark: 64 * 1024, writableHighWaterMark: 64 * 1024 });
    this.id = id;
    this.state = opener === 'local' ? 'opening' : 'accepting';
    // An error before the owner attaches its handlers (e.g. the link dies while the relay dials the
    // exit) must not become an uncaught exception; owners still see 'error' through their own handlers.
    this.on('error', noop);
  }

  /** True once the stream is connected: our OPEN was answered with result 0, or we accepted the peer's. */
  get connected(): boolean {
    return this.state === 'open' && !this.destroyed;
  }

  /** A stream we opened: the peer's result byte (success or failure) has arrived. */
  get answered(): boolean {
    return this.gotResult;
  }

  /** At least one byte written to this stream has been put on the link (the OPEN header does not count). */
  get payloadSent(): boolean {
    return this.sentPayload;
  }

  /** The link's read gate, which splice() puts the socket joined to this stream behind. */
  get readGate(): ReadGate | undefined {
    return this.host.readGate;
  }

  /** Counts the OPEN header (already sent by the session in the SYN frame) against our send window. */
  chargeSent(bytes: number): void {
    this.sendWindow -= bytes;
  }

  /** Counts the OPEN header the peer sent (read by the session) as received and consumed. */
  chargeReceived(bytes: number): void {
    this.recvWindow -= bytes;
    this.consumed(bytes);
  }

  /** Accepting side: the destination is connected; sends the ACK with result 0. */
  accept(): void {
    if (this.state !== 'accepting' || this.destroyed) return;
    this.state = 'open';
    this.sendWindow -= 1;
    this.host.sendFrame(TYPE_DATA, FLAG_ACK, this.id, 1, Buffer.of(MUX_RESULT_OK));
    this.pump();
    const final = this.pendingFinal;
    this.pendingFinal = null;
    if (final) this._final(final);
  }

  /**
   * Accepting side: the destination could not be reached; sends ACK|RST with the code and ends. A
   * reason (the relay's publish refusals give one) follows the code in the same frame: printable ASCII,
   * cut to REASON_MAX bytes; the opener's error message carries it.
   */
  reject(code: ErrorCode, reason?: string): void {
    if (this.state !== 'accepting' || this.destroyed) return;
    this.sendResult(code, reason);
    this.resetByPeer = true; // nothing more to send: the result frame already carries RST
    this.destroy(new TunnelError(code, reason ?? 'stream rejected'));
  }

  private sendResult(code: ErrorCode, reason?: string): void {
    this.state = 'open';
    if (this.host.alive) {
      const payload = Buffer.concat([Buffer.of(ERROR_TABLE[code].mux), encodeReason(reason ?? '')]);
      this.host.sendFrame(TYPE_DATA, FLAG_ACK | FLAG_RST, this.id, payload.length, payload);
    }
  }

  /** Called by the session for every frame on this stream. */
  onFrame(frame: Frame): void {
    if (frame.type === TYPE_DATA) this.onData(frame);
    else if (frame.type === TYPE_WINDOW_UPDATE) this.onWindowUpdate(frame.length);
    if (this.destroyed) return;
    if (frame.flags & FLAG_RST) {
      this.resetByPeer = true;
      this.destroy(new TunnelError('reset', `stream ${this.id} reset by peer`));
      return;
    }
    if (frame.flags & FLAG_FIN) {
      this.finReceived = true;
      this.flush();
    }
  }

  private onData(frame: Frame): void {
    let payload = frame.payload;
    if (payload.length > this.recvWindow) {
      this.host.protocolError(`stream ${this.id}: ${payload.length} bytes exceed window ${this.recvWindow}`);
      return;
    }
    if (this.finReceived && payload.length > 0) {
      this.host.protocolError(`stream ${this.id}: DATA after FIN`);
      return;
    }
    this.recvWindow -= payload.length;
    this.lastActive = performance.now();
    if (this.state === 'opening') {
      if (!(frame.flags & FLAG_ACK) || payload.length < 1) {
        this.host.protocolError(`stream ${this.id}: first frame back lacks ACK and result`);
        return;
      }
      const result = payload[0]!;
      this.gotResult = true;
      this.consumed(1);
      payload = payload.subarray(1);
      if (result !== MUX_RESULT_OK) {
        const code = codeFromMuxResult(result);
        const reason = decodeReason(payload);
        this.resetByPeer = true;
        this.destroy(new TunnelError(code, `relay answered ${code}${reason === '' ? '' : `: ${reason}`}`));
        return;
      }
      this.state = 'open';
      this.emit('connect');
    }
    if (payload.length === 0) return;
    this.bytesReceived += payload.length;
    if (!this.host.adjustBuffered(payload.length)) {
      this.host.adjustBuffered(-payload.length);
      this.destroy(new TunnelError('limit', `stream ${this.id}: link receive buffer full`));
      return;
    }
    this.keep(payload);
    this.queued += payload.length;
    this.flush();
  }

  // A payload arrives as a view into the piece TLS decrypted it in (16 KiB), and while it waits (here,
  // in the reader's buffer, or on a socket that is behind) that whole piece stays in memory. For a large
  // payload that is about its own size; for a small one it is not: a peer that sent each byte in its own
  // record, filled up with frames for other streams, would make every byte charged to the link hold 16
  // KiB. So a small payload, or a sliver of a larger buffer, is copied: into a buffer of its own size if
  // it goes to the reader at once, else into a block of ours that the payloads queued after it are
  // appended to, one queue entry for many small frames.
  private keep(payload: Buffer): void {
    if (payload.length >= COPY_BELOW && payload.buffer.byteLength < PIN_RATIO * payload.length) {
      this.queue.push(payload);
      this.gather = null;
      return;
    }
    // gather is always the queue's last entry: set when pushed, cleared by any later push or its shift.
    const last = this.gather;
    if (last !== null && last.byteOffset + last.length + payload.length <= last.buffer.byteLength) {
      const grown = Buffer.from(last.buffer, last.byteOffset, last.length + payload.length);
      payload.copy(grown, last.length);
      this.queue[this.queue.length - 1] = grown;
      this.gather = grown;
      return;
    }
    const atOnce = this.wantRead && this.queue.length === 0;
    const block = Buffer.allocUnsafeSlow(atOnce ? payload.length : Math.max(GATHER_BLOCK, payload.length));
    payload.copy(block);
    const copy = block.subarray(0, payload.length);
    this.queue.push(copy);
    this.gather = copy.length < block.length ? copy : null;
  }

  private onWindowUpdate(delta: number): void {
    if (this.sendWindow + delta > MAX_WINDOW) {
      this.host.protocolError(`stream ${this.id}: window update overflows`);
      return;
    }
    this.sendWindow += delta;
    this.pump();
  }

  override _read(): void {
    this.wantRead = true;
    this.flush();
  }

  private flush(): void {
    while (this.wantRead && this.queue.length > 0) {
      const chunk = this.queue.shift()!;
      if (chunk === this.gather) this.gather = null; // handed on: nothing more may be appended to it
      this.queued -= chunk.length;
      this.host.adjustBuffered(-chunk.length);
      this.consumed(chunk.length);
      this.wantRead = this.push(chunk);
    }
    if (this.queue.length === 0 && this.finReceived && !this.endPushed) {
      this.endPushed = true;
      this.push(null);
    }
  }

  // Window updates go out when the reader has consumed half the window. If that took less than two
  // round trips the window limited us, so it doubles (up to streamWindowMax): a stream on a fast,
  // long path earns a window near its bandwidth-delay product; an idle or slow reader never does.
  private consumed(bytes: number): void {
    this.unacked += bytes;
    if (this.finReceived || this.unacked < this.windowMax / 2 || !this.host.alive || this.destroyed) return;
    let delta = this.unacked;
    const now = performance.now();
    const rtt = Math.max(this.host.rttMs(), 1);
    if (this.windowMax < this.host.streamWindowMax && now - this.lastUpdateAt < 2 * rtt) {
      const grow = Math.min(this.windowMax, this.host.streamWindowMax - this.windowMax);
      if (this.host.mayGrow(grow)) {
        this.windowMax += grow;
        delta += grow;
      }
    }
    this.lastUpdateAt = now;
    this.unacked = 0;
    this.recvWindow += delta;
    this.host.sendFrame(TYPE_WINDOW_UPDATE, 0, this.id, delta);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.pendingWrite = { chunk, offset: 0, cb };
    this.pump();
  }

  // Sends the pending write as the window and the link allow. A frame goes out only while the link's
  // queue is under its batch size: with many streams writing at once the link holds about one batch,
  // and each stream holds its own pending chunk (its writer is told to wait), rather than every
  // stream's bytes piling up, plaintext and then encrypted, in the link's queue.
  private pump(): void {
    const w = this.pendingWrite;
    if (w === null || this.state === 'accepting' || this.destroyed || this.awaitingLink) return;
    while (w.offset < w.chunk.length) {
      const n = Math.min(this.sendWindow, SEND_FRAME_MAX, w.chunk.length - w.offset);
      if (n <= 0) return; // resumed by the peer's WINDOW_UPDATE
      if (!this.host.linkWritable) {
        this.awaitingLink = true;
        this.host.whenWritable(() => {
          this.awaitingLink = false;
          this.pump();
        });
        return;
      }
      this.host.sendFrame(TYPE_DATA, 0, this.id, n, w.chunk.subarray(w.offset, w.offset + n));
      this.sentPayload = true;
      this.bytesSent += n;
      this.sendWindow -= n;
      w.offset += n;
    }
    this.lastActive = performance.now();
    this.pendingWrite = null;
    w.cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.state === 'accepting') {
      this.pendingFinal = cb; // FIN waits for the ACK: nothing may precede the result
      return;
    }
    this.finSent = true;
    this.host.sendFrame(TYPE_DATA, FLAG_FIN, this.id, 0);
    cb();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    const clean = this.finSent && this.endPushed;
    if (!this.resetByPeer && this.host.alive) {
      if (this.state === 'accepting') this.sendResult(err instanceof TunnelError ? err.code : 'general');
      else if (!clean) this.host.sendFrame(TYPE_WINDOW_UPDATE, FLAG_RST, this.id, 0);
    }
    if (this.queued > 0) this.host.adjustBuffered(-this.queued);
    this.queue = [];
    this.queued = 0;
    this.gather = null;
    const w = this.pendingWrite;
    this.pendingWrite = null;
    const final = this.pendingFinal;
    this.pendingFinal = null;
    if (w || final) {
      // Built only when someone is waiting: an error captures a stack trace, and a stream that
      // closes cleanly (the common case) has nobody to tell.
      const failure = err ?? new TunnelError('reset', `stream ${this.id} closed`);
      w?.cb(failure);
      final?.(failure);
    }
    this.host.streamClosed(this);
    cb(err);
  }
}

function noop(): void {}

/**
 * Resolves when a stream we opened reports "connected". Rejects with the stream's TunnelError (the
 * result code), or 'timeout' after timeoutMs / on abort, in which case the stream is reset.
 */
export function whenConnected(stream: MuxStream, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stream.connected) return resolve();
    if (stream.destroyed) {
      return reject(
        stream.errored ?? new TunnelError('reset', `stream ${stream.id} closed before its result`),
      );
    }
    const settle = (err?: Error): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      stream.off('connect', onConnect);
      stream.off('error', onError);
      stream.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onConnect = (): void => settle();
    const onError = (err: Error): void => settle(err);
    const onClose = (): void =>
      settle(new TunnelError('reset', `stream ${stream.id} closed before its result`));
    const onAbort = (): void => {
      const err = new TunnelError('timeout', 'stream open aborted');
      stream.destroy(err);
      settle(err);
    };
    const timer = setTimeout(() => {
      const err = new TunnelError('timeout', `no result for stream ${stream.id} within ${timeoutMs} ms`);
      stream.destroy(err);
      settle(err);
    }, timeoutMs);
    stream.once('connect', onConnect);
    stream.once('error', onError);
    stream.once('close', onClose);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}
