// Hand-written proxy clients for the end-to-end tests: SOCKS5 (any ATYP, the host sent byte for byte) and
// HTTP CONNECT, over a socket whose every byte and ending ('end' vs error) is recorded.

import * as net from 'node:net';

/** Everything one socket received and how it ended. Attached at connect, so no byte is missed. */
export class Conn {
  readonly socket: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  /** Total bytes received, including those already consumed. */
  total = 0;
  ended = false;
  closed = false;
  error: (Error & { code?: string }) | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.total += chunk.length;
      this.notify();
    });
    socket.on('end', () => {
      this.ended = true;
      this.notify();
    });
    socket.on('error', (err) => {
      this.error = err;
      this.notify();
    });
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
  }

  /** Connects to 127.0.0.1:port (allowHalfOpen, so our write side stays ours to end). */
  static open(port: number, host = '127.0.0.1', timeoutMs = 10_000): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, allowHalfOpen: true });
      const conn = new Conn(socket);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${host}:${port} timed out`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(conn);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  private notify(): void {
    for (const w of this.waiters) w();
  }

  /** Waits until cond() holds; rejects if the socket closes first or after timeoutMs. */
  private wait(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (cond()) finish(null);
        else if (this.closed || this.ended) {
          finish(new Error(`socket ${this.error ? `failed (${this.error.code})` : 'ended'} before ${what}`));
        }
      };
      const timer = setTimeout(
        () => finish(new Error(`timed out (${timeoutMs} ms) waiting for ${what}`)),
        timeoutMs,
      );
      const finish = (err: Error | null): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Exactly n bytes, consumed. */
  async read(n: number, timeoutMs = 10_000): Promise<Buffer> {
    await this.wait(() => this.buf.length >= n, timeoutMs, `${n} bytes`);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Bytes up to and including delim, consumed. */
  async readUntil(delim: string, timeoutMs = 10_000): Promise<Buffer> {
    await this.wait(() => this.buf.includes(delim), timeoutMs, JSON.stringify(delim));
    const end = this.buf.indexOf(delim) + delim.length;
    const out = this.buf.subarray(0, end);
    this.buf = this.buf.subarray(end);
    return out;
  }

  /** Resolves once `total` reaches n (without consuming). */
  waitForTotal(n: number, timeoutMs = 10_000): Promise<void> {
    return this.wait(() => this.total >= n, timeoutMs, `${n} bytes in total`);
  }

  /**
   * Waits (bounded) for the peer to finish: 'end' (our write side may still be open: allowHalfOpen) or
   * 'close'; returns the unconsumed bytes and how the socket ended. Destroys the socket either way.
   */
  finish(timeoutMs = 20_000): Promise<{ data: Buffer; ended: boolean; error: Conn['error'] }> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!this.closed && !this.ended) return;
        this.socket.destroy();
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve({ data: this.buf, ended: this.ended, error: this.error });
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        this.socket.destroy();
        reject(new Error(`socket neither ended nor closed within ${timeoutMs} ms (got ${this.total} bytes)`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export type Atyp = 'domain' | 'ipv4' | 'ipv6';

export interface Socks5Result {
  readonly conn: Conn;
  /** The reply byte REP (0 = succeeded). */
  readonly reply: number;
}

/**
 * SOCKS5 no-auth CONNECT through the proxy at 127.0.0.1:proxyPort. With atyp 'domain' (the default) the
 * host string is sent exactly as given (ATYP 3); 'ipv4'/'ipv6' send the parsed address.
 * Resolves with the reply code whatever it is; rejects only on a protocol violation or timeout.
 */
export async function socks5Connect(
  proxyPort: number,
  host: string,
  port: number,
  atyp: Atyp = 'domain',
): Promise<Socks5Result> {
  const conn = await Conn.open(proxyPort);
  try {
    conn.socket.write(Buffer.from([5, 1, 0]));
    const method = await conn.read(2);
    if (method[0] !== 5 || method[1] !== 0) throw new Error(`method reply ${method.toString('hex')}`);
    let addr: Buffer;
    if (atyp === 'domain') {
      const name = Buffer.from(host, 'utf8');
      addr = Buffer.concat([Buffer.from([3, name.length]), name]);
    } else if (atyp === 'ipv4') {
      addr = Buffer.from([1, ...host.split('.').map(Number)]);
    } else {
      addr = Buffer.concat([Buffer.from([4]), ipv6Bytes(host)]);
    }
    const portBytes = Buffer.from([port >> 8, port & 0xff]);
    conn.socket.write(Buffer.concat([Buffer.from([5, 1, 0]), addr, portBytes]));
    const head = await conn.read(4);
    if (head[0] !== 5) throw new Error(`reply version ${head[0]}`);
    const rest = head[3] === 1 ? 4 + 2 : head[3] === 4 ? 16 + 2 : head[3] === 3 ? -1 : -2;
    if (rest === -2) throw new Error(`reply ATYP ${head[3]}`);
    if (rest === -1) await conn.read((await conn.read(1))[0]! + 2);
    else await conn.read(rest);
    return { conn, reply: head[1]! };
  } catch (err) {
    conn.destroy();
    throw err;
  }
}

/** The 16 bytes of an IPv6 address (brackets allowed, trailing dotted quad allowed). */
function ipv6Bytes(text: string): Buffer {
  const bare = text.replace(/^\[|\]$/g, '');
  if (!net.isIPv6(bare)) throw new Error(`not IPv6: ${text}`);
  const parse = (s: string): number[] =>
    s === ''
      ? []
      : s.split(':').flatMap((g) => {
          if (!g.includes('.')) return [parseInt(g, 16)];
          const b = g.split('.').map(Number);
          return [(b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!];
        });
  const gap = bare.indexOf('::');
  const head = parse(gap < 0 ? bare : bare.slice(0, gap));
  const tail = gap < 0 ? [] : parse(bare.slice(gap + 2));
  const groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** HTTP CONNECT host:port through the proxy; resolves with the status code and the connection. */
export async function httpConnect(
  proxyPort: number,
  host: string,
  port: number,
): Promise<{ conn: Conn; status: number }> {
  const conn = await Conn.open(proxyPort);
  try {
    const authority = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    conn.socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
    const head = (await conn.readUntil('\r\n\r\n')).toString('latin1');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
    if (!m) throw new Error(`bad CONNECT response: ${JSON.stringify(head.slice(0, 80))}`);
    return { conn, status: Number(m[1]) };
  } catch (err) {
    conn.destroy();
    throw err;
  }
}

/**
 * SOCKS5 no-auth CONNECT to 127.0.0.1:port through the proxy, greeting and request sent in one write
 * (pipelined). Resolves with the bare socket once the reply says "succeeded", paused, with no data
 * listener (so the caller decides whether anything is ever read; bytes after the reply are unshifted).
 * Rejects on any other reply, an early close, or after timeoutMs. Cheap enough for thousands at once.
 */
export function socks5Raw(proxyPort: number, port: number, timeoutMs = 30_000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: proxyPort, allowHalfOpen: true });
    let got = Buffer.alloc(0);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      s.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`no SOCKS5 reply within ${timeoutMs} ms`)), timeoutMs);
    const onData = (c: Buffer): void => {
      got = Buffer.concat([got, c]);
      if (got.length < 12) return; // method reply (2) + reply with an IPv4 bound address (10)
      clearTimeout(timer);
      s.off('data', onData);
      s.off('error', fail);
      s.off('close', onClose);
      s.pause();
      if (got[1] !== 0 || got[3] !== 0)
        return fail(new Error(`SOCKS5 reply ${got.subarray(0, 4).toString('hex')}`));
      if (got.length > 12) s.unshift(got.subarray(12));
      resolve(s);
    };
    const onClose = (): void =>
      fail(new Error(`closed during the SOCKS5 handshake (${got.length} bytes in)`));
    s.on('data', onData);
    s.on('error', fail);
    s.on('close', onClose);
    s.write(Buffer.from([5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, port >> 8, port & 0xff]));
  });
}
