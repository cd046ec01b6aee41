// One accepted application connection, as the protocol servers (SOCKS, HTTP proxy) see it: the socket,
// the request-head deadline, a dial bound to the socket's lifetime, and a gentle refusal. The client's
// mixed port and the relay's HTTP mode both build these, so the protocol servers know no listener.

import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TunnelError, toTunnelError } from '../errors.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import type { Target } from '../wire/address.js';
import type { Dialer, StreamContext } from './dialer.js';

export interface FrontEndOptions {
  readonly dialer: Dialer;
  readonly limits: Limits;
  readonly log: Logger;
  /** If set, SOCKS5 clients must authenticate with one of these username/password pairs. */
  readonly socksUsers?: ReadonlyMap<string, string>;
  /**
   * If set, `GET /proxy.pac` (and `/wpad.dat`) on this port is answered with the PAC file this returns
   * for `proxy`, the port as the browser reached it (`127.0.0.1:1080`, `[::1]:1080`).
   */
  readonly pac?: (proxy: string) => string;
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
  /** The login the application gave (checked or not), for stream isolation; set before dial. */
  login?: { readonly username: string; readonly password: string };
  /**
   * Dials through opts.dialer with the open deadline (limits.openTimeoutMs); aborted when the
   * application's socket closes. Rejects with a TunnelError ('timeout' at the deadline).
   */
  dial(target: Target): Promise<Duplex>;
  /** Sends a final reply (a refusal), then closes the connection gently. Never throws. */
  replyAndClose(reply: Uint8Array | string): void;
}

/**
 * Wraps an accepted socket: arms the request-head deadline (the socket is destroyed when it passes)
 * and installs an error listener for the socket's whole life. Never throws.
 */
export function createPortConnection(socket: Socket, opts: FrontEndOptions, label: string): PortConnection {
  return new Connection(socket, opts, label);
}

// A class, not an object of closures: one lives as long as its application connection, so with many
// thousands open its size matters. The socket's listeners are shared module functions that find it
// through a symbol, and the head deadline's timer is dropped once the head is in.
const kConnection = Symbol('ett.connection');
type Owned = Socket & { [kConnection]?: Connection };

class Connection implements PortConnection {
  private readonly started = Date.now();
  private deadline: NodeJS.Timeout | null;
  login: { readonly username: string; readonly password: string } | undefined = undefined;

  constructor(
    readonly socket: Socket,
    readonly opts: FrontEndOptions,
    readonly label: string,
  ) {
    (socket as Owned)[kConnection] = this;
    // An error listener for the socket's whole life: a reset from the app is that connection's problem.
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    this.deadline = setTimeout(onHeadDeadline, opts.limits.requestHeadTimeoutMs, this);
  }

  headTimeLeft(): number {
    return Math.max(1, this.opts.limits.requestHeadTimeoutMs - (Date.now() - this.started));
  }

  headDone(): void {
    if (this.deadline) clearTimeout(this.deadline);
    this.deadline = null;
  }

  dial(target: Target): Promise<Duplex> {
    const context: StreamContext = {
      ...(this.login === undefined ? {} : { login: this.login }),
      ...sourceOf(this.socket),
    };
    return dialFor(this.socket, this.opts, target, context);
  }

  replyAndClose(reply: Uint8Array | string): void {
    replyAndClose(this.socket, reply);
  }
}

/** The application's IP for stream isolation (`source`), IPv4-mapped addresses as IPv4. */
export function sourceOf(socket: Socket): { source?: string } {
  const a = socket.remoteAddress;
  return a === undefined ? {} : { source: a.replace(/^::ffff:(?=\d+\.)/, '') };
}

function onSocketError(this: Owned, err: Error): void {
  const c = this[kConnection];
  c?.opts.log.debug(`${c.label}: ${err.message}`);
}

function onSocketClose(this: Owned): void {
  this[kConnection]?.headDone();
}

function onHeadDeadline(c: Connection): void {
  c.headDone();
  c.opts.log.debug(`${c.label}: request head deadline passed`);
  c.socket.destroy();
}

// The dial of one request: bounded by openTimeoutMs, aborted if the app goes away. If the dialer
// ignores the signal, the race still settles at the deadline and a late stream is destroyed.
async function dialFor(
  socket: Socket,
  opts: FrontEndOptions,
  target: Target,
  context: StreamContext,
): Promise<Duplex> {
  if (socket.destroyed) throw new TunnelError('reset', 'application closed the connection');
  const ac = new AbortController();
  const onClose = (): void => ac.abort(new TunnelError('reset', 'application closed the connection'));
  socket.once('close', onClose);
  const timer = setTimeout(
    () => ac.abort(new TunnelError('timeout', `no answer within ${opts.limits.openTimeoutMs} ms`)),
    opts.limits.openTimeoutMs,
  );
  try {
    const dialing = opts.dialer.dial(target, { signal: ac.signal, context });
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
