// Joins an application's TCP socket to a stream (or an exit socket to a stream) so that bytes flow both
// ways with the semantics ett promises: half-close travels one direction at a time, and an abort on
// either side becomes an abort on the other. A stream that dies with an error (RST, broken link) resets
// the TCP socket: the application sees ECONNRESET, never a clean EOF that could pass for a whole reply.
// The other way too: a socket's end is passed on as a FIN only after checking it was not a RST (see
// endedByReset: Node can report a reset as a plain end).

import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { toTunnelError } from '../errors.js';

/**
 * Pipes socket <-> stream until both directions have ended or one side aborts. `onDone` is called once,
 * with the error that aborted the pair, or with nothing after a clean finish both ways.
 * The socket must have been created with allowHalfOpen: true.
 */
export function splice(socket: Socket, stream: Duplex, onDone?: (err?: Error) => void): void {
  let done = false;
  const finish = (err?: Error): void => {
    if (done) return;
    done = true;
    onDone?.(err);
  };
  const abortSocket = (err: Error): void => {
    resetSocket(socket);
    finish(err);
  };
  const abortStream = (err: Error): void => {
    stream.destroy(toTunnelError(err, 'reset'));
    finish(err);
  };

  // Either side may have died before the join: a stream whose link went down in the same chunk of
  // frames that carried its ACK has fired 'error' and 'close' already, and no listener attached below
  // would ever hear of it (seen in the fault runs: the app got its SOCKS success, then nothing, forever).
  if (stream.destroyed) return abortSocket(stream.errored ?? new Error('stream closed before it was joined'));
  if (socket.destroyed) return abortStream(socket.errored ?? new Error('socket closed before it was joined'));

  socket.pipe(stream, { end: false });
  stream.pipe(socket);

  // pipe() would pass an end on (even one already emitted); this does the same once it is known a FIN.
  const onSocketEnd = (): void => {
    if (!endedByReset(socket)) return void stream.end();
    socket.destroy();
    abortStream(Object.assign(new Error('connection reset (reported as an end)'), { code: 'ECONNRESET' }));
  };
  if (socket.readableEnded) process.nextTick(onSocketEnd);
  else socket.on('end', onSocketEnd);

  socket.on('error', abortStream);
  stream.on('error', abortSocket);
  socket.on('close', () => {
    if (!(socket.readableEnded && socket.writableFinished))
      abortStream(new Error('socket closed before both directions ended'));
    else if (stream.destroyed || (stream.readableEnded && stream.writableFinished)) finish();
  });
  stream.on('close', () => {
    if (!(stream.readableEnded && stream.writableFinished))
      abortSocket(new Error('stream closed before both directions ended'));
    else if (socket.destroyed || (socket.readableEnded && socket.writableFinished)) finish();
  });
}

/**
 * Whether a TCP socket whose read side just ended was in fact reset. libuv takes POLLHUP after a
 * partial read for end of stream, and a RST that arrives together with unread data raises exactly that
 * (libuv/libuv#2319, #4997): Node then emits 'end', not ECONNRESET, after the data that was there. So a
 * reply the destination cut off with a RST would travel on as a clean close: silently truncated. After
 * a RST the kernel's socket is closed and getpeername fails (ENOTCONN); after a FIN it is in CLOSE_WAIT
 * and still names its peer. Once we have sent our own FIN the two look alike (their FIN closes the socket
 * too), so then an end stays an end. Sockets without that handle method (not TCP) are taken at their word.
 */
export function endedByReset(socket: Socket): boolean {
  if (socket.writableEnded) return false;
  const handle = (socket as Socket & { _handle?: { getpeername?: (out: object) => number } })._handle;
  if (typeof handle?.getpeername !== 'function') return false;
  return handle.getpeername({}) < 0;
}

/**
 * Destroys a TCP socket with RST (net.Socket#resetAndDestroy) so the application sees ECONNRESET, where
 * that is possible; else destroys it plainly. Never throws.
 *
 * Not after end(): resetAndDestroy closes through uv_tcp_close_reset, which libuv refuses (EINVAL) while
 * the shutdown end() issued (our FIN) has not completed; Node then drops the handle without closing it,
 * so the socket never closes and the process can never exit (seen: a relay that would not stop after
 * 10 000 streams were torn down). Once we have ended our side the application has been told our
 * direction ended; a plain close is what is left. Not while connecting either (resetAndDestroy would
 * wait for a connect that may never come).
 */
export function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  const s = socket as Socket & { resetAndDestroy?: () => Socket; _handle?: unknown };
  if (typeof s.resetAndDestroy === 'function' && s._handle && !socket.writableEnded && !socket.connecting) {
    try {
      s.resetAndDestroy();
      return;
    } catch {
      // not a TCP handle (e.g. a TLS socket over a stream): a plain close below
    }
  }
  socket.destroy();
}
