// The link's write queue: frames go to the (TLS) socket in the order they were sent, except PINGs, which
// pass the data waiting here. Without that, a PING sent behind a megabyte of upload would reach the peer
// only once the upload had, and a busy, healthy link on a slow line could miss its PING deadline.
//
// Frames go straight to the socket while it holds less than SOCKET_QUEUE; beyond that, whole frames wait
// here and move to the socket on its 'drain'. Only PING frames jump: they carry no stream state, so their
// order against other frames does not matter (a RST or GO_AWAY passing a SYN would).

import type { Duplex } from 'node:stream';
import { encodeHeader, TYPE_PING, type FrameType } from './frame.js';
import { ReadGate } from './gate.js';

/** Bytes handed to the socket beyond which data frames wait here, where a PING can still pass them. */
const SOCKET_QUEUE = 256 * 1024;
/** Bytes queued on the link (here and on its socket) beyond which stream writers wait for 'drain'. */
export const LINK_WRITE_QUEUE = 1024 * 1024;

export class LinkWriter {
  private corked = false;
  private held: { header: Buffer; body: Buffer | undefined }[] = [];
  private heldBytes = 0;
  private waiters: (() => void)[] = [];
  private closed = false;
  /** Bytes handed to the socket so far (frame headers and payloads), for `ett status`. */
  bytesWritten = 0;
  /** Sockets joined to this link's streams stop reading while it is not writable (see gate.ts). */
  readonly gate = new ReadGate();

  constructor(private readonly socket: Duplex) {
    socket.on('drain', () => this.onDrain());
  }

  /** Bytes waiting here (not yet handed to the socket). */
  get queued(): number {
    return this.heldBytes;
  }

  /** Queues one frame behind every frame queued before it. */
  frame(type: FrameType, flags: number, streamId: number, length: number, payload?: Buffer): void {
    if (this.closed) return;
    const header = encodeHeader(type, flags, streamId, length);
    const body = payload !== undefined && payload.length > 0 ? payload : undefined;
    // Hold only while a 'drain' is sure to come (needDrain), so what is held always moves on.
    if (this.heldBytes > 0 || (this.socket.writableLength >= SOCKET_QUEUE && this.socket.writableNeedDrain)) {
      this.held.push({ header, body });
      this.heldBytes += header.length + (body?.length ?? 0);
    } else {
      this.write(header);
      if (body) this.write(body);
    }
    // Only while a 'drain' is sure to come to open it again (or close() does).
    if (!this.gate.isShut && !this.writable && this.socket.writableNeedDrain) this.gate.close();
  }

  /** Writes a PING frame ahead of the frames waiting here. */
  ping(flags: number, value: number): void {
    if (this.closed) return;
    this.write(encodeHeader(TYPE_PING, flags, 0, value));
  }

  /**
   * True while the link can take more bytes. Writers are held back only once a good batch is queued
   * (LINK_WRITE_QUEUE), not at the TLS socket's 16 KiB high-water mark: that would make every 64 KiB
   * frame stop-and-wait. Streams ask before each frame, so however many write at once, the link holds
   * about one batch and each waiting stream only its own chunk.
   */
  get writable(): boolean {
    return this.closed || this.socket.writableLength + this.heldBytes < LINK_WRITE_QUEUE;
  }

  /** Calls cb now if the link can take more bytes, else once it drains (or closes). */
  whenWritable(cb: () => void): void {
    if (this.writable) cb();
    else this.waiters.push(cb);
  }

  /**
   * No more frames. With flush, what is held goes to the socket first (the caller ends it); without,
   * it is dropped. Waiting writers are released either way. Never throws.
   */
  close(flush: boolean): void {
    if (this.closed) return;
    if (flush) this.moveHeld(Infinity);
    this.closed = true;
    this.held = [];
    this.heldBytes = 0;
    this.gate.open();
    if (this.corked) {
      this.corked = false;
      this.socket.uncork();
    }
    this.release();
  }

  private write(chunk: Buffer): void {
    this.bytesWritten += chunk.length;
    if (!this.corked) {
      // Frames from one tick leave in one corked write.
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        if (!this.corked) return;
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(chunk);
  }

  private moveHeld(upTo: number): void {
    // Whole frames only: a PING written between a header and its payload would corrupt the link.
    let i = 0;
    while (i < this.held.length && this.socket.writableLength < upTo) {
      const { header, body } = this.held[i++]!;
      this.heldBytes -= header.length + (body?.length ?? 0);
      this.write(header);
      if (body) this.write(body);
    }
    this.held = this.held.slice(i);
  }

  private onDrain(): void {
    if (this.closed) return;
    this.moveHeld(SOCKET_QUEUE);
    if (this.writable) {
      this.release();
      this.gate.open();
    }
  }

  private release(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const cb of waiters) cb();
  }
}
