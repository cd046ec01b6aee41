// The client's one local port for applications. It reads the first byte of each connection and hands
// the socket to the protocol that byte announces: 0x05 SOCKS5, 0x04 SOCKS4/4a, anything else HTTP.
// Everything a handler needs from the port (the dialer, the head deadline, a dial bound to the
// socket's lifetime) travels in a PortConnection, so the handlers know nothing of the listener.

import net from 'node:net';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TunnelError, toTunnelError } from '../errors.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import type { Target } from '../wire/address.js';
import type { Dialer } from './dialer.js';
import { createHttpProxy } from './http-proxy.js';
import { serveSocks4, serveSocks5 } from './socks-server.js';

export interface FrontEndOptions {
  readonly dialer: Dialer;
  readonly limits: Limits;
  readonly log: Logger;
  /** If set, SOCKS5 clients must authenticate with one of these username/password pairs. */
  readonly socksUsers?: ReadonlyMap<string, string>;
}

/** One accepted application connection, as the protocol handlers see it. */
export interface PortConnection {
  readonly socket: Socket;
  readonly opts: FrontEndOptions;
  /** Short label for logs: the application's address and port. */
  readonly label: string;
  /** Milliseconds left before the request head deadline (never below 1). */
  headTimeLeft(): number;
  /** The head is complete: the port's deadline no longer applies (the handler may keep its own). */
  headDone(): void;
  /**
   * Dials through opts.dialer with the open deadline (limits.openTimeoutMs); aborted when the
   * application's socket closes. Rejects with a TunnelError ('timeout' at the deadline).
   */
  dial(target: Target): Promise<Duplex>;
  /** Sends a final reply (a refusal), then closes the connection gently. Never throws. */
  replyAndClose(reply: Uint8Array | string): void;
}

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
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
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
    throw new TunnelError('config', `cannot listen on ${listen.host}:${listen.port}`, { cause: err });
  });
  // Errors after listening (EMFILE on accept) must not crash the daemon: log and keep serving.
  server.on('error', (err) => opts.log.warn(`mixed port: ${err.message}`));
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
  // An error listener for the socket's whole life: a reset from the app is that connection's problem.
  socket.on('error', (err) => opts.log.debug(`${label}: ${err.message}`));
  const started = Date.now();
  const deadline = setTimeout(() => {
    opts.log.debug(`${label}: request head deadline passed`);
    socket.destroy();
  }, opts.limits.requestHeadTimeoutMs);
  socket.once('close', () => clearTimeout(deadline));
  const conn: PortConnection = {
    socket,
    opts,
    label,
    headTimeLeft: () => Math.max(1, opts.limits.requestHeadTimeoutMs - (Date.now() - started)),
    headDone: () => clearTimeout(deadline),
    dial: (target) => dialFor(socket, opts, target),
    replyAndClose: (reply) => replyAndClose(socket, reply),
  };
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

// The dial of one request: bounded by openTimeoutMs, aborted if the app goes away. If the dialer
// ignores the signal, the race still settles at the deadline and a late stream is destroyed.
async function dialFor(socket: Socket, opts: FrontEndOptions, target: Target): Promise<Duplex> {
  if (socket.destroyed) throw new TunnelError('reset', 'application closed the connection');
  const ac = new AbortController();
  const onClose = (): void => ac.abort(new TunnelError('reset', 'application closed the connection'));
  socket.once('close', onClose);
  const timer = setTimeout(
    () => ac.abort(new TunnelError('timeout', `no answer within ${opts.limits.openTimeoutMs} ms`)),
    opts.limits.openTimeoutMs,
  );
  try {
    const dialing = opts.dialer.dial(target, { signal: ac.signal });
    const aborted = new Promise<never>((_, reject) => {
      ac.signal.addEventListener('abort', () => reject(ac.signal.reason), { once: true });
    });
    dialing.then(
      (stream) => {
        if (ac.signal.aborted) stream.destroy();
      },
      () => undefined, // handled by the race below
    );
    return await Promise.race([dialing, aborted]);
  } catch (err) {
    throw toTunnelError(ac.signal.aborted ? ac.signal.reason : err);
  } finally {
    clearTimeout(timer);
    socket.off('close', onClose);
  }
}

// FIN after the reply, incoming bytes discarded so the app's close is seen, and the socket destroyed
// once the app closes too or after a short grace: destroying at once could turn unread input into an
// RST that makes the app drop the reply before reading it.
function replyAndClose(socket: Socket, reply: Uint8Array | string): void {
  if (socket.destroyed) return;
  socket.resume(); // discard whatever the app still sends, so its close is seen
  socket.end(reply);
  const grace = setTimeout(() => socket.destroy(), 2000);
  grace.unref();
  if (socket.readableEnded)
    socket.once('finish', () => socket.destroy()); // the app already sent FIN
  else socket.once('end', () => socket.destroy());
  socket.once('close', () => clearTimeout(grace));
}
