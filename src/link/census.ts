// What a daemon shows of itself: its links, circuits, streams, groups, listeners and refusals, for the
// control endpoint (`ett status`), the metrics and the web view. The relay and the client register what
// they hold here once, when it starts (a link, a circuit, a stream); the entry goes when that thing's
// 'close' fires. Nothing is done per chunk: bytes are read from counters the link and the sockets keep
// anyway (Session.bytesIn/Out, MuxStream.bytesReceived/Sent, net.Socket.bytesRead/Written), and only
// when someone asks.
//
// Bounds: entries exist only while the thing they describe does (so they are bounded by the daemon's
// own limits: linksMax, streamsPerLink …); a snapshot lists at most `streamsMax` streams (the oldest
// first) with the total count; refusals are counted per ErrorCode, a closed set.
//
// Privacy: a stream's target is the user's browsing history. It is kept here for the control endpoint
// (owner only) and never leaves through totals() (the metrics' source), which holds numbers only.

import { EventEmitter } from 'node:events';
import { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '../errors.js';
import type { Session } from './session.js';
import { MuxStream } from './stream.js';

export type Daemon = 'relay' | 'client' | 'up';

export interface LinkView {
  readonly peer: string;
  readonly address: string;
  /** 'out': we dialed it (a client's hop); 'in': a client's link to this relay. */
  readonly dir: 'in' | 'out';
  readonly age_ms: number;
  readonly bytes_in: number;
  readonly bytes_out: number;
  /** Smoothed PING round trip, ms (0 until measured). */
  readonly rtt_ms: number;
  readonly streams: number;
}

export interface CircuitView {
  readonly route: string;
  readonly hops: readonly string[];
  readonly age_ms: number;
  readonly streams: number;
  /** Stream isolation: which streams this circuit alone serves (a login's name, never its password). */
  readonly isolation?: string;
}

export type StreamState = 'opening' | 'open' | 'half-closed';

export interface StreamView {
  readonly target: string;
  /** Client: the route, group member or `direct`; relay: the client's short pin. */
  readonly route: string;
  readonly age_ms: number;
  readonly bytes_in: number;
  readonly bytes_out: number;
  readonly state: StreamState;
}

export interface GroupView {
  readonly name: string;
  /** The member serving new streams. */
  readonly serving: string;
  readonly members: readonly { readonly route: string; readonly down: boolean }[];
}

export interface ListenerView {
  /** 'relay' (TLS), 'proxy' (the client's SOCKS/HTTP port), 'forward', or a port 'published' (§20). */
  readonly kind: 'relay' | 'proxy' | 'forward' | 'published';
  readonly address: string;
  /** A forward's target and path. */
  readonly to?: string;
  readonly via?: string;
}

export interface Snapshot {
  readonly daemon: Daemon;
  readonly pid: number;
  readonly uptime_ms: number;
  readonly links: readonly LinkView[];
  readonly circuits: readonly CircuitView[];
  readonly streams: { readonly total: number; readonly shown: readonly StreamView[] };
  readonly groups: readonly GroupView[];
  readonly listeners: readonly ListenerView[];
  readonly refusals: Readonly<Partial<Record<ErrorCode, number>>>;
}

/** Numbers only (no targets, no pins): what the metrics export. Byte and count fields only grow. */
export interface Totals {
  readonly links: number;
  readonly circuits: number;
  readonly streams: number;
  readonly streamsOpened: number;
  readonly linkBytesIn: number;
  readonly linkBytesOut: number;
  readonly streamBytesIn: number;
  readonly streamBytesOut: number;
  readonly handshakes: number;
  readonly handshakeFailures: number;
  readonly refusals: Readonly<Partial<Record<ErrorCode, number>>>;
}

/** What a link shows: a Session, or (relay HTTP mode) a TLS socket seen through linkMeter(). */
export interface LinkMeter {
  readonly peer: string;
  readonly startedAt: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly streamCount: number;
  rttMs(): number;
  once(event: 'close', cb: () => void): unknown;
}

/** A plain (TLS) socket as a link: bytes from its own counters, no PING, one stream at most. */
export function linkMeter(socket: Socket, peer: string): LinkMeter {
  const startedAt = performance.now();
  return {
    peer,
    startedAt,
    get bytesIn() {
      return socket.bytesRead;
    },
    get bytesOut() {
      return socket.bytesWritten;
    },
    streamCount: 0,
    rttMs: () => 0,
    once: (_event, cb) => socket.once('close', cb),
  };
}

interface LinkEntry {
  readonly session: LinkMeter;
  readonly address: string;
  readonly dir: 'in' | 'out';
}

interface CircuitEntry {
  readonly session: Session;
  readonly route: string;
  readonly hops: readonly string[];
  readonly startedAt: number;
  readonly isolation?: string;
}

interface StreamEntry {
  readonly duplex: Duplex;
  readonly target: string;
  readonly route: string;
  readonly startedAt: number;
}

/**
 * The registry. Emits 'opened' (ms) once per stream whose open succeeded, for the latency histogram.
 * Every method is cheap and never throws.
 */
export class Census extends EventEmitter {
  private readonly started = performance.now();
  private readonly links = new Set<LinkEntry>();
  private readonly circuits = new Map<Session, CircuitEntry>();
  private readonly streams = new Set<StreamEntry>();
  private readonly refusalCounts: Partial<Record<ErrorCode, number>> = {};
  private closedLinkBytes = [0, 0];
  private closedStreamBytes = [0, 0];
  private opened = 0;
  private handshakesOk = 0;
  private handshakesFailed = 0;
  /** Fixed at start by the daemon. */
  listening: ListenerView[] = [];
  /** The client's groups, asked for at each snapshot. */
  groups: () => GroupView[] = () => [];

  constructor(readonly daemon: Daemon) {
    super();
  }

  /** A link came up: `address` is the peer's (relay) or the hop's as configured (client). Session is a LinkMeter. */
  link(session: LinkMeter, address: string, dir: 'in' | 'out'): void {
    const e: LinkEntry = { session, address, dir };
    this.links.add(e);
    session.once('close', () => {
      this.links.delete(e);
      this.closedLinkBytes[0]! += session.bytesIn;
      this.closedLinkBytes[1]! += session.bytesOut;
    });
  }

  /** A circuit (its innermost link) serves `route` (for `isolation` only); registering it again is a no-op. */
  circuit(session: Session, route: string, hops: readonly string[], isolation?: string): void {
    if (this.circuits.has(session) || !session.alive) return;
    const entry = { session, route, hops, startedAt: performance.now() };
    this.circuits.set(session, isolation === undefined ? entry : { ...entry, isolation });
    session.once('close', () => this.circuits.delete(session));
  }

  /** A stream (mux stream or direct socket) to `target` by `route`, from now until it closes. */
  stream(duplex: Duplex, target: string, route: string): void {
    if (duplex.destroyed) return;
    const e: StreamEntry = { duplex, target, route, startedAt: performance.now() };
    this.streams.add(e);
    duplex.once('close', () => {
      this.streams.delete(e);
      const [i, o] = streamBytes(duplex);
      this.closedStreamBytes[0]! += i;
      this.closedStreamBytes[1]! += o;
    });
  }

  /** A stream's open succeeded after `ms` (OPEN sent → result; relay: dial time). */
  streamOpened(ms: number): void {
    this.opened++;
    this.emit('opened', ms);
  }

  /** Something was refused or failed for this reason (a stream's result, a link's refusal). */
  refused(code: ErrorCode): void {
    this.refusalCounts[code] = (this.refusalCounts[code] ?? 0) + 1;
  }

  /** A TLS handshake of a link ended (relay: a client's; client: a hop's). */
  handshake(ok: boolean): void {
    if (ok) this.handshakesOk++;
    else this.handshakesFailed++;
  }

  /** Everything, streams capped at streamsMax (the oldest first). */
  snapshot(streamsMax: number): Snapshot {
    const now = performance.now();
    const age = (t: number): number => Math.round(now - t);
    const shown: StreamView[] = [];
    for (const e of this.streams) {
      if (shown.length >= streamsMax) break;
      const [bytes_in, bytes_out] = streamBytes(e.duplex);
      shown.push({
        target: e.target,
        route: e.route,
        age_ms: age(e.startedAt),
        bytes_in,
        bytes_out,
        state: streamState(e.duplex),
      });
    }
    return {
      daemon: this.daemon,
      pid: process.pid,
      uptime_ms: age(this.started),
      links: [...this.links].map(({ session: s, address, dir }) => ({
        peer: s.peer,
        address,
        dir,
        age_ms: age(s.startedAt),
        bytes_in: s.bytesIn,
        bytes_out: s.bytesOut,
        rtt_ms: Math.round(s.rttMs() * 10) / 10,
        streams: s.streamCount,
      })),
      circuits: [...this.circuits.values()].map((c) => ({
        route: c.route,
        hops: c.hops,
        age_ms: age(c.startedAt),
        streams: c.session.streamCount,
        ...(c.isolation === undefined ? {} : { isolation: c.isolation }),
      })),
      streams: { total: this.streams.size, shown },
      groups: this.groups(),
      listeners: this.listening,
      refusals: { ...this.refusalCounts },
    };
  }

  totals(): Totals {
    let [linkIn, linkOut] = this.closedLinkBytes as [number, number];
    for (const { session } of this.links) {
      linkIn += session.bytesIn;
      linkOut += session.bytesOut;
    }
    let [streamIn, streamOut] = this.closedStreamBytes as [number, number];
    for (const { duplex } of this.streams) {
      const [i, o] = streamBytes(duplex);
      streamIn += i;
      streamOut += o;
    }
    return {
      links: this.links.size,
      circuits: this.circuits.size,
      streams: this.streams.size,
      streamsOpened: this.opened,
      linkBytesIn: linkIn,
      linkBytesOut: linkOut,
      streamBytesIn: streamIn,
      streamBytesOut: streamOut,
      handshakes: this.handshakesOk,
      handshakeFailures: this.handshakesFailed,
      refusals: { ...this.refusalCounts },
    };
  }
}

/** Bytes [in, out] of a stream as its own counters say: from the far side, and towards it. */
function streamBytes(d: Duplex): [number, number] {
  if (d instanceof MuxStream) return [d.bytesReceived, d.bytesSent];
  if (d instanceof Socket) return [d.bytesRead, d.bytesWritten];
  return [0, 0];
}

function streamState(d: Duplex): StreamState {
  if (d instanceof MuxStream && !d.connected) return 'opening';
  if (d instanceof Socket && d.connecting) return 'opening';
  return d.readableEnded || d.writableEnded ? 'half-closed' : 'open';
}
