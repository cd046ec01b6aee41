// Circuits pooled per route: many streams share one circuit; concurrent requests for a route wait on
// the same build, and one caller giving up (its signal) does not cancel the build for the others.
//
// Self-healing (DESIGN.md §8):
// - A request always builds on demand when the route has no usable circuit: the user's request is the
//   retry, and never waits for a backoff.
// - A circuit that goes down while its route is in use (a request within RECENT_USE_MS), other than by
//   our own shutdown, is rebuilt in the background: backoff 1 s doubling to 30 s, ×[0.5, 1.5) jitter, at
//   most limits.reconnectAttemptsMax attempts, stopped once a request rebuilt it, the route went unused,
//   or the client closes.
// - A route is "down" from a failed build or a lost link until a build succeeds; groups put down
//   members last (src/client/health.ts probes them back).
// - Logs: `link up:` / `link down: PINS: REASON (detail)` once per link; a failed build is logged at
//   warn the first time and whenever its reason changes, else at debug (no spam from retries).
// - Stream isolation: a request may name an isolation (a key and a label); it then gets a circuit of its
//   own on that route, never one another isolation uses. Such circuits are bounded
//   (limits.isolatedCircuitsMax: past it the least recently used one without streams closes, else
//   `limit`), close after limits.isolatedCircuitIdleMs without a stream, and are not rebuilt in the
//   background (the next request builds one); their failures mark the route down like any other.

import { raceAbort } from '../abort.js';
import { TunnelError } from '../errors.js';
import type { Session } from '../link/session.js';
import { formatTarget } from '../wire/address.js';
import { shortPin } from '../wire/share-string.js';
import { buildCircuit, type CircuitOptions, type Hop } from './circuit.js';
import { buildFailReason, linkDownReason, type LinkReason } from './reason.js';
import { backoffDelay, RECENT_USE_MS, realClock, Retrier, type Clock } from './retry.js';

export interface PoolOptions extends Omit<CircuitOptions, 'signal'> {
  readonly clock?: Clock;
  /** The circuit builder (tests pass their own). */
  readonly build?: (route: readonly Hop[], opts: Omit<CircuitOptions, 'signal'>) => Promise<Session>;
}

/** A circuit of its own for the streams of one isolation key (client/isolation.ts makes them). */
export interface PoolIsolation {
  readonly key: string;
  readonly label: string;
}

interface RouteState {
  readonly key: string;
  readonly route: readonly Hop[];
  /** Set for an isolated circuit's state; its route's shared state is `base`. */
  readonly isolation?: PoolIsolation;
  readonly base?: RouteState;
  /** The route's relays as short pins, for logs. */
  readonly names: string;
  /** clock.now() of the last request for this route (probes do not count). */
  lastUsed: number;
  down: boolean;
  /** Failed builds since the last success, and the last one's reason (for log de-duplication). */
  failures: number;
  lastFailure: LinkReason | null;
  reconnect: Retrier | null;
}

export class CircuitPool {
  private readonly circuits = new Map<string, Session>();
  private readonly building = new Map<string, Promise<Session>>();
  private readonly routes = new Map<string, RouteState>();
  private readonly clock: Clock;
  private closed = false;
  /** Isolated states, least recently used first (Map order, moved to the end on use). */
  private readonly isolated = new Map<string, RouteState>();
  private sweeper: unknown = null;

  constructor(private readonly opts: PoolOptions) {
    this.clock = opts.clock ?? realClock;
  }

  /**
   * A usable circuit for route, built if needed; with `isolation`, one that serves only that isolation.
   * Rejects with the build's TunnelError, 'timeout' on abort, or 'limit' when isolatedCircuitsMax
   * circuits are all carrying streams.
   */
  get(route: readonly Hop[], signal?: AbortSignal, isolation?: PoolIsolation | null): Promise<Session> {
    const base = this.state(route);
    const now = this.clock.now();
    base.lastUsed = now;
    let st = base;
    if (isolation) {
      try {
        st = this.isolatedState(base, isolation);
      } catch (err) {
        return Promise.reject(err);
      }
      st.lastUsed = now;
    }
    const p = this.obtain(st);
    return signal
      ? raceAbort(p, signal, () => new TunnelError('timeout', 'gave up waiting for the circuit'))
      : p;
  }

  /** Builds route's circuit if it has none, for a health check; true if the route is up afterwards. */
  probe(route: readonly Hop[]): Promise<boolean> {
    return this.obtain(this.state(route)).then(
      () => true,
      () => false,
    );
  }

  /** True from a route's failed build or lost link until a build succeeds. */
  isDown(route: readonly Hop[]): boolean {
    return this.routes.get(routeKey(route))?.down ?? false;
  }

  /** Background reconnect attempts made in the route's current (or last) run; 0 if none. */
  reconnectAttempts(route: readonly Hop[]): number {
    return this.routes.get(routeKey(route))?.reconnect?.attemptsMade ?? 0;
  }

  /** Isolated circuits open or being built now. */
  get isolatedCount(): number {
    return this.isolated.size;
  }

  private isolatedState(base: RouteState, iso: PoolIsolation): RouteState {
    const key = `${base.key}#${iso.key}`;
    let st = this.isolated.get(key);
    if (st) {
      this.isolated.delete(key); // to the end: most recently used
      this.isolated.set(key, st);
      return st;
    }
    const max = this.opts.limits.isolatedCircuitsMax;
    if (this.isolated.size >= max && !this.evictIdle()) {
      throw new TunnelError(
        'limit',
        `${max} isolated circuits all carry streams (limits.isolated_circuits_max); not opening another`,
      );
    }
    st = { ...this.fresh(key, base.route), names: `${base.names} [${iso.label}]`, isolation: iso, base };
    this.isolated.set(key, st);
    this.routes.set(key, st);
    this.sweep();
    return st;
  }

  /** Closes the least recently used isolated circuit with no streams and no build; false if none. */
  private evictIdle(): boolean {
    for (const st of this.isolated.values()) {
      if (this.building.has(st.key)) continue;
      const session = this.circuits.get(st.key);
      if (session && session.streamCount > 0) continue;
      this.forgetIsolated(st, 'isolated circuit limit reached');
      return true;
    }
    return false;
  }

  private forgetIsolated(st: RouteState, why: string): void {
    this.isolated.delete(st.key);
    if (this.routes.get(st.key) === st) this.routes.delete(st.key);
    const session = this.circuits.get(st.key);
    if (session === undefined) return;
    this.circuits.delete(st.key);
    this.opts.log.debug(`closing isolated circuit ${st.names}: ${why}`);
    void session.shutdown(this.opts.limits.shutdownGraceMs);
  }

  /**
   * While isolated circuits exist, checks every quarter of isolatedCircuitIdleMs (at least 50 ms,
   * at most 30 s): one carrying streams counts as used now; one unused for isolatedCircuitIdleMs closes.
   */
  private sweep(): void {
    if (this.sweeper !== null || this.closed) return;
    const idle = this.opts.limits.isolatedCircuitIdleMs;
    const every = Math.min(30_000, Math.max(50, Math.floor(idle / 4)));
    this.sweeper = this.clock.setTimeout(() => {
      this.sweeper = null;
      const now = this.clock.now();
      for (const st of [...this.isolated.values()]) {
        if (this.building.has(st.key)) continue;
        const session = this.circuits.get(st.key);
        if (session && session.streamCount > 0) st.lastUsed = now;
        else if (now - st.lastUsed >= idle) this.forgetIsolated(st, `no stream for ${idle} ms`);
      }
      if (this.isolated.size > 0) this.sweep();
    }, every);
  }

  private fresh(key: string, route: readonly Hop[]): RouteState {
    const names = route.map((h) => shortPin(h.pin)).join(' > ');
    return { key, route, names, lastUsed: 0, down: false, failures: 0, lastFailure: null, reconnect: null };
  }

  private state(route: readonly Hop[]): RouteState {
    const key = routeKey(route);
    let st = this.routes.get(key);
    if (!st) {
      st = this.fresh(key, route);
      this.routes.set(key, st);
    }
    return st;
  }

  private obtain(st: RouteState): Promise<Session> {
    if (this.closed) return Promise.reject(new TunnelError('link-down', 'client is shutting down'));
    const current = this.circuits.get(st.key);
    if (current?.usable) return Promise.resolve(current);
    let build = this.building.get(st.key);
    if (!build) {
      build = this.build(st);
      this.building.set(st.key, build);
    }
    return build;
  }

  private build(st: RouteState): Promise<Session> {
    const build = this.opts.build ?? buildCircuit;
    return build(st.route, this.opts).then(
      (session) => {
        this.building.delete(st.key);
        if (this.closed) {
          session.destroy();
          throw new TunnelError('link-down', 'client is shutting down');
        }
        this.up(st, session);
        return session;
      },
      (err: unknown) => {
        this.building.delete(st.key);
        this.failed(st, err);
        throw err;
      },
    );
  }

  private up(st: RouteState, session: Session): void {
    const after =
      st.failures > 0 ? ` (after ${st.failures} failed attempt${st.failures > 1 ? 's' : ''})` : '';
    st.down = false;
    st.failures = 0;
    st.lastFailure = null;
    st.reconnect?.stop();
    if (st.base) st.base.down = false;
    this.circuits.set(st.key, session);
    // Up once the (last) relay's first frame arrives, i.e. it accepted our key; a link closed before
    // that was never up: it is logged as a failed build, not as "link up" then "link down".
    const logUp = (): void => this.opts.log.info(`link up: ${st.names}${after}`);
    if (session.accepted) logUp();
    else session.once('accepted', logUp);
    let peerGoAway = false;
    session.once('goaway', () => (peerGoAway = true));
    session.once('close', (err?: Error) => {
      if (this.circuits.get(st.key) === session) this.circuits.delete(st.key);
      if (this.closed) {
        if (session.accepted) this.opts.log.info(`link down: ${st.names}: shutdown`);
        return;
      }
      if (this.routes.get(st.key) !== st) {
        const why = st.isolation ? 'isolated circuit closed' : 'no longer in the config (reload)';
        this.opts.log.info(`link down: ${st.names}: ${why}`);
        return;
      }
      if (!session.accepted) this.failed(st, err ?? new TunnelError('link-down', 'link closed'));
      else {
        const reason = linkDownReason(err, peerGoAway);
        this.opts.log.info(`link down: ${st.names}: ${reason}${err ? ` (${err.message})` : ''}`);
      }
      st.down = true;
      if (st.base) {
        // An isolated circuit is built again on demand only; its route is down like any other.
        st.base.down = true;
        return;
      }
      if (this.clock.now() - st.lastUsed < RECENT_USE_MS) this.reconnect(st);
    });
  }

  private failed(st: RouteState, err: unknown): void {
    st.down = true;
    if (st.base) st.base.down = true;
    st.failures++;
    const reason = buildFailReason(err);
    const line = `link to ${st.names} failed: ${reason} (${err instanceof Error ? err.message : String(err)})`;
    if (st.failures === 1 || reason !== st.lastFailure) this.opts.log.warn(line);
    else this.opts.log.debug(`${line}, ${st.failures} in a row`);
    st.lastFailure = reason;
  }

  private reconnect(st: RouteState): void {
    st.reconnect ??= new Retrier(
      {
        delay: backoffDelay,
        maxAttempts: this.opts.limits.reconnectAttemptsMax,
        keepGoing: () =>
          !this.closed &&
          !this.circuits.get(st.key)?.usable &&
          this.clock.now() - st.lastUsed < RECENT_USE_MS,
        attempt: (n) => {
          this.opts.log.debug(`reconnecting ${st.names}: attempt ${n}`);
          return this.obtain(st).then(
            () => true,
            () => false,
          );
        },
        onGiveUp: (n) =>
          this.opts.log.info(
            `link to ${st.names}: gave up reconnecting after ${n} attempts (the next request tries again)`,
          ),
      },
      this.clock,
    );
    st.reconnect.start();
  }

  /**
   * After a reload: circuits of routes not in `keep` (routeKey of each route the new config uses) get
   * GO_AWAY, their streams graceMs to finish, and are forgotten. Returns the routes closed, as short
   * pins. Never throws.
   */
  retain(keep: ReadonlySet<string>, graceMs: number): string[] {
    const closed: string[] = [];
    for (const [key, st] of this.routes) {
      if (keep.has(st.base?.key ?? key)) continue;
      if (st.isolation) this.isolated.delete(key);
      st.reconnect?.stop();
      this.routes.delete(key);
      const session = this.circuits.get(key);
      if (session === undefined) continue;
      this.circuits.delete(key);
      closed.push(st.names);
      void session.shutdown(graceMs);
    }
    return closed;
  }

  /** GO_AWAY on every circuit; streams get graceMs to finish, then are reset. Never rejects. */
  async close(graceMs: number): Promise<void> {
    this.closed = true;
    if (this.sweeper !== null) this.clock.clearTimeout(this.sweeper);
    this.sweeper = null;
    this.isolated.clear();
    for (const st of this.routes.values()) st.reconnect?.stop();
    const all = [...this.circuits.values()];
    this.circuits.clear();
    await Promise.all(all.map((s) => s.shutdown(graceMs)));
  }
}

/** A route's identity in the pool: the same relays shown different keys are different circuits. */
export function routeKey(route: readonly Hop[]): string {
  return route.map((h) => `${h.pin}@${formatTarget(h.target)}/${keyTag(h)}`).join(',');
}

function keyTag(h: Hop): string {
  if (h.clientKey === undefined) return 'own';
  return h.clientKey === 'ephemeral' ? 'ephemeral' : h.clientKey.pin;
}
