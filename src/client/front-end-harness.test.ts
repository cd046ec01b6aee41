// Test doubles and helpers for the mixed-port tests (no tests of its own). The topology is data: a
// table of made-up hostnames that only the test dialer knows, so any resolution on the client side
// would fail; origins listen on loopback only.

import { execFile } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { TunnelError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import { resetSocket } from '../link/splice.js';
import { withLimits } from '../limits.js';
import type { Limits } from '../limits.js';
import { silentLogger } from '../log.js';
import type { Target } from '../wire/address.js';
import type { Dialer } from '../proxy/dialer.js';
import { startMixedPort } from './mixed-port.js';
import type { MixedPort } from './mixed-port.js';

/** Hostnames the test dialer maps to loopback; nothing else can resolve them. */
export const HOSTS: Readonly<Record<string, string>> = { 'echo.test': '127.0.0.1', 'v6.test': '::1' };

export interface RecordingDialer extends Dialer {
  readonly targets: Target[];
  readonly streams: Duplex[];
}

/**
 * Connects over loopback, mapping HOSTS names itself, and wraps the socket in a plain Duplex, as the
 * multiplexer's streams are not net.Sockets. Records every target and stream.
 */
export function directDialer(): RecordingDialer {
  const targets: Target[] = [];
  const streams: Duplex[] = [];
  return {
    targets,
    streams,
    async dial(target, opts) {
      targets.push(target);
      const host = HOSTS[target.host] ?? target.host;
      if (net.isIP(host) === 0) throw new TunnelError('host-unreachable', `unknown test host ${host}`);
      const sock = net.connect({ host, port: target.port, allowHalfOpen: true, signal: opts?.signal });
      try {
        await once(sock, 'connect');
      } catch (err) {
        sock.destroy();
        throw err;
      }
      const stream = asStream(sock);
      streams.push(stream);
      return stream;
    },
  };
}

/** A dialer that rejects every dial with `code`. */
export function failingDialer(code: ErrorCode): RecordingDialer {
  const targets: Target[] = [];
  return {
    targets,
    streams: [],
    async dial(target) {
      targets.push(target);
      throw new TunnelError(code, `test dialer refuses with ${code}`);
    },
  };
}

/** A dialer that never answers and ignores its signal: the front-end's own deadline must settle it. */
export function hangingDialer(): RecordingDialer & { readonly signals: AbortSignal[] } {
  const targets: Target[] = [];
  const signals: AbortSignal[] = [];
  return {
    targets,
    streams: [],
    signals,
    dial(target, opts) {
      targets.push(target);
      if (opts?.signal) signals.push(opts.signal);
      return new Promise<Duplex>(() => undefined);
    },
  };
}

// A TCP socket seen as a generic Duplex with the stream contract: end() is a FIN one way, destroy(err)
// resets the far side, a far-side reset destroys the Duplex with a TunnelError.
function asStream(sock: net.Socket): Duplex {
  const d = new Duplex({
    allowHalfOpen: true,
    read() {
      sock.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      sock.write(chunk, cb);
    },
    final(cb) {
      sock.end();
      cb();
    },
    destroy(err, cb) {
      if (err) resetSocket(sock);
      else sock.destroy();
      cb(err);
    },
  });
  sock.on('data', (c: Buffer) => {
    if (!d.push(c)) sock.pause();
  });
  sock.on('end', () => d.push(null));
  sock.on('error', (e) => d.destroy(new TunnelError('reset', e.message)));
  return d;
}

export async function startPort(
  dialer: Dialer,
  limits: Partial<Limits> = {},
  socksUsers?: ReadonlyMap<string, string>,
): Promise<MixedPort> {
  return startMixedPort(
    { host: '127.0.0.1', port: 0 },
    { dialer, limits: withLimits(limits), log: silentLogger, socksUsers },
  );
}

/**
 * An origin on 127.0.0.1 that answers every request with JSON of what it received (method, url, raw
 * headers, body length and text), and adds hop-by-hop headers of its own that must not reach the app.
 * `/partial` sends headers for 1 MB and only 1000 bytes, then waits (for mid-body tests).
 */
export async function startEchoOrigin(): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.url === '/partial') {
      res.writeHead(200, { 'Content-Length': 1_000_000 });
      res.write(Buffer.alloc(1000, 0x61));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const json = JSON.stringify({
        method: req.method,
        url: req.url,
        rawHeaders: req.rawHeaders,
        bodyLength: body.length,
        body: body.toString('utf8').slice(0, 200),
      });
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'X-Hop': 'must go',
        Connection: 'X-Hop',
        'Keep-Alive': 'timeout=99',
      });
      res.end(json);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => closeServer(server),
  };
}

/**
 * A raw TCP origin on 127.0.0.1: reads until the client's FIN, then answers `got <n>\n` followed by
 * `answerBytes` bytes of 'z' and ends. Proves half-close works: the answer only comes after end().
 */
export async function startHalfCloseOrigin(
  answerBytes: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    let n = 0;
    s.on('data', (c: Buffer) => (n += c.length));
    s.on('end', () => {
      s.write(`got ${n}\n`);
      s.end(Buffer.alloc(answerBytes, 0x7a));
    });
    s.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as net.AddressInfo).port, close: () => closeServer(server) };
}

/** A raw TCP origin on 127.0.0.1 that echoes every byte and ends when the client ends. */
export async function startTcpEcho(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((s) => {
    s.pipe(s);
    s.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as net.AddressInfo).port, close: () => closeServer(server) };
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    (server as { closeAllConnections?: () => void }).closeAllConnections?.();
  });
}

export interface CurlResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real curl with a clean environment (no proxy variables, no .curlrc) and a 10 s cap. */
export function curl(args: readonly string[]): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile(
      '/usr/bin/curl',
      ['-q', '-sS', '--max-time', '10', ...args],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, timeout: 15_000 },
      (err, stdout, stderr) => {
        const exitCode = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ exitCode, stdout, stderr });
      },
    );
  });
}

/** A raw client socket with a byte queue: read exactly n bytes, or everything until end or close. */
export class RawClient {
  readonly socket: net.Socket;
  private buf = Buffer.alloc(0);
  private ended = false;
  error: Error | undefined;
  private waiters: (() => void)[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      this.notify();
    });
    socket.on('end', () => {
      this.ended = true;
      this.notify();
    });
    socket.on('error', (e) => {
      this.error = e;
    });
    socket.on('close', () => {
      this.ended = true;
      this.notify();
    });
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    const socket = net.connect({ port, host, allowHalfOpen: true });
    await once(socket, 'connect');
    return new RawClient(socket);
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async waitFor(pred: () => boolean, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('RawClient: timed out');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Exactly n bytes; rejects if the connection ends first or after ms. */
  async read(n: number, ms = 5000): Promise<Buffer> {
    await this.waitFor(() => this.buf.length >= n || this.ended, ms);
    if (this.buf.length < n) throw new Error(`RawClient: ended after ${this.buf.length} of ${n} bytes`);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Everything until the connection ends or closes. */
  async readAll(ms = 5000): Promise<Buffer> {
    await this.waitFor(() => this.ended, ms);
    const out = this.buf;
    this.buf = Buffer.alloc(0);
    return out;
  }

  /** Resolves with how the connection ended: 'reset' (an error such as ECONNRESET) or 'clean' (a FIN). */
  async closed(ms = 5000): Promise<'reset' | 'clean'> {
    await this.waitFor(() => this.ended, ms);
    await sleep(20); // an RST right behind the FIN still counts as a reset
    return this.error ? 'reset' : 'clean';
  }

  close(): void {
    this.socket.destroy();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** SOCKS5 greeting (no-auth) + CONNECT to a domain target, as one buffer. */
export function socks5Connect(host: string, port: number, command = 0x01): Buffer {
  const name = Buffer.from(host, 'utf8');
  return Buffer.concat([
    Buffer.from([0x05, 0x01, 0x00]),
    Buffer.from([0x05, command, 0x00, 0x03, name.length]),
    name,
    Buffer.from([port >> 8, port & 0xff]),
  ]);
}
