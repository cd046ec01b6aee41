// What every client front-end knows of the rest of ett: dial a target, get a Duplex.

import type { Duplex } from 'node:stream';
import type { Target } from '../wire/address.js';
import type { Datagram } from '../wire/udp.js';

/**
 * Contract: resolves once the far end reports the destination connected; the Duplex then carries the
 * bytes both ways, half-close included (end() sends FIN one way only). If the path breaks later, the
 * Duplex is destroyed with a TunnelError (never a clean end), and the front-end must reset the app's
 * socket. Rejects with a TunnelError whose code the front-end maps through errors.ts.
 */
export interface Dialer {
  dial(target: Target, opts?: DialOptions): Promise<Duplex>;
  /**
   * A UDP association (SOCKS5 UDP ASSOCIATE): each datagram sent goes by the dialer's rules to its
   * destination; answers come to onReply with their source. Absent where UDP is not carried.
   */
  associate?(onReply: (d: Datagram) => void): UdpSender;
}

export interface DialOptions {
  readonly signal?: AbortSignal;
  /** Where the stream came from, for stream isolation (which streams may share a circuit). */
  readonly context?: StreamContext;
}

/**
 * What a front-end knows of a stream's origin. Used only to keep streams apart (stream isolation):
 * the login is never checked here (socks_users does that) nor logged.
 */
export interface StreamContext {
  /** The login the application gave: SOCKS5 username/password, SOCKS4 user id, HTTP proxy Basic. */
  readonly login?: { readonly username: string; readonly password: string };
  /** The forward the connection came in by, as `LISTEN→TARGET`. */
  readonly forward?: string;
  /** The application's IP address (a LAN host in router mode). */
  readonly source?: string;
}

/** The sending side of a UDP association. Sending never blocks: what cannot go now is dropped, counted. */
export interface UdpSender {
  send(d: Datagram): void;
  /** Ends the association (its streams and sockets). Never throws. */
  close(): void;
  /** Datagrams dropped so far, by reason. */
  readonly drops: Readonly<Record<string, number>>;
}
