// The client: the mixed SOCKS5/SOCKS4a/HTTP port, dialing every target through the configured route.
// Hostnames are never resolved here: the target travels to the exit exactly as the application gave it.

import type { Duplex } from 'node:stream';
import { CircuitPool } from '../circuit/pool.js';
import { whenConnected } from '../link/stream.js';
import { formatTarget, type Target } from '../wire/address.js';
import type { Dialer } from '../proxy/dialer.js';
import { startMixedPort } from './mixed-port.js';
import type { ClientOptions } from './options.js';

export interface ClientHandle {
  /** The mixed port's address actually listened on. */
  readonly address: Target;
  readonly dialer: Dialer;
  close(): Promise<void>;
}

/** Starts the mixed port. Rejects if it cannot be bound; links are built on first use. */
export async function startClient(opts: ClientOptions): Promise<ClientHandle> {
  const pool = new CircuitPool({ identity: opts.identity, limits: opts.limits, log: opts.log });
  const dialer: Dialer = {
    async dial(target: Target, o?: { signal?: AbortSignal }): Promise<Duplex> {
      const session = await pool.get(opts.via);
      const stream = session.open(target);
      await whenConnected(stream, opts.limits.openTimeoutMs, o?.signal);
      return stream;
    },
  };
  const port = await startMixedPort(opts.listen, {
    dialer,
    limits: opts.limits,
    log: opts.log,
    socksUsers: opts.socksUsers,
  });
  opts.log.info(`client listening on ${formatTarget(port.address)}`);
  return {
    address: port.address,
    dialer,
    async close() {
      await port.close();
      await pool.close(opts.limits.shutdownGraceMs);
    },
  };
}
