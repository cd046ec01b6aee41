// Joins an application's TCP socket to a stream (or an exit socket to a stream) so that bytes flow both
// ways with the semantics ett promises: half-close travels one direction at a time, and an abort on
// either side becomes an abort on the other. A stream that dies with an error (RST, broken link) resets
// the TCP socket: the application sees ECONNRESET, never a clean EOF that could pass for a whole reply.
// The other way too: a socket's end is passed on as a FIN only after checking it was not a RST (see
// endedByReset: Node can report a reset as a plain end).

import { readSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { toTunnelError } from '../errors.js';
import type { ReadGate } from './gate.js';

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
  // Either side may have died before the join: a stream whose link went down in the same chunk of
  // frames that carried its ACK has fired 'error' and 'close' already, and no listener attached below
  // would ever hear of it (seen in the fault runs: the app got its SOCKS success, then nothing, forever).
  if (stream.destroyed)
    return pair.abortSocket(stream.errored ?? new Error('stream closed before it was joined'));
  if (socket.destroyed)
    return pair.abortStream(socket.errored ?? new Error('socket closed before it was joined'));
  (socket as Joined)[kPair] = pair;
  (stream as Joined)[kPair] = pair;
  // A stream of a link: the socket reads only while that link can take more (see gate.ts).
  pair.gate = (stream as { readGate?: ReadGate }).readGate;
  pair.gate?.add(socket);
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

/**
 * Bytes a batch may gather on a corked socket before it is sent (see onStreamData): one TLS read's
 * worth of pieces. With the socket's own 16 KiB mark this bounds what a pair holds for an application
 * that stops reading: at most SOCKET_BATCH plus one piece.
 */
export const SOCKET_BATCH = 64 * 1024;
/**
 * Writes a pair makes to a socket that is behind before it pauses the stream until the last of them
 * has left. The socket's own mark counts bytes, so without this a stream of one-byte chunks could pile
 * up 16 384 of them (each an object of its own) on a socket whose reader has stopped.
 */
export const CHUNKS_BEHIND_MAX = 64;
/**
 * A chunk this large means a bulk transfer, worth batching. Half a TLS record: a piece that also held
 * a frame header, or the end of a frame, carries a little less than a full record's 16 KiB.
 */
const BULK_PIECE = 8 * 1024;

class Pair {
  private done = false;
  /** The socket is corked until the end of this loop turn (see onStreamData). */
  corked = false;
  /** Writes made since the socket last had nothing waiting (see CHUNKS_BEHIND_MAX). */
  behind = 0;
  /** The read gate of the stream's link, if it has one. */
  gate: ReadGate | undefined = undefined;
  constructor(
    readonly socket: Socket,
    readonly stream: Duplex,
    private readonly onDone: ((err?: Error) => void) | undefined,
  ) {}

  finish(err?: Error): void {
    if (this.done) return;
    this.done = true;
    this.gate?.delete(this.socket);
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
// A stream delivers what TLS decrypted: 16 KiB pieces, each in its own callback (so process.nextTick
// cannot batch them). Written one by one they cost a system call and a loopback packet each; instead a
// large piece that finds the socket keeping up (nothing waiting on it) corks it until the loop turn's
// I/O is done (setImmediate), and what arrives in that turn leaves in one writev. A corked socket
// passes its 16 KiB mark with the first piece, so a batch is sent once it reaches SOCKET_BATCH.
// A small write (an interactive reply), or any write to a socket that is behind, goes out as before;
// past CHUNKS_BEHIND_MAX writes to a socket that is behind, the stream waits for them to leave.
function onStreamData(this: Duplex, chunk: Buffer): void {
  const pair = pairOf(this);
  const { socket } = pair;
  if (!socket.writable) return;
  if (pair.corked) {
    socket.write(chunk);
    // A full batch leaves now. If the kernel took it all the next piece starts another; if not, the
    // socket is behind and its own 16 KiB mark applies (the next write pauses the stream).
    if (socket.writableLength >= SOCKET_BATCH) uncorkPair(pair);
  } else if (chunk.length >= BULK_PIECE && socket.writableLength === 0) {
    pair.corked = true;
    socket.cork();
    setImmediate(uncorkPair, pair);
    socket.write(chunk);
  } else {
    pair.behind = socket.writableLength > 0 ? pair.behind + 1 : 0;
    if (pair.behind >= CHUNKS_BEHIND_MAX) {
      pair.behind = 0;
      this.pause();
      socket.write(chunk, () => pair.stream.resume());
    } else if (!socket.write(chunk)) this.pause();
  }
}
function uncorkPair(pair: Pair): void {
  if (!pair.corked) return;
  pair.corked = false;
  pair.socket.uncork();
}
function onSocketDrain(this: Socket): void {
  pairOf(this).stream.resume();
}
function onStreamDrain(this: Duplex): void {
  pairOf(this).socket.resume();
}
// Half-close travels: the end of one side's reading ends the other side's writing; a socket's end only
// once it is known to be a FIN (endedByReset).
function onSocketEnd(this: Socket): void {
  const pair = pairOf(this);
  if (endedByReset(this)) {
    this.destroy();
    pair.abortStream(
      Object.assign(new Error('connection reset (reported as an end)'), { code: 'ECONNRESET' }),
    );
  } else if (pair.stream.writable) pair.stream.end();
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
  pair.gate?.delete(this);
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

/** Most bytes keepReplyOnWriteError reads from a socket whose peer has gone (see there). */
export const REPLY_SALVAGE_MAX = 256 * 1024;

/**
 * Makes a TCP socket to a destination keep what the destination said before it went away. A server
 * may answer early and close while we still send it a request body (HTTP 413 after the headers of a
 * large upload, 501 for a method it does not take): its answer is in our kernel's receive buffer, its
 * close (a RST, since our body arrived unread) makes our next write fail, and Node then destroys the
 * socket at once, before libuv has read that answer, so the application got an error in its place.
 * Here a destroy caused by a failed write first reads what the kernel holds (non-blocking, at most
 * REPLY_SALVAGE_MAX bytes) and emits it as 'data', as a read would have, then destroys as before: the
 * error (and the reset it becomes) still follows, so nothing is passed on as a clean end. Only when
 * nothing is waiting in the socket's own buffer (else the salvaged bytes would overtake it) and only
 * for sockets with a file descriptor. Never throws.
 */
export function keepReplyOnWriteError(socket: Socket): void {
  const destroy = socket.destroy;
  socket.destroy = function (this: Socket, err?: Error): Socket {
    if (err !== undefined && /^write/.test((err as NodeJS.ErrnoException).syscall ?? '')) {
      const fd = (this as Socket & { _handle?: { fd?: number } })._handle?.fd;
      if (typeof fd === 'number' && fd >= 0 && !this.readableEnded && this.readableLength === 0) {
        const left = readWaiting(fd);
        if (left.length > 0) this.emit('data', left);
      }
    }
    return destroy.call(this, err);
  };
}

/** What a non-blocking fd has waiting, up to REPLY_SALVAGE_MAX: read until EAGAIN, end, or an error. */
function readWaiting(fd: number): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  while (total < REPLY_SALVAGE_MAX) {
    const buf = Buffer.allocUnsafe(Math.min(64 * 1024, REPLY_SALVAGE_MAX - total));
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch {
      break; // EAGAIN: nothing more now; ECONNRESET: the rest was never ours to read
    }
    if (n === 0) break;
    chunks.push(buf.subarray(0, n));
    total += n;
  }
  return Buffer.concat(chunks, total);
}
