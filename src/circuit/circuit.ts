// A circuit: links nested one inside the other along a route. Hop 1 is pinned TLS over TCP; hop k+1 is
// pinned TLS inside a CONNECT stream of hop k's link. The innermost link carries the user's streams.
// The next hop's ClientHello is written into the new stream before its result arrives (optimistic
// data), so it leaves in the same packet as the OPEN: one round trip per hop, not two.

import * as net from 'node:net';
import { TunnelError } from '../errors.js';
import { ephemeralIdentity, type Identity } from '../identity/identity.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import type { Census } from '../link/census.js';
import type { Open } from '../link/open.js';
import { Session } from '../link/session.js';
import type { MuxStream } from '../link/stream.js';
import { connectPinned } from '../link/tls.js';
import { formatTarget } from '../wire/address.js';
import { shortPin, type ShareString } from '../wire/share-string.js';

/**
 * One relay of a route, and the key this client shows it. Without `clientKey` the client's own key is
 * used at every hop, so every relay on the route learns (and must allow) the same pin. A relay may be
 * given its own key instead (one the user registered with that relay only), or 'ephemeral': a fresh key
 * for every circuit, for relays that run --allow-any, so that relay cannot tell who is talking or link
 * one circuit to the next.
 */
export interface Hop extends ShareString {
  readonly clientKey?: Identity | 'ephemeral';
}

export interface CircuitOptions {
  readonly identity: Identity;
  readonly limits: Limits;
  readonly log: Logger;
  readonly signal?: AbortSignal;
  /** Each hop's link is registered here (`ett status`, metrics). */
  readonly census?: Census;
  /**
   * Streams the last relay opens toward us (INCOMING for a published port, §20) go here; only the
   * innermost link takes any: a relay in the middle that opens one gets `link-down`, as before.
   */
  readonly onIncoming?: (session: Session, stream: MuxStream, open: Open) => void;
}

/**
 * Builds the links of `route` in order and returns the innermost session. Each hop's pin is checked
 * before anything is sent through it. Rejects with the TunnelError of the first hop that fails (its
 * code says why: 'link-auth', 'timeout', 'refused', 'policy' from the previous hop's exit, ...), after
 * closing every link it had built.
 */
export async function buildCircuit(route: readonly Hop[], opts: CircuitOptions): Promise<Session> {
  if (route.length === 0) throw new TunnelError('config', 'a route needs at least one relay');
  if (route.length > opts.limits.pathLengthMax) {
    throw new TunnelError(
      'config',
      `route of ${route.length} relays exceeds the limit of ${opts.limits.pathLengthMax}`,
    );
  }
  const built: Session[] = [];
  try {
    let outer: Session | null = null;
    for (const [i, hop] of route.entries()) {
      const incoming = i === route.length - 1 ? opts.onIncoming : undefined;
      const identity =
        hop.clientKey === 'ephemeral' ? await ephemeralIdentity() : (hop.clientKey ?? opts.identity);
      const socket = outer ? { socket: outer.open(hop.target) } : await dialTcp(hop, opts);
      const tlsSocket = await connectPinned({
        identity,
        pin: hop.pin,
        ...socket,
        timeoutMs: opts.limits.handshakeTimeoutMs,
        signal: opts.signal,
      }).catch((err: unknown) => {
        opts.census?.handshake(false);
        throw err;
      });
      opts.census?.handshake(true);
      const session: Session = new Session(tlsSocket, {
        role: 'client',
        limits: opts.limits,
        log: opts.log,
        peer: shortPin(hop.pin),
        ...(incoming === undefined ? {} : { onStream: (stream, open) => incoming(session, stream, open) }),
      });
      // An inner link cannot outlive the link it runs in, nor the other way round: the circuit is one.
      if (outer) {
        const parent: Session = outer;
        parent.once('close', (err?: Error) =>
          session.destroy(new TunnelError('link-down', 'an outer hop went down', { cause: err })),
        );
        session.once('close', () => parent.destroy());
      }
      opts.census?.link(session, formatTarget(hop.target), 'out');
      built.push(session);
      outer = session;
    }
    return outer!;
  } catch (err) {
    for (const s of built) s.destroy();
    throw err;
  }
}

async function dialTcp(hop: ShareString, opts: CircuitOptions): Promise<{ socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hop.target.host, port: hop.target.port, noDelay: true });
    const timer = setTimeout(
      () => fail(new TunnelError('timeout', `connect to relay ${formatTarget(hop.target)} timed out`)),
      opts.limits.handshakeTimeoutMs,
    );
    const onAbort = (): void => fail(new TunnelError('timeout', 'link setup aborted'));
    const fail = (err: Error): void => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(err instanceof TunnelError ? err : toRelayError(err, hop));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.off('error', fail);
      resolve({ socket });
    });
  });
}

function toRelayError(err: Error & { code?: string }, hop: ShareString): TunnelError {
  const code = err.code === 'ECONNREFUSED' ? 'refused' : err.code === 'ETIMEDOUT' ? 'timeout' : 'link-down';
  return new TunnelError(code, `relay ${shortPin(hop.pin)} at ${formatTarget(hop.target)}: ${err.message}`, {
    cause: err,
  });
}
