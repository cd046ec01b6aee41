// Static port forwards (ssh -L): every connection to a local port goes to one fixed target, by the
// forward's own path (a route, a group, or direct). Half-close and resets cross as on the mixed port.

import * as net from 'node:net';
import { listenFailed, TunnelError, toTunnelError } from '../errors.js';
import type { Logger } from '../log.js';
import { resetSocket, splice } from '../link/splice.js';
import { formatTarget, type Target } from '../wire/address.js';
import type { Forward } from './options.js';
import type { Router } from './router.js';
import { sourceOf } from '../proxy/connection.js';
import type { StreamContext } from '../proxy/dialer.js';
import { describeAction, type Decision } from './rules.js';

export interface ForwardHandle {
  readonly address: Target;
  /** A reload gave this listen address another target or path: new connections take it. */
  update(forward: Forward): void;
  close(): Promise<void>;
}

/**
 * Dials target by action and splices socket to it; a failed dial resets socket (a TCP client has no
 * other way to learn it failed) with one info line starting with `label`. Bytes the app sends before
 * the tunnel is up wait in the socket (paused) until splice pipes them.
 */
export function carry(
  socket: net.Socket,
  router: Router,
  decision: Decision,
  target: Target,
  log: Logger,
  label: string,
  context?: StreamContext,
): void {
  socket.pause();
  const abort = new AbortController();
  socket.once('close', () => abort.abort());
  router.dialDecided(decision, target, abort.signal, context).then(
    (stream) => {
      if (socket.destroyed) stream.destroy();
      else splice(socket, stream);
    },
    (err: unknown) => {
      const e = toTunnelError(err);
      log.info(`${label}: ${e.code} (${e.message})`);
      resetSocket(socket);
    },
  );
}

/**
 * Listens on forward.listen. Rejects with TunnelError('config') if it cannot listen. A connection
 * whose dial fails is reset (a TCP client has no other way to learn it failed); the port goes on.
 */
export async function startForward(given: Forward, router: Router, log: Logger): Promise<ForwardHandle> {
  let forward = given;
  const open = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const { to, action } = forward;
    open.add(socket);
    socket.setNoDelay(true);
    socket.on('error', (err) => log.debug(`forward ${formatTarget(to)}: app: ${err.message}`));
    socket.once('close', () => open.delete(socket));
    const context = { forward: `${formatTarget(forward.listen)}→${formatTarget(to)}`, ...sourceOf(socket) };
    carry(socket, router, { rule: null, action }, to, log, `forward to ${formatTarget(to)}`, context);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: forward.listen.host, port: forward.listen.port, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: unknown) => {
    const failed = listenFailed(formatTarget(forward.listen), err, '--forward (or [[forwards]] listen)');
    throw new TunnelError('config', `forward: ${failed.message}`, { cause: err });
  });
  server.on('error', (err) => log.warn(`forward ${formatTarget(forward.listen)}: ${err.message}`));
  const bound = server.address() as net.AddressInfo;
  const address = { host: bound.address, port: bound.port };
  log.info(
    `forward ${formatTarget(address)} -> ${formatTarget(forward.to)} via ${describeAction(forward.action)}`,
  );
  return {
    address,
    update: (f) => {
      forward = f;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of open) s.destroy();
      }),
  };
}
