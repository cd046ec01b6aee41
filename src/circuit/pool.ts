// Circuits pooled per route: many streams share one circuit; a circuit that goes down is dropped and
// the next stream builds a new one. Concurrent requests for a route wait on the same build; one
// caller giving up (its signal) does not cancel the build for the others.
//
// Failures are remembered with an exponential backoff (1 s doubling to 30 s, with jitter) so a group
// can put a route that just failed behind its other members. A request for a single route always
// tries to build (the user's request is the retry), so a relay that comes back serves at once.

import { TunnelError } from '../errors.js';
import type { Session } from '../link/session.js';
import { formatTarget } from '../wire/address.js';
import { shortPin } from '../wire/share-string.js';
import { buildCircuit, type CircuitOptions, type Hop } from './circuit.js';

const BACKOFF_FIRST_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;

interface Failure {
  count: number;
  retryAt: number;
}

export class CircuitPool {
  private readonly circuits = new Map<string, Session>();
  private readonly building = new Map<string, Promise<Session>>();
  private readonly failures = new Map<string, Failure>();
  private closed = false;

  constructor(private readonly opts: Omit<CircuitOptions, 'signal'>) {}

  /** A usable circuit for route, built if needed. Rejects with the build's TunnelError, or 'timeout' on abort. */
  get(route: readonly Hop[], signal?: AbortSignal): Promise<Session> {
    if (this.closed) return Promise.reject(new TunnelError('link-down', 'client is shutting down'));
    const key = routeKey(route);
    const current = this.circuits.get(key);
    if (current?.usable) return Promise.resolve(current);
    let build = this.building.get(key);
    if (!build) {
      build = this.build(key, route);
      this.building.set(key, build);
    }
    return signal ? raceAbort(build, signal) : build;
  }

  /** True while a route's last build failed and its backoff has not run out. */
  recentlyFailed(route: readonly Hop[]): boolean {
    const f = this.failures.get(routeKey(route));
    return f !== undefined && Date.now() < f.retryAt;
  }

  private build(key: string, route: readonly Hop[]): Promise<Session> {
    const names = route.map((h) => shortPin(h.pin)).join(' > ');
    return buildCircuit(route, this.opts).then(
      (session) => {
        this.building.delete(key);
        this.failures.delete(key);
        if (this.closed) {
          session.destroy();
          throw new TunnelError('link-down', 'client is shutting down');
        }
        this.circuits.set(key, session);
        this.opts.log.info(`link up: ${names}`);
        session.once('close', (err?: Error) => {
          if (this.circuits.get(key) === session) this.circuits.delete(key);
          this.opts.log.info(`link down: ${names}${err ? ` (${err.message})` : ''}`);
        });
        return session;
      },
      (err: unknown) => {
        this.building.delete(key);
        const count = (this.failures.get(key)?.count ?? 0) + 1;
        const backoff = Math.min(BACKOFF_FIRST_MS * 2 ** (count - 1), BACKOFF_MAX_MS);
        this.failures.set(key, { count, retryAt: Date.now() + backoff * (0.75 + Math.random() / 2) });
        this.opts.log.warn(`link to ${names} failed: ${err instanceof Error ? err.message : String(err)}`);
        throw err;
      },
    );
  }

  /** GO_AWAY on every circuit; streams get graceMs to finish, then are reset. Never rejects. */
  async close(graceMs: number): Promise<void> {
    this.closed = true;
    const all = [...this.circuits.values()];
    this.circuits.clear();
    await Promise.all(all.map((s) => s.shutdown(graceMs)));
  }
}

// The same relays shown different keys are different circuits.
function routeKey(route: readonly Hop[]): string {
  return route.map((h) => `${h.pin}@${formatTarget(h.target)}/${keyTag(h)}`).join(',');
}

function keyTag(h: Hop): string {
  if (h.clientKey === undefined) return 'own';
  return h.clientKey === 'ephemeral' ? 'ephemeral' : h.clientKey.pin;
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(new TunnelError('timeout', 'gave up waiting for the circuit'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
