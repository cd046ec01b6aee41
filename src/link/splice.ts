// Joins an application's TCP socket to a stream (or an exit socket to a stream) so that bytes flow both
// ways with the semantics ett promises: half-close travels one direction at a time, and an abort on
// either side becomes an abort on the other. A stream that dies with an error (RST, broken link) resets
// the TCP socket: the application sees ECONNRESET, never a clean EOF that could pass for a whole reply.

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

  socket.pipe(stream);
  stream.pipe(socket);

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
