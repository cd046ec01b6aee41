// What a relay holds for its clients, counted so that no one key (and no crowd of keys) can take it all:
// authorized links in total (linksMax) and per client key (linksPerClient), and exit TCP connections per
// client key (exitSocketsPerClient), dials in progress included. Refusals are data: a reason string for
// a link (the caller logs it and closes the link), TunnelError('limit') for a dial (the OPEN's result).

import type { Socket } from 'node:net';
import { TunnelError } from '../errors.js';
import type { Limits } from '../limits.js';
import type { Target } from '../wire/address.js';

export type Dial = (target: Target, signal: AbortSignal) => Promise<Socket>;

interface Held {
  links: number;
  exits: number;
  udp: number;
}

export class ClientBook {
  private links = 0;
  private readonly held = new Map<string, Held>();

  constructor(private readonly limits: Limits) {}

  /**
   * Admits one more link for the client key `pin`. Returns null and counts it (the caller must call
   * releaseLink once, when the link closes), or the reason it is refused (nothing counted).
   */
  admitLink(pin: string): string | null {
    if (this.links >= this.limits.linksMax) {
      return `limit: links_max (${this.limits.linksMax}) reached on this relay`;
    }
    const h = this.entry(pin);
    if (h.links >= this.limits.linksPerClient) {
      this.drop(pin, h);
      return `limit: links_per_client (${this.limits.linksPerClient}) reached for this key`;
    }
    this.links++;
    h.links++;
    return null;
  }

  releaseLink(pin: string): void {
    const h = this.held.get(pin);
    if (h === undefined || h.links === 0) return;
    this.links--;
    h.links--;
    this.drop(pin, h);
  }

  /**
   * `dial` for one client key: counted from the dial's start until its socket closes (or the dial
   * fails). At exitSocketsPerClient the dial is refused at once with TunnelError('limit').
   */
  dialerFor(pin: string, dial: Dial): Dial {
    return async (target, signal) => {
      const h = this.entry(pin);
      if (h.exits >= this.limits.exitSocketsPerClient) {
        this.drop(pin, h);
        throw new TunnelError(
          'limit',
          `exit_sockets_per_client (${this.limits.exitSocketsPerClient}) reached for this key`,
        );
      }
      h.exits++;
      const release = (): void => {
        h.exits--;
        this.drop(pin, h);
      };
      let socket: Socket;
      try {
        socket = await dial(target, signal);
      } catch (err) {
        release();
        throw err;
      }
      socket.once('close', release);
      return socket;
    };
  }

  /**
   * Admits one more UDP association for the client key: null and counted (releaseUdp once when it
   * ends), or TunnelError('limit') at udpAssociationsPerClient (nothing counted).
   */
  admitUdp(pin: string): TunnelError | null {
    const h = this.entry(pin);
    if (h.udp >= this.limits.udpAssociationsPerClient) {
      this.drop(pin, h);
      return new TunnelError(
        'limit',
        `udp_associations_per_client (${this.limits.udpAssociationsPerClient}) reached for this key`,
      );
    }
    h.udp++;
    return null;
  }

  releaseUdp(pin: string): void {
    const h = this.held.get(pin);
    if (h === undefined || h.udp === 0) return;
    h.udp--;
    this.drop(pin, h);
  }

  /** Links held now, all keys together. */
  get linkCount(): number {
    return this.links;
  }

  private entry(pin: string): Held {
    let h = this.held.get(pin);
    if (h === undefined) {
      h = { links: 0, exits: 0, udp: 0 };
      this.held.set(pin, h);
    }
    return h;
  }

  // Entries of keys holding nothing go, so the map is bounded by what is held, not by keys ever seen.
  private drop(pin: string, h: Held): void {
    if (h.links === 0 && h.exits === 0 && h.udp === 0 && this.held.get(pin) === h) this.held.delete(pin);
  }
}
