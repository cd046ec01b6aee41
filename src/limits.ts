// Every bound and timeout ett keeps, with its default, in one place. Constants fixed by a spec (the yamux
// frame layout, RFC 1928 codes) live beside their codecs; what is here is our own choice and may be set
// by the operator in the `[limits]` table of a config file (snake_case of the same names).

export interface Limits {
  /** TLS handshake deadline on both sides, ms. */
  readonly handshakeTimeoutMs: number;
  /** TLS handshakes in progress on a relay, all sources together; more are closed at once. */
  readonly handshakesInFlight: number;
  /** TLS handshakes in progress on a relay from one source address. */
  readonly handshakesPerSource: number;
  /** Authorized links (TLS connections, mux or HTTP mode) a relay holds at once; more are closed. */
  readonly linksMax: number;
  /** Authorized links a relay holds at once for one client key; more from that key are closed. */
  readonly linksPerClient: number;
  /** Exit TCP connections (dials included) a relay holds at once for one client key; more get `limit`. */
  readonly exitSocketsPerClient: number;
  /** Open streams on one link; an OPEN beyond it is answered with result `limit`. */
  readonly streamsPerLink: number;
  /** The cap a stream's receive window may grow to from yamux's fixed 256 KiB start, bytes. */
  readonly streamWindowMax: number;
  /** Bytes received and not yet consumed, summed over the streams of one link. */
  readonly linkBufferedMax: number;
  /** Interval between keepalive PINGs on a link, ms. */
  readonly pingIntervalMs: number;
  /** A link from which nothing (no PING answer, no byte) arrived this long after a PING is dead, ms. */
  readonly pingTimeoutMs: number;
  /** PING requests a peer may send in one second; more is a flood and closes its link. */
  readonly pingsPerSecondMax: number;
  /** The exit's TCP connect deadline (all approved addresses together), ms. */
  readonly connectTimeoutMs: number;
  /** The client's deadline for a stream's result (OPEN sent → ACK received), ms. */
  readonly openTimeoutMs: number;
  /** Largest SOCKS or HTTP request head the client's port accepts, bytes. */
  readonly requestHeadMax: number;
  /** Deadline for an application to finish its SOCKS/HTTP request head, ms. */
  readonly requestHeadTimeoutMs: number;
  /** A stream with no traffic either way for this long is reset; 0 disables, ms. */
  readonly streamIdleTimeoutMs: number;
  /** On shutdown, how long links get (after GO_AWAY) for running streams to finish, ms. */
  readonly shutdownGraceMs: number;
  /** Most relays in one route. */
  readonly pathLengthMax: number;
  /** Client: background rebuilds of a route whose link went down while in use, before giving up. */
  readonly reconnectAttemptsMax: number;
  /** Client: period (±25 % jitter) at which a group probes its earlier members while a later one serves, ms. */
  readonly healthCheckIntervalMs: number;
  /** Connections the control socket (`ett status`, `ett reload`) serves at once; more are closed. */
  readonly controlConnectionsMax: number;
  /** Longest control request line, bytes; a longer one gets an error response and the connection closes. */
  readonly controlLineMax: number;
  /** A control connection that sends no request for this long is closed, ms. */
  readonly controlIdleTimeoutMs: number;
  /** Streams a status snapshot lists (the oldest first); the total is always given. */
  readonly statusStreamsMax: number;
  /** A UDP association with no datagram either way for this long ends (client and exit), ms. */
  readonly udpIdleTimeoutMs: number;
  /** Datagrams one association may send per second (the client's and the exit's side each); more are dropped. */
  readonly udpDatagramsPerSecond: number;
  /** Bytes of datagrams waiting to be written toward one association's reader; more are dropped. */
  readonly udpBytesInFlight: number;
  /** UDP associations a relay holds at once for one client key; more are refused with `limit`. */
  readonly udpAssociationsPerClient: number;
  /**
   * UDP flows (a program's socket and one destination) the isolated run carries at once, each its own
   * association; datagrams of more are dropped. At most udpAssociationsPerClient of the exit serve.
   */
  readonly udpFlowsMax: number;
  /** DNS port: TCP connections served at once; more are closed at accept. */
  readonly dnsTcpConnectionsMax: number;
  /** DNS port: a TCP connection that sends no complete query for this long is closed, ms. */
  readonly dnsTcpIdleTimeoutMs: number;
  /**
   * Names the DNS port and the transparent port stand for at once (each by an address in 240.0.0.0/4);
   * past it the least recently used name not held by an open connection is forgotten.
   */
  readonly nameTableSize: number;
  /**
   * Client: circuits kept apart by stream isolation (a SOCKS login, a destination host, …) at once,
   * all routes together; past it the least recently used idle one closes, else the stream gets `limit`.
   */
  readonly isolatedCircuitsMax: number;
  /** Client: an isolated circuit that carried no stream for this long closes, ms. */
  readonly isolatedCircuitIdleMs: number;
  /** Relay: failed invite joins (`ett join`) one source address may make within join_failure_window_ms; then its joins are refused unread. */
  readonly joinFailuresPerSource: number;
  /** Relay: how long a source's failed joins are counted, from the first of them, ms. */
  readonly joinFailureWindowMs: number;
  /** Relay: ports one client key may have published at once (`publish` rules, §20); more get `limit`. */
  readonly publishPortsPerClient: number;
  /**
   * Relay: connections one published port carries at once (accepted and not yet closed, the wait for
   * the client's answer included); more are reset at accept.
   */
  readonly publishConnectionsPerPort: number;
}

export const DEFAULT_LIMITS: Limits = Object.freeze({
  handshakeTimeoutMs: 10_000,
  handshakesInFlight: 512,
  handshakesPerSource: 32,
  linksMax: 4096,
  linksPerClient: 256,
  exitSocketsPerClient: 16_384,
  streamsPerLink: 16_384,
  streamWindowMax: 16 * 1024 * 1024,
  linkBufferedMax: 64 * 1024 * 1024,
  pingIntervalMs: 5_000,
  pingTimeoutMs: 5_000,
  pingsPerSecondMax: 50,
  connectTimeoutMs: 10_000,
  openTimeoutMs: 30_000,
  requestHeadMax: 16 * 1024,
  requestHeadTimeoutMs: 10_000,
  streamIdleTimeoutMs: 0,
  shutdownGraceMs: 2_000,
  pathLengthMax: 8,
  reconnectAttemptsMax: 8,
  healthCheckIntervalMs: 5_000,
  controlConnectionsMax: 16,
  controlLineMax: 4096,
  controlIdleTimeoutMs: 30_000,
  statusStreamsMax: 200,
  udpIdleTimeoutMs: 120_000,
  udpDatagramsPerSecond: 20_000,
  udpBytesInFlight: 1024 * 1024,
  udpAssociationsPerClient: 256,
  udpFlowsMax: 256,
  dnsTcpConnectionsMax: 64,
  dnsTcpIdleTimeoutMs: 10_000,
  nameTableSize: 65_536,
  isolatedCircuitsMax: 64,
  isolatedCircuitIdleMs: 300_000,
  joinFailuresPerSource: 8,
  joinFailureWindowMs: 600_000,
  publishPortsPerClient: 16,
  publishConnectionsPerPort: 256,
});

export const LIMIT_NAMES = Object.keys(DEFAULT_LIMITS) as (keyof Limits)[];

/** The defaults with some values replaced. Callers validate values (config/ does); this only merges. */
export function withLimits(overrides: Partial<Limits> = {}): Limits {
  return Object.freeze({ ...DEFAULT_LIMITS, ...overrides });
}

/** Descriptors a process needs beyond what the limits count: listeners, stdio, the log, DNS, timers. */
export const OPEN_FILES_RESERVE = 64;

/**
 * The open-files limit (RLIMIT_NOFILE) that lets a daemon reach its limits rather than run out of
 * descriptors first. One formula, used by the start-up warning and matched by the systemd units:
 * - relay: every link (`linksMax`) and handshake (`handshakesInFlight`) at once, one client key's full
 *   share of exit sockets (`exitSocketsPerClient`), UDP associations (`udpAssociationsPerClient`) and
 *   published ports (`publishPortsPerClient` listeners, each with `publishConnectionsPerPort`
 *   connections), the control connections, and the reserve;
 * - client: one link's full share of streams (`streamsPerLink`, one application socket each), a link per
 *   hop of the longest route (`pathLengthMax`), the control connections, and the reserve.
 * Several keys at their full share need more; this is the floor below which the defaults cannot be met.
 */
export function openFilesNeeded(limits: Limits, role: 'relay' | 'client'): number {
  const control = limits.controlConnectionsMax + OPEN_FILES_RESERVE;
  if (role === 'client') return limits.streamsPerLink + limits.pathLengthMax + control;
  return (
    limits.linksMax +
    limits.handshakesInFlight +
    limits.exitSocketsPerClient +
    limits.udpAssociationsPerClient +
    limits.publishPortsPerClient * (1 + limits.publishConnectionsPerPort) +
    control
  );
}
