// The client's one local port for applications. It reads the first byte of each connection and hands
// the socket to the protocol that byte announces: 0x05 SOCKS5, 0x04 SOCKS4/4a, anything else HTTP.
// Everything a handler needs from the port (the dialer, the head deadline, a dial bound to the
// socket's lifetime) travels in a PortConnection, so the handlers know nothing of the listener.

import net from 'node:net';
import type { Socket } from 'node:net';
import { listenFailed, outOfDescriptors } from '../errors.js';
import { descriptorShortage } from '../log.js';
import { formatTarget, type Target } from '../wire/address.js';
import { createPortConnection, type FrontEndOptions, type PortConnection } from '../proxy/connection.js';
import { createHttpProxy } from '../proxy/http-proxy.js';
import { serveSocks4, serveSocks5 } from '../proxy/socks-server.js';

export type { FrontEndOptions } from '../proxy/connection.js';

export interface MixedPort {
  /** The address actually listened on (port resolved when 0 was asked). */
  readonly address: Target;
  /** Stops listening and destroys every open application connection. Never rejects. */
  close(): Promise<void>;
}

const SOCKS5_FIRST_BYTE = 0x05;
const SOCKS4_FIRST_BYTE = 0x04;

/**
 * Listens on `listen` and serves SOCKS5, SOCKS4/4a and HTTP proxy requests on it. Resolves once
 * listening. Rejects with the listen error (e.g. EADDRINUSE) as a TunnelError('config'). A faulty
 * application connection is closed and logged; it never stops the port.
 */
export async function startMixedPort(listen: Target, opts: FrontEndOptions): Promise<MixedPort> {
  const open = new Set<Socket>();
  const http = createHttpProxy(opts);
  // One listener function for every socket (not a once-wrapper and a closure each): with thousands of
  // connections open, per-connection objects are the port's memory.
  const forget = function (this: Socket): void {
    open.delete(this);
  };
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    open.add(socket);
    socket.on('close', forget);
    accept(socket, opts, http.serve);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // backlog: the kernel's queue of not-yet-accepted connections; browsers open them in bursts.
    server.listen({ host: listen.host, port: listen.port, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: unknown) => {
    throw listenFailed(formatTarget(listen), err, '--listen');
  });
  // Errors after listening (EMFILE on accept) must not crash the daemon: log and keep serving. Running
  // out of file descriptors comes as a flood, reported once a second with a count.
  const descriptors = descriptorShortage(opts.log, 'mixed port');
  server.on('error', (err) => {
    const errno = outOfDescriptors(err);
    if (errno) descriptors.add(`${errno} on accept`);
    else opts.log.warn(`mixed port: ${err.message}`);
  });
  const bound = server.address() as net.AddressInfo;
  return {
    address: { host: bound.address, port: bound.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of open) s.destroy();
        open.clear();
      }),
  };
}

// Reads the first byte and dispatches. The socket is in paused mode here ('readable' + read()), so
// nothing is lost: SOCKS handlers get the bytes as a Buffer, HTTP gets them pushed back (unshift).
function accept(socket: Socket, opts: FrontEndOptions, serveHttp: (conn: PortConnection) => void): void {
  socket.setNoDelay(true);
  const label = `${socket.remoteAddress}:${socket.remotePort}`;
  const conn = createPortConnection(socket, opts, label);
  socket.once('readable', () => {
    const first = socket.read() as Buffer | null;
    if (first === null || first.length === 0) {
      socket.destroy(); // EOF before a single byte
      return;
    }
    try {
      if (first[0] === SOCKS5_FIRST_BYTE) serveSocks5(conn, first);
      else if (first[0] === SOCKS4_FIRST_BYTE) serveSocks4(conn, first);
      else {
        socket.unshift(first);
        serveHttp(conn);
      }
    } catch (err) {
      // A handler bug must cost one connection, not the daemon.
      opts.log.error(`${label}: ${(err as Error).message}`);
      socket.destroy();
    }
  });
}
