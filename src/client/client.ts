// The client: the mixed SOCKS5/SOCKS4a/HTTP port and the static forwards, every connection dialed by
// the routing rules (direct, a route, a group, or block). Hostnames that go through relays are never
// resolved here: the target travels to the exit exactly as the application gave it.

import { CircuitPool } from '../circuit/pool.js';
import { Census } from '../link/census.js';
import { formatTarget, type Target } from '../wire/address.js';
import { startForward, type ForwardHandle } from './forward.js';
import { startMixedPort } from './mixed-port.js';
import type { ClientOptions } from './options.js';
import { Router } from './router.js';
import { describeAction } from './rules.js';

export interface ClientHandle {
  /** The mixed port's address actually listened on. */
  readonly address: Target;
  /** Each forward's listen address, in the order given. */
  readonly forwards: readonly Target[];
  readonly router: Router;
  /** What the client holds now (links, circuits, streams, groups, refusals). */
  readonly census: Census;
  close(): Promise<void>;
}

/** Starts the mixed port and the forwards. Rejects if one cannot be bound; links are built on first use. */
export async function startClient(opts: ClientOptions): Promise<ClientHandle> {
  const census = opts.census ?? new Census('client');
  const pool = new CircuitPool({ identity: opts.identity, limits: opts.limits, log: opts.log, census });
  const router = new Router({ routing: opts.routing, pool, limits: opts.limits, log: opts.log, census });
  census.groups = () => router.groupViews();
  const port = await startMixedPort(opts.listen, {
    dialer: router,
    limits: opts.limits,
    log: opts.log,
    socksUsers: opts.socksUsers,
  });
  const forwards: ForwardHandle[] = [];
  try {
    for (const f of opts.forwards) forwards.push(await startForward(f, router, opts.log));
  } catch (err) {
    await Promise.all([port.close(), ...forwards.map((f) => f.close())]);
    throw err;
  }
  opts.log.info(`client listening on ${formatTarget(port.address)}`);
  census.listening.push({ kind: 'proxy', address: formatTarget(port.address) });
  opts.forwards.forEach((f, i) =>
    census.listening.push({
      kind: 'forward',
      address: formatTarget(forwards[i]!.address),
      to: formatTarget(f.to),
      via: describeAction(f.action),
    }),
  );
  return {
    address: port.address,
    forwards: forwards.map((f) => f.address),
    router,
    census,
    async close() {
      router.close();
      await Promise.all([port.close(), ...forwards.map((f) => f.close())]);
      await pool.close(opts.limits.shutdownGraceMs);
    },
  };
}
