// The multiplexer session of one link: frames in and out of the (already pinned) TLS socket, the table
// of streams, keepalive PINGs and GO_AWAY. Frames are dispatched in the order they arrive; the functions
// below follow a frame's path: socket → decoder → onFrame → stream.
//
// Contract:
// - open(target) returns a stream at once (its SYN carries the OPEN header); it throws
//   TunnelError('link-down') once the link is closing or gone, and 'limit' at streamsPerLink.
// - Incoming OPENs are handed to `onStream`; beyond streamsPerLink they are answered with result 'limit'.
// - A protocol error by the peer sends GO_AWAY(protocol error) and closes the link; every stream on it
//   errors with 'link-down'. So does a missed PING deadline (the link's error then has a 'timeout'
//   cause) or the socket closing under us. Any bytes from the peer count as a sign of life: the
//   deadline only fires after pingTimeoutMs in which nothing at all arrived.
// - close() is graceful: GO_AWAY(normal), no new streams either way, the socket ends once the last stream
//   has. 'close' is emitted once, with the error that ended the link if any.

import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { toTunnelError, TunnelError } from '../errors.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import type { Target } from '../wire/address.js';
import {
  FLAG_ACK,
  FLAG_SYN,
  FrameDecoder,
  GO_AWAY_NORMAL,
  GO_AWAY_PROTOCOL_ERROR,
  MAX_DATA_PAYLOAD,
  TYPE_DATA,
  TYPE_GO_AWAY,
  TYPE_PING,
  type Frame,
  type FrameType,
} from './frame.js';
import { decodeOpen, encodeOpen, OPEN_CONNECT, type Open } from './open.js';
import { MuxStream, type StreamHost } from './stream.js';
import type { ReadGate } from './gate.js';
import { LinkWriter } from './writer.js';

export interface SessionOptions {
  /** 'client' opens odd stream ids, 'server' even ones (yamux). */
  readonly role: 'client' | 'server';
  readonly limits: Limits;
  readonly log: Logger;
  /** Short pin of the peer, for logs. */
  readonly peer: string;
  /** Called for each stream the peer opens; the handler must accept() or reject() it. */
  readonly onStream?: (stream: MuxStream, open: Open) => void;
}

const MAX_STREAM_ID = 0xffff_ffff;
/** An OPEN on a link that has heard nothing for this long sends a PING at once (if none is out). */
const QUIET_BEFORE_OPEN_MS = 1000;

export class Session extends EventEmitter implements StreamHost {
  readonly streamWindowMax: number;
  private readonly streams = new Map<number, MuxStream>();
  private readonly decoder = new FrameDecoder(MAX_DATA_PAYLOAD);
  private nextId: number;
  private lastPeerId = 0;
  private buffered = 0;
  private readonly writer: LinkWriter;
  private lastHeardAt = performance.now(); // when bytes last arrived from the peer
  private readonly heard = new Set<() => void>(); // probe() callers waiting for the peer's next bytes
  private goneAway = false; // we sent GO_AWAY
  private peerGoneAway = false; // the peer sent GO_AWAY
  private closed = false;
  private gotFrame = false; // any frame from the peer yet: proof a relay accepted our key
  private rtt = 0;
  private pingId = 0;
  private pingSentAt = 0;
  private pingOutstanding = false;
  private pingTimer: NodeJS.Timeout | null = null;
  private pingDeadline: NodeJS.Timeout | null = null;
  private idleSweep: NodeJS.Timeout | null = null;
  private pingsWindowStart = 0; // the peer's PING requests counted per one-second window
  private pingsInWindow = 0;
  private bytesRead = 0; // bytes from the peer, frame headers included
  /** performance.now() when the link came up, for `ett status`. */
  readonly startedAt = performance.now();

  /**
   * A frame has come from the peer: for a client, proof the relay accepted our key (it PINGs at once
   * when it does; under TLS 1.3 a refusal comes only after our handshake has finished). The
   * 'accepted' event fires once, at that frame.
   */
  get accepted(): boolean {
    return this.gotFrame;
  }

  constructor(
    private readonly socket: Duplex,
    private readonly opts: SessionOptions,
  ) {
    super();
    this.streamWindowMax = opts.limits.streamWindowMax;
    this.nextId = opts.role === 'client' ? 1 : 2;
    socket.on('data', (chunk: Buffer) => this.onChunk(chunk));
    socket.on('error', (err) => this.fail(toTunnelError(err, 'link-down')));
    socket.on('close', () => this.fail(new TunnelError('link-down', 'link closed')));
    socket.on('end', () => this.fail(new TunnelError('link-down', 'link ended by peer')));
    this.writer = new LinkWriter(socket);
    this.ping(); // measures the round trip at once; window growth uses it
    this.pingTimer = setInterval(() => this.ping(), opts.limits.pingIntervalMs);
    this.pingTimer.unref();
    const idle = opts.limits.streamIdleTimeoutMs;
    if (idle > 0) {
      // One sweep per link rather than a timer per stream: a stream is reset between idle and 1.5 x idle.
      this.idleSweep = setInterval(() => this.resetIdleStreams(idle), Math.max(idle / 2, 10));
      this.idleSweep.unref();
    }
  }

  private resetIdleStreams(idleMs: number): void {
    const now = performance.now();
    for (const s of [...this.streams.values()]) {
      if (!s.keepWhenIdle && now - s.lastActive > idleMs) {
        this.opts.log.debug(`link ${this.opts.peer}: stream ${s.id} idle for ${idleMs} ms, reset`);
        s.destroy(new TunnelError('timeout', `stream ${s.id} idle for ${idleMs} ms`));
      }
    }
  }

  get alive(): boolean {
    return !this.closed;
  }

  /** New streams may be opened on this link. */
  get usable(): boolean {
    return !this.closed && !this.goneAway && !this.peerGoneAway && this.nextId <= MAX_STREAM_ID;
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Multiplexer bytes received from the peer and sent to it so far (frames, headers included). */
  get bytesIn(): number {
    return this.bytesRead;
  }

  get bytesOut(): number {
    return this.writer.bytesWritten;
  }

  /** The peer's short pin. */
  get peer(): string {
    return this.opts.peer;
  }

  /**
   * Opens a CONNECT stream to target (or, with OPEN_UDP, a UDP association); data may be written at
   * once. See the class contract for throws.
   */
  open(target: Target, command: number = OPEN_CONNECT): MuxStream {
    if (!this.usable) throw new TunnelError('link-down', `link to ${this.opts.peer} is closing`);
    if (this.streams.size >= this.opts.limits.streamsPerLink) {
      throw new TunnelError('limit', `link to ${this.opts.peer}: ${this.streams.size} streams open`);
    }
    const header = encodeOpen({ command, target });
    const id = this.nextId;
    this.nextId += 2;
    const stream = new MuxStream(this, id, 'local');
    this.streams.set(id, stream);
    this.sendFrame(TYPE_DATA, FLAG_SYN, id, header.length, header);
    stream.chargeSent(header.length);
    // A link that went quiet may be dead: ask now rather than at the next interval, so an OPEN that
    // will never be answered is known to be lost within pingTimeoutMs.
    if (
      performance.now() - this.lastHeardAt >
      Math.min(QUIET_BEFORE_OPEN_MS, this.opts.limits.pingIntervalMs)
    ) {
      this.ping();
    }
    return stream;
  }

  /** Graceful close: see the class contract. Never throws. */
  close(): void {
    if (this.closed || this.goneAway) return;
    this.goneAway = true;
    this.sendFrame(TYPE_GO_AWAY, 0, 0, GO_AWAY_NORMAL);
    this.endIfIdle();
  }

  /**
   * close(), then waits up to graceMs for the running streams to finish; what is left is destroyed
   * (its streams reset). Resolves once the link is gone. Never rejects.
   */
  shutdown(graceMs: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.destroy(new TunnelError('link-down', 'shut down')), graceMs);
      this.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.close();
    });
  }

  /**
   * The peer may no longer use this link (its key left the allow list): GO_AWAY(normal) is sent and
   * the link ends at once, its streams reset. Never throws.
   */
  revoke(reason: string): void {
    if (this.closed) return;
    if (!this.goneAway) this.sendFrame(TYPE_GO_AWAY, 0, 0, GO_AWAY_NORMAL);
    this.goneAway = true;
    this.fail(new TunnelError('link-auth', reason), true);
  }

  /** Abrupt close: every stream errors with err (default 'link-down'). Never throws. */
  destroy(err?: Error): void {
    this.fail(err ? toTunnelError(err, 'link-down') : new TunnelError('link-down', 'link closed locally'));
  }

  // ---- frames in ----

  private onChunk(chunk: Buffer): void {
    this.lastHeardAt = performance.now();
    if (this.heard.size > 0) {
      for (const h of [...this.heard]) h();
    }
    this.bytesRead += chunk.length;
    let frames: Frame[];
    try {
      // DATA arrives as pieces, as the socket delivers them: no reassembly copy (see frame.ts).
      frames = this.decoder.pieces(chunk);
    } catch (err) {
      this.protocolError(toTunnelError(err, 'protocol').message);
      return;
    }
    for (const f of frames) {
      if (this.closed) return;
      if (!this.gotFrame) {
        this.gotFrame = true;
        this.emit('accepted');
      }
      this.onFrame(f);
    }
  }

  private onFrame(f: Frame): void {
    if (f.type === TYPE_PING || f.type === TYPE_GO_AWAY) {
      if (f.streamId !== 0)
        return this.protocolError(`frame type ${f.type} on stream ${f.streamId} (want 0)`);
      return f.type === TYPE_PING ? this.onPing(f) : this.onGoAway(f);
    }
    if (f.streamId === 0) return this.protocolError(`frame type ${f.type} on stream 0`);
    const stream = this.streams.get(f.streamId);
    if (f.flags & FLAG_SYN) return this.onSyn(f, stream);
    // Frames for a stream we no longer know are late frames after a RST: dropped, as yamux does.
    stream?.onFrame(f);
  }

  private onSyn(f: Frame, existing: MuxStream | undefined): void {
    const peerParity = this.opts.role === 'client' ? 0 : 1;
    if (f.streamId % 2 !== peerParity || existing || f.streamId <= this.lastPeerId) {
      return this.protocolError(`SYN with bad or reused stream id ${f.streamId}`);
    }
    if (f.type !== TYPE_DATA) return this.protocolError(`SYN on frame type ${f.type} (want DATA with OPEN)`);
    this.lastPeerId = f.streamId;
    const stream = new MuxStream(this, f.streamId, 'remote');
    this.streams.set(f.streamId, stream);
    let open: Open;
    let used: number;
    try {
      ({ open, bytesUsed: used } = decodeOpen(f.payload));
    } catch (err) {
      stream.destroy(toTunnelError(err, 'bad-request')); // answers ACK|RST with the code
      return;
    }
    if (this.goneAway || this.peerGoneAway || !this.opts.onStream) {
      stream.destroy(new TunnelError('link-down', 'link is closing'));
      return;
    }
    if (this.streams.size > this.opts.limits.streamsPerLink) {
      this.opts.log.debug(`link ${this.opts.peer}: stream limit ${this.opts.limits.streamsPerLink} reached`);
      stream.destroy(new TunnelError('limit', 'too many streams on this link'));
      return;
    }
    stream.chargeReceived(used);
    // The rest of the SYN frame is optimistic data: it goes through the stream's normal receive path.
    stream.onFrame({
      ...f,
      flags: f.flags & ~FLAG_SYN,
      length: f.length - used,
      payload: f.payload.subarray(used),
    });
    this.opts.onStream(stream, open);
  }

  private onPing(f: Frame): void {
    if (f.flags & FLAG_SYN) {
      // Every answer costs us a frame: a peer that asks more than pingsPerSecondMax times a second is
      // flooding, not keeping the link alive (we ask once per pingIntervalMs).
      const now = performance.now();
      if (now - this.pingsWindowStart >= 1000) {
        this.pingsWindowStart = now;
        this.pingsInWindow = 0;
      }
      if (++this.pingsInWindow > this.opts.limits.pingsPerSecondMax) {
        return this.protocolError(`PING flood: over ${this.opts.limits.pingsPerSecondMax} in 1 s`);
      }
      this.writer.ping(FLAG_ACK, f.length);
    } else if (f.flags & FLAG_ACK && this.pingOutstanding && f.length === this.pingId) {
      this.pingOutstanding = false;
      if (this.pingDeadline) clearTimeout(this.pingDeadline);
      this.pingDeadline = null;
      const sample = performance.now() - this.pingSentAt;
      this.rtt = this.rtt === 0 ? sample : 0.875 * this.rtt + 0.125 * sample;
      this.emit('rtt', this.rtt);
    }
  }

  private onGoAway(f: Frame): void {
    this.peerGoneAway = true;
    const how = f.length === GO_AWAY_NORMAL ? 'normally' : `with code ${f.length}`;
    this.opts.log.debug(`link ${this.opts.peer}: peer sent GO_AWAY ${how}`);
    this.emit('goaway', f.length);
    this.endIfIdle();
  }

  // ---- frames out ----

  /** Queues one frame on the link (see writer.ts). Frames from one tick leave in one corked write. */
  sendFrame(type: FrameType, flags: number, streamId: number, length: number, payload?: Buffer): void {
    if (this.closed) return;
    this.writer.frame(type, flags, streamId, length, payload);
  }

  /** False while a good batch is already queued on the link (see LinkWriter.writable). */
  get linkWritable(): boolean {
    return this.closed || this.writer.writable;
  }

  whenWritable(cb: () => void): void {
    this.writer.whenWritable(cb);
  }

  get readGate(): ReadGate {
    return this.writer.gate;
  }

  /**
   * Is the peer still there? Sends a PING (unless one is out) and resolves true as soon as any bytes
   * arrive from the peer, false after ms or when the link closes first. Never rejects.
   */
  probe(ms: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    this.ping();
    return new Promise((resolve) => {
      const done = (alive: boolean): void => {
        clearTimeout(timer);
        this.heard.delete(onHeard);
        this.off('close', onClose);
        resolve(alive);
      };
      const onHeard = (): void => done(true);
      const onClose = (): void => done(false);
      const timer = setTimeout(() => done(false), ms);
      this.heard.add(onHeard);
      this.once('close', onClose);
    });
  }

  private ping(): void {
    if (this.closed || this.pingOutstanding) return;
    this.pingOutstanding = true;
    this.pingId = (this.pingId + 1) >>> 0;
    this.pingSentAt = performance.now();
    this.writer.ping(FLAG_SYN, this.pingId); // passes queued data: see writer.ts
    this.armPingDeadline();
  }

  private armPingDeadline(): void {
    const armedAt = performance.now();
    this.pingDeadline = setTimeout(() => {
      // Bytes arrived meanwhile: the link is alive, its answer is only queued behind them.
      if (this.lastHeardAt > armedAt) return this.armPingDeadline();
      const ms = this.opts.limits.pingTimeoutMs;
      this.opts.log.debug(`link ${this.opts.peer}: nothing heard, no PING answer in ${ms} ms`);
      this.fail(
        new TunnelError('link-down', 'PING deadline missed', {
          cause: new TunnelError('timeout', `no PING answer in ${ms} ms`),
        }),
      );
    }, this.opts.limits.pingTimeoutMs);
    this.pingDeadline.unref();
  }

  // ---- StreamHost ----

  rttMs(): number {
    return this.rtt;
  }

  adjustBuffered(delta: number): boolean {
    this.buffered += delta;
    return this.buffered <= this.opts.limits.linkBufferedMax;
  }

  mayGrow(bytes: number): boolean {
    return this.buffered + bytes <= this.opts.limits.linkBufferedMax / 2;
  }

  protocolError(reason: string): void {
    if (this.closed) return;
    this.opts.log.info(`link ${this.opts.peer}: protocol error: ${reason}`);
    this.sendFrame(TYPE_GO_AWAY, 0, 0, GO_AWAY_PROTOCOL_ERROR);
    this.goneAway = true;
    this.fail(new TunnelError('protocol', reason), true);
  }

  streamClosed(stream: MuxStream): void {
    if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id);
    this.endIfIdle();
  }

  // ---- end of the link ----

  private endIfIdle(): void {
    if (!this.closed && (this.goneAway || this.peerGoneAway) && this.streams.size === 0) {
      this.fail(null, true);
    }
  }

  /** Ends the link once. With an error, streams error with 'link-down' carrying it as the cause. */
  private fail(err: TunnelError | null, flush = false): void {
    if (this.closed) return;
    this.closed = true;
    const silent = err?.cause instanceof TunnelError && err.cause.code === 'timeout'; // PING deadline
    if (err && !this.gotFrame && this.opts.role === 'client' && err.code === 'link-down' && !silent) {
      // Under TLS 1.3 a relay that refuses our key does so after our handshake finished; what we see
      // is a close before its first frame (it PINGs at once when it accepts). Say what it most
      // likely means instead of "network error". A relay that went silent instead (stopped, or its
      // path lost) missed our PING deadline: that is a link down like any other, and is retried.
      err = new TunnelError(
        'link-auth',
        `relay ${this.opts.peer} closed the link without accepting this client's key (is its pin on the relay's allow-list?)`,
        { cause: err },
      );
    }
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.pingDeadline) clearTimeout(this.pingDeadline);
    if (this.idleSweep) clearInterval(this.idleSweep);
    const streamErr = new TunnelError(
      err?.code === 'link-auth' ? 'link-auth' : 'link-down',
      `link to ${this.opts.peer} down: ${err?.message ?? 'closed'}`,
      {
        cause: err ?? undefined,
      },
    );
    for (const s of [...this.streams.values()]) s.destroy(streamErr);
    this.streams.clear();
    this.writer.close(flush);
    if (flush) {
      // Let queued frames (GO_AWAY) reach the peer, then close; never wait on the peer for long.
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 2000).unref();
    } else {
      this.socket.destroy();
    }
    this.emit('close', err ?? undefined);
  }
}
