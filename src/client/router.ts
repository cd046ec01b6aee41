// The client's Dialer: decides a target's path by the routing rules, then dials it that way.
//   block  → TunnelError('policy') at once (SOCKS 0x02 / HTTP 403); nothing leaves the machine.
//   direct → the client connects itself; a name is resolved here, by the system resolver.
//   route  → a CONNECT stream on the route's pooled circuit.
//   group  → its members in order: the first whose circuit can be built serves. A member whose build
//            failed recently (CircuitPool's backoff) is skipped while another member is usable.
// Once a circuit carries the OPEN, its answer is final: a refusal by the exit is not a reason to try the
// next member (it would only ask another exit the same question).

import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { toTunnelError, TunnelError } from '../errors.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import type { CircuitPool } from '../circuit/pool.js';
import { whenConnected } from '../link/stream.js';
import type { Dialer } from '../proxy/dialer.js';
import { formatTarget, type Target } from '../wire/address.js';
import { decide, type Action, type Route, type RoutingTable } from './rules.js';

export interface RouterOptions {
  readonly routing: RoutingTable;
  readonly pool: CircuitPool;
  readonly limits: Limits;
  readonly log: Logger;
}

export class Router implements Dialer {
  constructor(private readonly opts: RouterOptions) {}

  /** Dials target by the rule it matches. Rejects with a TunnelError (see the file comment). */
  dial(target: Target, o?: { signal?: AbortSignal }): Promise<Duplex> {
    const { rule, action } = decide(this.opts.routing, target);
    if (action.kind === 'block') {
      this.opts.log.debug(`blocked ${formatTarget(target)} by ${rule?.text ?? 'default'}`);
    }
    return this.dialVia(action, target, o?.signal);
  }

  /** Dials target by a given action (forwards name theirs). Rejects with a TunnelError. */
  async dialVia(action: Action, target: Target, signal?: AbortSignal): Promise<Duplex> {
    switch (action.kind) {
      case 'block':
        throw new TunnelError('policy', 'blocked by a client rule');
      case 'direct':
        return dialDirect(target, this.opts.limits.connectTimeoutMs, signal);
      case 'route':
        return this.openOn(action.route, target, signal);
      case 'group':
        return this.openOnGroup(action.name, action.members, target, signal);
    }
  }

  private async openOn(route: Route, target: Target, signal?: AbortSignal): Promise<Duplex> {
    const session = await this.opts.pool.get(route.relays, signal);
    const stream = session.open(target);
    await whenConnected(stream, this.opts.limits.openTimeoutMs, signal);
    return stream;
  }

  private async openOnGroup(name: string, members: readonly Route[], target: Target, signal?: AbortSignal) {
    // Members that failed recently go last, so a dead first member costs one attempt per backoff period.
    const ordered = [
      ...members.filter((m) => !this.opts.pool.recentlyFailed(m.relays)),
      ...members.filter((m) => this.opts.pool.recentlyFailed(m.relays)),
    ];
    let lastError: unknown = new TunnelError('link-down', `group ${name} has no members`);
    for (const member of ordered) {
      let session;
      try {
        session = await this.opts.pool.get(member.relays, signal);
      } catch (err) {
        lastError = err;
        if (signal?.aborted) break;
        this.opts.log.info(`group ${name}: route ${member.name} unavailable, trying the next`);
        continue;
      }
      const stream = session.open(target);
      await whenConnected(stream, this.opts.limits.openTimeoutMs, signal);
      return stream;
    }
    throw toTunnelError(lastError, 'link-down');
  }
}

/**
 * A plain TCP connection from the client itself (a `direct` rule). Names are resolved locally by
 * net.connect. Rejects with a TunnelError ('refused', 'host-unreachable', 'timeout', ...).
 */
export function dialDirect(target: Target, timeoutMs: number, signal?: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true });
    const settle = (err?: TunnelError): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off('connect', onConnect);
      if (err) {
        socket.destroy();
        reject(err);
      } else resolve(socket);
    };
    const onError = (err: Error): void => settle(toTunnelError(err, 'general'));
    const onConnect = (): void => settle();
    const onAbort = (): void => settle(new TunnelError('timeout', 'direct connect aborted'));
    const timer = setTimeout(
      () => settle(new TunnelError('timeout', `direct connect over ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once('error', onError);
    socket.once('connect', onConnect);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}
