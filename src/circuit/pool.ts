// Circuits pooled per route: many streams share one circuit; a circuit that goes down is dropped and
// the next stream builds a new one. Concurrent requests for a route wait on the same build.

import { TunnelError } from '../errors.js';
import type { Session } from '../link/session.js';
import { formatTarget } from '../wire/address.js';
import { shortPin, type ShareString } from '../wire/share-string.js';
import { buildCircuit, type CircuitOptions } from './circuit.js';

export class CircuitPool {
  private readonly circuits = new Map<string, Session>();
  private readonly building = new Map<string, Promise<Session>>();
  private closed = false;

  constructor(private readonly opts: Omit<CircuitOptions, 'signal'>) {}

  /** A usable circuit for route, built if needed. Rejects with the build's TunnelError. */
  async get(route: readonly ShareString[]): Promise<Session> {
    if (this.closed) throw new TunnelError('link-down', 'client is shutting down');
    const key = route.map((h) => `${h.pin}@${formatTarget(h.target)}`).join(',');
    const current = this.circuits.get(key);
    if (current?.usable) return current;
    const pending = this.building.get(key);
    if (pending) return pending;
    const names = route.map((h) => shortPin(h.pin)).join(' > ');
    const build = buildCircuit(route, this.opts).then(
      (session) => {
        this.building.delete(key);
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
        this.opts.log.warn(`link to ${names} failed: ${err instanceof Error ? err.message : String(err)}`);
        throw err;
      },
    );
    this.building.set(key, build);
    return build;
  }

  /** GO_AWAY on every circuit; streams get graceMs to finish, then are reset. Never rejects. */
  async close(graceMs: number): Promise<void> {
    this.closed = true;
    const all = [...this.circuits.values()];
    this.circuits.clear();
    await Promise.all(all.map((s) => s.shutdown(graceMs)));
  }
}
