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
 *
 * Hand-rolled rather than two pipe() calls: a splice lives as long as its connection, and with ten
 * thousand of them open the per-pair cost is the daemon's memory. pipe() costs about 1.5 KiB a
 * direction (nine closures, bound once-wrappers, their contexts); here the pair is one small object,
 * found from either end through a symbol, and the listeners are shared module functions.
 */
export function splice(socket: Socket, stream: Duplex, onDone?: (err?: Error) => void): void {
  const pair = new Pair(socket, stream, onDone);
  (socket as Joined)[kPair] = pair;
  (stream as Joined)[kPair] = pair;
  socket.on('data', onSocketData);
  socket.on('end', onSocketEnd);
  socket.on('drain', onSocketDrain);
  socket.on('error', onSocketError);
  socket.on('close', onSocketClose);
  stream.on('data', onStreamData);
  stream.on('end', onStreamEnd);
  stream.on('drain', onStreamDrain);
  stream.on('error', onStreamError);
  stream.on('close', onStreamClose);
  // Either side may have been paused (the SOCKS reader pauses the socket once the head is read);
  // bytes it already holds come out now, in order, and a FIN it already read follows them.
  socket.resume();
  stream.resume();
  // A side whose end was already emitted (an app that sent FIN while its request was being dialed)
  // emits no more 'end': pass it on now, as pipe() does.
  if (socket.readableEnded) process.nextTick(endStreamOf, socket);
  if (stream.readableEnded) process.nextTick(endSocketOf, stream);
}

function endStreamOf(socket: Socket): void {
  onSocketEnd.call(socket);
}
function endSocketOf(stream: Duplex): void {
  onStreamEnd.call(stream);
}

const kPair = Symbol('ett.splice');
type Joined = { [kPair]?: Pair };

class Pair {
  private done = false;
  constructor(
    readonly socket: Socket,
    readonly stream: Duplex,
    private readonly onDone: ((err?: Error) => void) | undefined,
  ) {}

  finish(err?: Error): void {
    if (this.done) return;
    this.done = true;
    this.onDone?.(err);
  }

  abortSocket(err: Error): void {
    resetSocket(this.socket);
    this.finish(err);
  }

  abortStream(err: Error): void {
    this.stream.destroy(toTunnelError(err, 'reset'));
    this.finish(err);
  }
}

const pairOf = (side: Duplex): Pair => (side as Joined)[kPair]!;

// Back-pressure: a side whose write is refused (over its high-water mark) pauses the other side's
// reading until it drains, so a pair holds at most one high-water mark of bytes each way. Bytes for a
// side that can no longer take them (destroyed, or ended) are dropped: that side's abort is on its way.
function onSocketData(this: Socket, chunk: Buffer): void {
  const { stream } = pairOf(this);
  if (stream.writable && !stream.write(chunk)) this.pause();
}
function onStreamData(this: Duplex, chunk: Buffer): void {
  const { socket } = pairOf(this);
  if (socket.writable && !socket.write(chunk)) this.pause();
}
function onSocketDrain(this: Socket): void {
  pairOf(this).stream.resume();
}
function onStreamDrain(this: Duplex): void {
  pairOf(this).socket.resume();
}
// Half-close travels: the end of one side's reading ends the other side's writing.
function onSocketEnd(this: Socket): void {
  const { stream } = pairOf(this);
  if (stream.writable) stream.end();
}
function onStreamEnd(this: Duplex): void {
  const { socket } = pairOf(this);
  if (socket.writable) socket.end();
}
function onSocketError(this: Socket, err: Error): void {
  pairOf(this).abortStream(err);
}
function onStreamError(this: Duplex, err: Error): void {
  pairOf(this).abortSocket(err);
}
function onSocketClose(this: Socket): void {
  const pair = pairOf(this);
  const { stream } = pair;
  if (!(this.readableEnded && this.writableFinished))
    pair.abortStream(new Error('socket closed before both directions ended'));
  else if (stream.destroyed || (stream.readableEnded && stream.writableFinished)) pair.finish();
}
function onStreamClose(this: Duplex): void {
  const pair = pairOf(this);
  const { socket } = pair;
  if (!(this.readableEnded && this.writableFinished))
    pair.abortSocket(new Error('stream closed before both directions ended'));
  else if (socket.destroyed || (socket.readableEnded && socket.writableFinished)) pair.finish();
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
