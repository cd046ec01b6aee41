// The client's Dialer: decides a target's path by the routing rules, then dials it that way.
//   block  → TunnelError('policy') at once (SOCKS 0x02 / HTTP 403); nothing leaves the machine.
//   direct → the client connects itself; a name is resolved here, by the system resolver.
//   route  → a CONNECT stream on the route's pooled circuit.
//   group  → its members in order: the first whose circuit can be built serves. Members known to be
//            down go last, and a health check brings the group back to them (health.ts).
// Once a circuit carries the OPEN, its answer is final: a refusal by the exit is not a reason to try the
// next member (it would only ask another exit the same question).
//
// Retry once: if the link dies before the exit answered the OPEN (no result byte) and before any byte of
// the application's payload went on the link, the stream is opened once more on a new circuit (the same
// route, or for a group the first member that is not down). The target can at most have seen a TCP
// connect that carried no data. Every other failure is final, and a stream that had connected is reset
// when its link dies, never ended cleanly.

import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { toTunnelError, TunnelError } from '../errors.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import { routeKey, type CircuitPool } from '../circuit/pool.js';
import type { Census, GroupView } from '../link/census.js';
import type { Session } from '../link/session.js';
import { keepReplyOnWriteError } from '../link/splice.js';
import { whenConnected, type MuxStream } from '../link/stream.js';
import type { Dialer, DialOptions, StreamContext, UdpSender } from '../proxy/dialer.js';
import { OPEN_UDP, UDP_OPEN_TARGET } from '../link/open.js';
import type { Datagram } from '../wire/udp.js';
import { ClientAssociation } from './udp-association.js';
import { formatTarget, type Target } from '../wire/address.js';
import { shortPin } from '../wire/share-string.js';
import { GroupHealth } from './health.js';
import { isolationOf, type Isolation } from './isolation.js';
import { decide, isolateOf, type Action, type Decision, type Route, type RoutingTable } from './rules.js';

export interface RouterOptions {
  readonly routing: RoutingTable;
  readonly pool: CircuitPool;
  readonly limits: Limits;
  readonly log: Logger;
  /** Streams, circuits and refusals are registered here (`ett status`, metrics). */
  readonly census?: Census;
}

/** An OPEN that may be retried: its link died before the exit answered, with no payload sent. */
class LostBeforeAnswer {
  constructor(readonly error: TunnelError) {}
}

export class Router implements Dialer {
  private readonly health: GroupHealth;
  /** Every group this router knows (from the table, and any a forward dialed), for groupViews(). */
  private groups = new Map<string, readonly Route[]>();
  private routing: RoutingTable;
  /** Keys isolation HMACs: a label's tag or a pool key says nothing of a password (isolation.ts). */
  private readonly isolationSecret = randomBytes(32);

  constructor(private readonly opts: RouterOptions) {
    this.health = new GroupHealth(opts.pool, opts.limits, opts.log);
    this.routing = opts.routing;
    this.groups = groupsOf(actionsOf(opts.routing));
  }

  /**
   * A reload: new streams follow `routing` (and forwards their `extra` actions). A group whose members
   * changed starts again from its first member; running streams stay where they are. Returns the pool
   * key of every route still in use, for CircuitPool.retain. Never throws.
   */
  setRouting(routing: RoutingTable, extra: readonly Action[]): Set<string> {
    const actions = [...actionsOf(routing), ...extra];
    const groups = groupsOf(actions);
    for (const [name, members] of this.groups) {
      const now = groups.get(name);
      const same = now !== undefined && keysOf(now).join('\n') === keysOf(members).join('\n');
      if (!same) this.health.forget(name);
    }
    this.routing = routing;
    this.groups = groups;
    const keep = new Set<string>();
    for (const a of actions) {
      if (a.kind === 'route') keep.add(routeKey(a.route.relays));
      if (a.kind === 'group') for (const m of a.members) keep.add(routeKey(m.relays));
    }
    return keep;
  }

  /** Each group: the member serving its new streams, and which members the pool knows are down. */
  groupViews(): GroupView[] {
    return [...this.groups].map(([name, members]) => ({
      name,
      serving: members[this.health.servingIndex(name)]?.name ?? '',
      members: members.map((m) => ({ route: m.name, down: this.opts.pool.isDown(m.relays) })),
    }));
  }

  /** Stops the groups' health checks. */
  close(): void {
    this.health.close();
  }

  /** Index of the member serving a group's new streams (0 for a group not used yet). */
  servingMember(group: string): number {
    return this.health.servingIndex(group);
  }

  /** The rule target matches now, and its action (the default's when none: rule null). */
  decision(target: Target): Decision {
    return decide(this.routing, target);
  }

  /** Dials target by the rule it matches. Rejects with a TunnelError (see the file comment). */
  dial(target: Target, o?: DialOptions): Promise<Duplex> {
    const d = decide(this.routing, target);
    if (d.action.kind === 'block') {
      this.opts.log.debug(`blocked ${formatTarget(target)} by ${d.rule?.text ?? 'default'}`);
    }
    return this.dialDecided(d, target, o?.signal, o?.context);
  }

  /** A UDP association whose datagrams follow the rules (udp-association.ts). Never throws. */
  associate(onReply: (d: Datagram) => void): UdpSender {
    return new ClientAssociation({
      decide: (d) => decide(this.routing, d.peer).action,
      open: (action) => this.openAssociation(action),
      limits: this.opts.limits,
      log: this.opts.log,
      onReply,
    });
  }

  /**
   * An association stream on a route, or on the first member of a group whose circuit builds; resolves
   * once the exit accepted it. Rejects with a TunnelError (the exit's refusal is final, as for TCP).
   */
  private async openAssociation(action: Extract<Action, { kind: 'route' | 'group' }>): Promise<MuxStream> {
    const members = action.kind === 'route' ? [action.route] : this.health.order(action.name, action.members);
    let lastError: unknown = new TunnelError('link-down', 'no route');
    for (const member of members) {
      let session: Session;
      try {
        session = await this.opts.pool.get(member.relays);
      } catch (err) {
        lastError = err;
        continue;
      }
      const stream = session.open(UDP_OPEN_TARGET, OPEN_UDP);
      this.opts.census?.circuit(
        session,
        member.name,
        member.relays.map((h) => shortPin(h.pin)),
      );
      this.opts.census?.stream(stream, 'udp', member.name);
      await whenConnected(stream, this.opts.limits.openTimeoutMs);
      if (action.kind === 'group') this.health.served(action.name, action.members, member);
      return stream;
    }
    throw toTunnelError(lastError, 'link-down');
  }

  /** Dials target by a given action (forwards name theirs). Rejects with a TunnelError. */
  dialVia(action: Action, target: Target, signal?: AbortSignal, context?: StreamContext): Promise<Duplex> {
    return this.dialDecided({ rule: null, action }, target, signal, context);
  }

  /**
   * Dials target by a decision already made (the transparent port checks it first): the rule's
   * isolation applies. Rejects with a TunnelError.
   */
  async dialDecided(
    d: Decision,
    target: Target,
    signal?: AbortSignal,
    context?: StreamContext,
  ): Promise<Duplex> {
    try {
      const isolation =
        d.action.kind === 'route' || d.action.kind === 'group'
          ? isolationOf(isolateOf(this.routing, d), target, context, this.isolationSecret)
          : null;
      return await this.dialBy(d.action, target, signal, isolation);
    } catch (err) {
      this.opts.census?.refused(toTunnelError(err).code);
      throw err;
    }
  }

  private async dialBy(
    action: Action,
    target: Target,
    signal: AbortSignal | undefined,
    iso: Isolation | null,
  ): Promise<Duplex> {
    switch (action.kind) {
      case 'block':
        throw new TunnelError('policy', 'blocked by a client rule');
      case 'direct': {
        const startedAt = performance.now();
        const socket = await dialDirect(target, this.opts.limits.connectTimeoutMs, signal);
        this.opts.census?.stream(socket, formatTarget(target), 'direct');
        this.opts.census?.streamOpened(performance.now() - startedAt);
        return socket;
      }
      case 'route':
        return this.openOn(action.route, target, signal, iso);
      case 'group':
        this.groups.set(action.name, action.members);
        return this.openOnGroup(action.name, action.members, target, signal, iso);
    }
  }

  private async openOn(
    route: Route,
    target: Target,
    signal: AbortSignal | undefined,
    iso: Isolation | null,
  ): Promise<Duplex> {
    const circuit = (): Promise<Session> => this.opts.pool.get(route.relays, signal, iso);
    let result = await this.connect(await circuit(), route, target, signal, iso);
    if (result instanceof LostBeforeAnswer) {
      this.retrying(`route ${route.name}`, result.error);
      result = await this.connect(await circuit(), route, target, signal, iso);
    }
    if (result instanceof LostBeforeAnswer) throw result.error;
    return result;
  }

  private async openOnGroup(
    name: string,
    members: readonly Route[],
    target: Target,
    signal: AbortSignal | undefined,
    iso: Isolation | null,
  ) {
    let lastError: unknown = new TunnelError('link-down', `group ${name} has no members`);
    for (let round = 0; round < 2; round++) {
      let lost = false;
      // The retry round orders again: the member whose link just died is now down, so it goes last.
      for (const member of this.health.order(name, members)) {
        let session;
        try {
          session = await this.opts.pool.get(member.relays, signal, iso);
        } catch (err) {
          lastError = err;
          if (signal?.aborted) throw toTunnelError(err, 'link-down');
          this.opts.log.info(`group ${name}: route ${member.name} unavailable, trying the next`);
          continue;
        }
        const result = await this.connect(session, member, target, signal, iso);
        if (result instanceof LostBeforeAnswer) {
          if (round > 0) throw result.error;
          this.retrying(`group ${name} route ${member.name}`, result.error);
          lastError = result.error;
          lost = true;
          break;
        }
        this.health.served(name, members, member);
        return result;
      }
      if (!lost) break;
    }
    throw toTunnelError(lastError, 'link-down');
  }

  /**
   * Opens target on session and waits for its result. Resolves with the connected stream, or with
   * LostBeforeAnswer when the retry rule (file comment) allows one more try; rejects otherwise.
   */
  private async connect(
    session: Session,
    route: Route,
    target: Target,
    signal: AbortSignal | undefined,
    iso: Isolation | null,
  ): Promise<MuxStream | LostBeforeAnswer> {
    let stream: MuxStream;
    const startedAt = performance.now();
    try {
      stream = session.open(target);
    } catch (err) {
      // Closing since the pool handed it out: nothing was sent.
      const e = toTunnelError(err, 'link-down');
      if (e.code === 'link-down') return new LostBeforeAnswer(e);
      throw e;
    }
    const census = this.opts.census;
    if (census) {
      census.circuit(
        session,
        route.name,
        route.relays.map((h) => shortPin(h.pin)),
        iso?.label,
      );
      census.stream(stream, formatTarget(target), route.name);
    }
    try {
      await whenConnected(stream, this.opts.limits.openTimeoutMs, signal);
      census?.streamOpened(performance.now() - startedAt);
      return stream;
    } catch (err) {
      const e = toTunnelError(err, 'link-down');
      const lost = e.code === 'link-down' && !stream.answered && !stream.payloadSent && !signal?.aborted;
      if (lost) return new LostBeforeAnswer(e);
      throw e;
    }
  }

  private retrying(where: string, err: TunnelError): void {
    this.opts.log.info(`${where}: link lost before the exit answered (${err.message}); retrying once`);
  }
}

function actionsOf(routing: RoutingTable): Action[] {
  return [...routing.rules.map((r) => r.action), routing.default];
}

function groupsOf(actions: readonly Action[]): Map<string, readonly Route[]> {
  const out = new Map<string, readonly Route[]>();
  for (const a of actions) if (a.kind === 'group') out.set(a.name, a.members);
  return out;
}

function keysOf(members: readonly Route[]): string[] {
  return members.map((m) => routeKey(m.relays));
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
    const onConnect = (): void => {
      keepReplyOnWriteError(socket);
      settle();
    };
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
