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
  dial(target: Target, opts?: { signal?: AbortSignal }): Promise<Duplex>;
  /**
   * A UDP association (SOCKS5 UDP ASSOCIATE): each datagram sent goes by the dialer's rules to its
   * destination; answers come to onReply with their source. Absent where UDP is not carried.
   */
  associate?(onReply: (d: Datagram) => void): UdpSender;
}

/** The sending side of a UDP association. Sending never blocks: what cannot go now is dropped, counted. */
export interface UdpSender {
  send(d: Datagram): void;
  /** Ends the association (its streams and sockets). Never throws. */
  close(): void;
  /** Datagrams dropped so far, by reason. */
  readonly drops: Readonly<Record<string, number>>;
}
