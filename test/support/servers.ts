// Destination servers for the end-to-end tests, all on loopback with port 0, each counting the
// connections it accepted: an HTTP server with a deterministic body, a half-close echo-hash server, and a
// slow streamer that keeps a download going until it is cut.

import { createCipheriv, createHash } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import type { Cleanup } from './proc.js';

/** n deterministic pseudo-random bytes from a text seed (AES-256-CTR keystream of SHA-256(seed)). */
export function seededBytes(n: number, seed: string): Buffer {
  const key = createHash('sha256').update(seed).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(n));
}

export function sha256(data: Buffer | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface Body {
  readonly bytes: Buffer;
  readonly sha256: string;
}

const bodies = new Map<string, Body>();

/** A deterministic body of `size` bytes (default 20 MB) and its SHA-256, computed once per process. */
export function testBody(size = 20 * 1024 * 1024, seed = 'ett-e2e-body'): Body {
  const id = `${size}/${seed}`;
  let body = bodies.get(id);
  if (!body) {
    const bytes = seededBytes(size, seed);
    body = { bytes, sha256: sha256(bytes) };
    bodies.set(id, body);
  }
  return body;
}

export interface CountingServer {
  readonly port: number;
  /** TCP connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/** Tracks a server's sockets so close() can destroy them; counts accepted connections. */
function track(server: net.Server, cleanup: Cleanup): { count: () => number; close: () => Promise<void> } {
  const sockets = new Set<net.Socket>();
  let count = 0;
  server.on('connection', (s: net.Socket) => {
    count++;
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
    return closed;
  };
  cleanup.add(close);
  return { count: () => count, close };
}

function listen(server: net.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

export interface HttpTarget extends CountingServer {
  /** Requests served so far. */
  requests(): number;
}

/** An HTTP/1.1 server on 127.0.0.1 (port 0) answering every GET with `body`. */
export async function startHttpTarget(cleanup: Cleanup, body: Body): Promise<HttpTarget> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    req.resume();
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.bytes.length });
    res.end(body.bytes);
  });
  const t = track(server, cleanup);
  const port = await listen(server, '127.0.0.1', 0);
  return { port, connections: t.count, requests: () => requests, close: t.close };
}

/**
 * The same HTTP target on 127.0.0.1:P and, where possible, [::1]:P with the same port (so a name that
 * resolves to either loopback reaches it). Tries a few ports; falls back to 127.0.0.1 only.
 */
export async function startDualStackHttpTarget(
  cleanup: Cleanup,
  body: Body,
): Promise<HttpTarget & { readonly v6: boolean }> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const v4 = await startHttpTarget(cleanup, body);
    let requests6 = 0;
    const server6 = http.createServer((req, res) => {
      requests6++;
      req.resume();
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.bytes.length });
      res.end(body.bytes);
    });
    const t6 = track(server6, cleanup);
    try {
      await listen(server6, '::1', v4.port);
    } catch {
      await t6.close();
      if (attempt < 9) {
        await v4.close();
        continue;
      }
      return { ...v4, v6: false };
    }
    return {
      port: v4.port,
      v6: true,
      connections: () => v4.connections() + t6.count(),
      requests: () => v4.requests() + requests6,
      close: async () => {
        await Promise.all([v4.close(), t6.close()]);
      },
    };
  }
  throw new Error('unreachable');
}

export interface HalfCloseTarget extends CountingServer {
  /** Bytes each finished connection read before its EOF. */
  readonly received: number[];
}

/**
 * A TCP server that reads until the peer's EOF, then writes SHA-256(everything read) (32 raw bytes)
 * followed by `reply`, and ends. Sends nothing before the EOF, so an answer proves the FIN arrived.
 */
export async function startHalfCloseTarget(cleanup: Cleanup, reply: Buffer): Promise<HalfCloseTarget> {
  const received: number[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    const hash = createHash('sha256');
    let n = 0;
    sock.on('error', () => sock.destroy());
    sock.on('data', (chunk: Buffer) => {
      n += chunk.length;
      hash.update(chunk);
    });
    sock.on('end', () => {
      received.push(n);
      sock.write(hash.digest());
      sock.end(reply);
    });
  });
  const t = track(server, cleanup);
  const port = await listen(server, '127.0.0.1', 0);
  return { port, received, connections: t.count, close: t.close };
}

export interface SlowTarget extends CountingServer {
  /** Payload bytes the kernel has accepted from us (write callbacks), all connections together. */
  written(): number;
}

/**
 * A TCP server that, on connect, optionally writes an HTTP/1.1 response head with no length
 * (`Connection: close`, body until EOF), then `chunk`-byte blocks every intervalMs, at most maxChunks per
 * connection (so it always ends: a download that is never cut finishes cleanly).
 * It never reads a request: an HTTP client's request bytes are simply drained.
 */
export async function startSlowTarget(
  cleanup: Cleanup,
  opts: { http: boolean; chunk?: number; intervalMs?: number; maxChunks?: number },
): Promise<SlowTarget> {
  const chunk = seededBytes(opts.chunk ?? 64 * 1024, 'slow');
  const intervalMs = opts.intervalMs ?? 20;
  const maxChunks = opts.maxChunks ?? 1500;
  let written = 0;
  const server = net.createServer((sock) => {
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const stop = (): void => {
      clearTimeout(timer);
      sock.destroy();
    };
    sock.on('error', stop);
    sock.on('close', () => clearTimeout(timer));
    sock.resume();
    const next = (): void => {
      if (sock.destroyed) return;
      if (sent >= maxChunks) {
        sock.end();
        return;
      }
      sent++;
      sock.write(chunk, (err) => {
        if (err) return;
        written += chunk.length;
        timer = setTimeout(next, intervalMs);
      });
    };
    if (opts.http) {
      sock.write('HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n');
    }
    next();
  });
  const t = track(server, cleanup);
  const port = await listen(server, '127.0.0.1', 0);
  return { port, written: () => written, connections: t.count, close: t.close };
}
