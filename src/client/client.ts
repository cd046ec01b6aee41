// The client: the mixed SOCKS5/SOCKS4a/HTTP port and the static forwards, every connection dialed by
// the routing rules (direct, a route, a group, or block). Hostnames that go through relays are never
// resolved here: the target travels to the exit exactly as the application gave it.

import { CircuitPool } from '../circuit/pool.js';
import { Census } from '../link/census.js';
import { formatTarget, type Target } from '../wire/address.js';
import { startForward, type ForwardHandle } from './forward.js';
import { startMixedPort } from './mixed-port.js';
import { ClientPublisher } from './publish.js';
import type { ClientOptions, Forward } from './options.js';
import { pacScript } from './pac.js';
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
  /**
   * A reload: new forwards are bound first (if one cannot be, nothing changes and this rejects with
   * TunnelError('config')); then rules, routes, groups, SOCKS users and forwards are swapped for new
   * connections, removed forwards stop, and circuits no route uses any more get GO_AWAY. Streams that
   * are running stay. Resolves with the forwards' bound addresses, in the order given.
   */
  reconfigure(next: Reconfigurable): Promise<readonly Target[]>;
  close(): Promise<void>;
}

/** What a reload may change in a running client (limits change in place: see config/changes.ts). */
export type Reconfigurable = Pick<ClientOptions, 'routing' | 'forwards' | 'publish' | 'socksUsers'>;

/** Starts the mixed port and the forwards. Rejects if one cannot be bound; links are built on first use. */
export async function startClient(opts: ClientOptions): Promise<ClientHandle> {
  const census = opts.census ?? new Census('client');
  // INCOMING streams (published ports, §20) reach the publisher, built just below (before any link).
  const pool = new CircuitPool({
    identity: opts.identity,
    limits: opts.limits,
    log: opts.log,
    census,
    onIncoming: (session, stream, open) => publisher.incoming(session, stream, open),
  });
  const publisher = new ClientPublisher({ pool, limits: opts.limits, log: opts.log, census });
  const router = new Router({ routing: opts.routing, pool, limits: opts.limits, log: opts.log, census });
  census.groups = () => router.groupViews();
  let socksUsers = opts.socksUsers;
  let routing = opts.routing;
  const port = await startMixedPort(opts.listen, {
    dialer: router,
    limits: opts.limits,
    log: opts.log,
    // Read by the SOCKS and HTTP servers for each new connection, so a reload's users apply at once.
    get socksUsers() {
      return socksUsers;
    },
    // GET /proxy.pac: the rules in force now, for browsers (see pac.ts).
    ...(opts.pac === false ? {} : { pac: (proxy: string) => pacScript(routing, proxy) }),
  });
  // Each forward by its configured listen address (as written: a reload matches forwards by it).
  let forwards = new Map<string, { spec: Forward; handle: ForwardHandle }>();
  try {
    for (const f of opts.forwards)
      forwards.set(formatTarget(f.listen), { spec: f, handle: await startForward(f, router, opts.log) });
  } catch (err) {
    await Promise.all([port.close(), ...[...forwards.values()].map((f) => f.handle.close())]);
    throw err;
  }
  opts.log.info(`client listening on ${formatTarget(port.address)}`);
  const listeners = (): void => {
    const published = census.listening.filter((l) => l.kind === 'published'); // the publisher's own
    census.listening.length = 0;
    census.listening.push({ kind: 'proxy', address: formatTarget(port.address) });
    census.listening.push(...published);
    for (const { spec, handle } of forwards.values()) {
      census.listening.push({
        kind: 'forward',
        address: formatTarget(handle.address),
        to: formatTarget(spec.to),
        via: describeAction(spec.action),
      });
    }
  };
  listeners();
  publisher.start(opts.publish ?? []);
  return {
    address: port.address,
    forwards: [...forwards.values()].map((f) => f.handle.address),
    router,
    census,
    async reconfigure(next) {
      const added: { key: string; spec: Forward; handle: ForwardHandle }[] = [];
      try {
        for (const f of next.forwards) {
          const key = formatTarget(f.listen);
          if (!forwards.has(key))
            added.push({ key, spec: f, handle: await startForward(f, router, opts.log) });
        }
      } catch (err) {
        await Promise.all(added.map((a) => a.handle.close()));
        throw err;
      }
      // Nothing below can fail: the new configuration applies as a whole.
      publisher.update(next.publish ?? []);
      const keep = router.setRouting(next.routing, [
        ...next.forwards.map((f) => f.action),
        ...publisher.routes().map((route) => ({ kind: 'route' as const, route })),
      ]);
      socksUsers = next.socksUsers;
      routing = next.routing;
      const now = new Map<string, { spec: Forward; handle: ForwardHandle }>();
      for (const f of next.forwards) {
        const key = formatTarget(f.listen);
        const running = forwards.get(key);
        if (running !== undefined) {
          running.handle.update(f);
          now.set(key, { spec: f, handle: running.handle });
        } else
          now.set(
            key,
            added.find((a) => a.key === key)!,
          );
      }
      const removed = [...forwards].filter(([key]) => !now.has(key)).map(([, f]) => f.handle);
      forwards = now;
      listeners();
      await Promise.all(removed.map((h) => h.close()));
      pool.retain(keep, opts.limits.shutdownGraceMs);
      return [...forwards.values()].map((f) => f.handle.address);
    },
    async close() {
      router.close();
      publisher.close();
      await Promise.all([port.close(), ...[...forwards.values()].map((f) => f.handle.close())]);
      await pool.close(opts.limits.shutdownGraceMs);
    },
  };
}
