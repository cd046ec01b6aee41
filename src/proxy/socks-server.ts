// The SOCKS5 (RFC 1928, with RFC 1929 username/password) and SOCKS4/4a server side of the mixed port:
// the I/O around the pure codecs of wire/. Steps, in the order bytes arrive:
//   SOCKS5: method selection → [username/password] → request → dial → reply → splice
//           (UDP ASSOCIATE: → a UDP relay socket of its own, socks-udp.ts)
//   SOCKS4: request → dial → reply → splice
// Bytes the application pipelines after its request (optimistic data) are kept and go first into the
// stream. Every refusal is answered where the protocol has a way to say it, then the socket closes.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  ERROR_TABLE,
  SOCKS4_GRANTED,
  SOCKS5_SUCCEEDED,
  TunnelError,
  toTunnelError,
  type ErrorCode,
} from '../errors.js';
import { resetSocket, splice } from '../link/splice.js';
import { formatTarget, type Target } from '../wire/address.js';
import type { Decoded } from '../wire/decoded.js';
import {
  CMD_CONNECT,
  CMD_UDP_ASSOCIATE,
  METHOD_NO_AUTH,
  METHOD_NONE_ACCEPTABLE,
  METHOD_USERPASS,
  decodeMethodSelection,
  decodeRequest,
  decodeUserPassRequest,
  encodeMethodReply,
  encodeReply,
  encodeUserPassReply,
} from '../wire/socks5.js';
import { SOCKS4_CMD_CONNECT, decodeSocks4Request, encodeSocks4Reply } from '../wire/socks4.js';
import type { FrontEndOptions, PortConnection } from './connection.js';
import { serveUdpAssociate } from './socks-udp.js';
import { PerSecond, type Logger } from '../log.js';

/**
 * Serves one SOCKS5 connection whose first bytes (`first`, starting with 0x05) were already read.
 * Never throws: every failure is answered (if the protocol allows) and closes this connection only.
 */
export function serveSocks5(conn: PortConnection, first: Buffer): void {
  socks5(conn, new HeadReader(conn.socket, first, conn.opts.limits.requestHeadMax)).catch((err: unknown) =>
    abandon(conn, err),
  );
}

/**
 * Serves one SOCKS4/4a connection whose first bytes (`first`, starting with 0x04) were already read.
 * Never throws: every failure is answered with 0x5B and closes this connection only.
 */
export function serveSocks4(conn: PortConnection, first: Buffer): void {
  socks4(conn, new HeadReader(conn.socket, first, conn.opts.limits.requestHeadMax)).catch((err: unknown) =>
    abandon(conn, err),
  );
}

async function socks5(conn: PortConnection, reader: HeadReader): Promise<void> {
  const { socket, opts } = conn;
  const refuse = (reply: Uint8Array): void => {
    reader.release();
    conn.replyAndClose(reply);
  };
  let greeting;
  try {
    greeting = await reader.next(decodeMethodSelection);
  } catch (err) {
    if (!isAnswerable(err, reader)) throw err;
    refuse(encodeMethodReply(METHOD_NONE_ACCEPTABLE)); // e.g. NMETHODS = 0
    return;
  }
  const method = chooseMethod(greeting.methods, opts.socksUsers !== undefined);
  if (method === METHOD_NONE_ACCEPTABLE) {
    loginRefused(opts, conn.label, opts.socksUsers ? 'socks5: no login offered' : 'socks5: no usable method');
    refuse(encodeMethodReply(METHOD_NONE_ACCEPTABLE));
    return;
  }
  socket.write(encodeMethodReply(method));

  if (method === METHOD_USERPASS) {
    let ok: boolean;
    try {
      const creds = await reader.next(decodeUserPassRequest);
      // Without configured users any credentials pass: apps send them to ask for stream isolation.
      ok = opts.socksUsers === undefined || credentialsMatch(opts.socksUsers, creds.username, creds.password);
      if (ok) conn.login = { username: creds.username, password: creds.password };
    } catch (err) {
      if (!isAnswerable(err, reader)) throw err;
      ok = false; // a malformed sub-negotiation is answered like a wrong password
    }
    if (!ok) {
      // Uniform and silent to the app; the log says only that it happened (never who or with what).
      loginRefused(opts, conn.label, 'socks5: wrong username or password');
      refuse(encodeUserPassReply(false));
      return;
    }
    socket.write(encodeUserPassReply(true));
  }

  let request;
  try {
    request = await reader.next(decodeRequest);
  } catch (err) {
    if (!isAnswerable(err, reader)) throw err;
    opts.log.debug(`${conn.label}: socks5: ${err.message}`);
    refuse(encodeReply(ERROR_TABLE[err.code].socks5));
    return;
  }
  conn.headDone();
  if (request.command === CMD_UDP_ASSOCIATE) {
    reader.release();
    serveUdpAssociate(conn, request.target);
    return;
  }
  if (request.command !== CMD_CONNECT) {
    opts.log.debug(`${conn.label}: socks5: command 0x${request.command.toString(16)} not supported`);
    refuse(encodeReply(ERROR_TABLE['command-unsupported'].socks5));
    return;
  }
  await connectAndJoin(conn, reader, request.target, 'socks5', (code) =>
    encodeReply(code === null ? SOCKS5_SUCCEEDED : ERROR_TABLE[code].socks5),
  );
}

async function socks4(conn: PortConnection, reader: HeadReader): Promise<void> {
  const { opts } = conn;
  const refuse = (reply: Uint8Array): void => {
    reader.release();
    conn.replyAndClose(reply);
  };
  const max = opts.limits.requestHeadMax;
  let request;
  try {
    request = await reader.next((buf) => decodeSocks4Request(buf, max));
  } catch (err) {
    if (!isAnswerable(err, reader)) throw err;
    opts.log.debug(`${conn.label}: socks4: ${err.message}`);
    refuse(encodeSocks4Reply(ERROR_TABLE[err.code].socks4));
    return;
  }
  conn.headDone();
  if (opts.socksUsers !== undefined) {
    // SOCKS4 carries no password: with a gate configured it would be a way around it.
    loginRefused(opts, conn.label, 'socks4 cannot log in and socks_users are configured');
    refuse(encodeSocks4Reply(ERROR_TABLE['auth-failed'].socks4));
    return;
  }
  // The user id is no password, but apps send one to keep their streams apart (stream isolation).
  if (request.userId !== '') conn.login = { username: request.userId, password: '' };
  if (request.command !== SOCKS4_CMD_CONNECT) {
    opts.log.debug(`${conn.label}: socks4: command 0x${request.command.toString(16)} not supported`);
    refuse(encodeSocks4Reply(ERROR_TABLE['command-unsupported'].socks4));
    return;
  }
  await connectAndJoin(conn, reader, request.target, 'socks4', (code) =>
    encodeSocks4Reply(code === null ? SOCKS4_GRANTED : ERROR_TABLE[code].socks4),
  );
}

/**
 * The end both SOCKS versions share: dial the target, answer with `reply(null)` on success or
 * `reply(code)` on failure (then close), and join the app to the stream. Never throws.
 */
async function connectAndJoin(
  conn: PortConnection,
  reader: HeadReader,
  target: Target,
  proto: 'socks5' | 'socks4',
  reply: (code: ErrorCode | null) => Uint8Array,
): Promise<void> {
  const pipelined = reader.release();
  const where = `${proto} ${formatTarget(target)}`;
  let stream;
  try {
    stream = await conn.dial(target);
  } catch (err) {
    const e = toTunnelError(err);
    conn.opts.log.debug(`${conn.label}: ${where}: ${e.code}: ${e.message}`);
    conn.replyAndClose(reply(e.code));
    return;
  }
  conn.socket.write(reply(null));
  join(conn, stream, pipelined, where);
}

// The reply has been written; bytes the app sent early go into the stream first, then splice takes over
// (the socket's still-buffered bytes and a FIN already received follow through the pipe, in order).
function join(conn: PortConnection, stream: Duplex, pipelined: Buffer, what: string): void {
  if (conn.socket.destroyed) {
    stream.destroy();
    return;
  }
  if (pipelined.length > 0) stream.write(pipelined);
  conn.opts.log.debug(`${conn.label}: ${what}: connected`);
  splice(conn.socket, stream, (err) => {
    if (err) conn.opts.log.debug(`${conn.label}: ${what}: ${err.message}`);
  });
}

// A malformed message can be answered; a head cut short by the app's close, or over the size limit
// (the app is still sending), cannot usefully be.
function isAnswerable(err: unknown, reader: HeadReader): err is TunnelError {
  return err instanceof TunnelError && err.code !== 'limit' && !reader.closed;
}

// A head we cannot answer (truncated, too large, the app gone): close without a reply.
function abandon(conn: PortConnection, err: unknown): void {
  conn.opts.log.debug(`${conn.label}: ${err instanceof Error ? err.message : String(err)}`);
  resetSocket(conn.socket);
}

/**
 * Picks the method to use: user/pass when users are configured. Without users, user/pass whenever it
 * is offered (any credentials pass: an app that has a login to give wants its streams kept apart by it,
 * as with Tor's IsolateSOCKSAuth), else no-auth.
 */
function chooseMethod(offered: readonly number[], usersConfigured: boolean): number {
  if (offered.includes(METHOD_USERPASS)) return METHOD_USERPASS;
  if (usersConfigured) return METHOD_NONE_ACCEPTABLE;
  if (offered.includes(METHOD_NO_AUTH)) return METHOD_NO_AUTH;
  return METHOD_NONE_ACCEPTABLE;
}

/**
 * True when `users` maps `username` to `password`. Constant-time in the password: both sides are
 * hashed to equal length before timingSafeEqual, and an unknown user is compared against a dummy so it
 * costs the same as a wrong password. Never throws.
 */
export function credentialsMatch(
  users: ReadonlyMap<string, string>,
  username: string,
  password: string,
): boolean {
  const expected = users.get(username);
  const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
  const same = timingSafeEqual(digest(expected ?? '\0no such user'), digest(password));
  return expected !== undefined && same;
}

/**
 * Accumulates the request head from the socket and hands it to pure decoders, one message at a time.
 * The socket flows while the head is read; release() pauses it and returns the bytes after the head.
 */
class HeadReader {
  private buf: Buffer;
  private wake: (() => void) | undefined;
  private ended = false;
  private released = false;
  /** True once the socket closed: nothing can be answered any more. */
  closed = false;

  constructor(
    private readonly socket: Socket,
    first: Buffer,
    private readonly max: number,
  ) {
    this.buf = first;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.resume(); // the mixed port read in paused mode; flow again for 'data'
  }

  private readonly onData = (chunk: Buffer): void => {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    this.wake?.();
  };
  private readonly onEnd = (): void => {
    this.ended = true;
    this.wake?.();
  };
  private readonly onClose = (): void => {
    this.closed = true;
    this.wake?.();
  };

  /**
   * The next message, once enough bytes are in. Rejects with the decoder's TunnelError on malformed
   * input, with TunnelError('limit') past requestHeadMax, and with 'bad-request' if the app ends or
   * closes first.
   */
  async next<T>(decode: (buf: Uint8Array) => Decoded<T>): Promise<T> {
    for (;;) {
      const decoded = decode(this.buf);
      if (decoded !== null) {
        this.buf = this.buf.subarray(decoded.bytesUsed);
        return decoded.value;
      }
      if (this.buf.length >= this.max) throw new TunnelError('limit', `request head over ${this.max} bytes`);
      if (this.closed || this.ended)
        throw new TunnelError('bad-request', 'connection ended inside the request head');
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  /** Stops reading: the socket is paused (bytes wait in it) and the bytes read past the head are returned. */
  release(): Buffer {
    if (this.released) return Buffer.alloc(0);
    this.released = true;
    this.socket.pause();
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onClose);
    const rest = this.buf;
    this.buf = Buffer.alloc(0);
    return rest;
  }
}

// One rate-limited info line per logger (one per daemon) for refused SOCKS logins: a user whose
// program lacks the login sees why at the default level, and a password-guessing flood stays one line
// a second. Never the username or password tried.
const loginRefusals = new WeakMap<Logger, PerSecond>();

function loginRefused(opts: FrontEndOptions, label: string, why: string): void {
  let counter = loginRefusals.get(opts.log);
  if (counter === undefined) {
    const log = opts.log;
    counter = new PerSecond((n, detail) =>
      log.info(`SOCKS login refused ${n === 1 ? '' : `${n} times in a second, latest `}${detail}`),
    );
    loginRefusals.set(log, counter);
  }
  counter.add(`from ${label} (${why})`);
}
