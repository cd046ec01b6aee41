// The live web view (`ett status --web`): one page on a loopback port showing what `ett status` shows,
// pushed once a second over server-sent events. It runs in the `ett status` process, as the user, and
// reads the daemon's control socket like `ett status --watch` does.
//
// Who can read it (DESIGN.md §13): the page and its events are served only to a request that
//   1. carries the random token printed at start (`?token=…`, compared in constant time): another local
//      user can reach the port but not guess the token;
//   2. has the Host header `ADDRESS:PORT` of the listener itself: a DNS-rebinding page (evil.example
//      resolving to 127.0.0.1) sends its own name as Host and is refused;
//   3. has no Origin, or this listener's own origin: another site's page cannot read it (and no CORS
//      header is ever sent, so the browser would not let it read a response anyway).
// The page builds its DOM with textContent only (targets are strings other sites choose) and loads
// nothing from elsewhere (a Content-Security-Policy says so to the browser).

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { TunnelError } from '../errors.js';
import type { Snapshot } from '../link/census.js';
import { formatTarget, type Target } from '../wire/address.js';
import { PAGE } from './web-page.js';

/** How often the view asks the daemon and pushes to the browsers, ms. */
export const WEB_INTERVAL_MS = 1000;
/** Event streams (browser tabs) served at once; more get 503. `ett status` reads no config: a constant. */
export const WEB_CLIENTS_MAX = 8;

export interface WebOptions {
  /** A loopback address; port 0 picks one. */
  readonly listen: Target;
  /** Asks the daemon for its status; rejects once it is gone. */
  readonly status: () => Promise<Snapshot>;
  /** Browsers served at once (default WEB_CLIENTS_MAX); more get 503. */
  readonly clientsMax?: number;
  /** Called once when the daemon stops answering. */
  readonly onGone: (err: Error) => void;
}

export interface WebHandle {
  /** http://ADDRESS:PORT/?token=TOKEN */
  readonly url: string;
  close(): Promise<void>;
}

/** True for 127.0.0.0/8 and ::1, the only hosts the view listens on. */
export function isLoopback(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::1';
}

/** Rejects with TunnelError('config') for a non-loopback address or one it cannot listen on. */
export async function startWeb(opts: WebOptions): Promise<WebHandle> {
  if (!isLoopback(opts.listen.host)) {
    throw new TunnelError(
      'config',
      `status: --listen ${formatTarget(opts.listen)}: the web view listens on loopback only`,
    );
  }
  const clientsMax = opts.clientsMax ?? WEB_CLIENTS_MAX;
  const token = randomBytes(24).toString('base64url');
  const tokenHash = digest(token);
  const events = new Set<http.ServerResponse>();
  let host = ''; // ADDRESS:PORT once listening
  let last: string | null = null;
  let timer: NodeJS.Timeout | null = null;

  let asking = false; // one question to the daemon at a time, however slow its answer
  const push = (): void => {
    if (asking) return;
    asking = true;
    opts.status().then(
      (s) => {
        asking = false;
        last = `data: ${JSON.stringify(s)}\n\n`;
        for (const res of events) res.write(last);
      },
      (err: Error) => {
        for (const res of events) res.end('event: gone\ndata: {}\n\n');
        stop();
        opts.onGone(err);
      },
    );
  };
  const stop = (): void => {
    if (timer) clearInterval(timer);
    timer = null;
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const refusal = refuse(req, url, host, tokenHash);
    if (refusal !== null) {
      res
        .writeHead(refusal[0], { 'content-type': 'text/plain', 'cache-control': 'no-store' })
        .end(refusal[1] + '\n');
      return;
    }
    if (url.pathname === '/') {
      res
        .writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
          'content-security-policy':
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; frame-ancestors 'none'",
          'x-frame-options': 'DENY',
          'referrer-policy': 'no-referrer',
          'x-content-type-options': 'nosniff',
        })
        .end(PAGE);
      return;
    }
    if (url.pathname === '/events') {
      if (events.size >= clientsMax) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end(`busy: ${clientsMax} browsers\n`);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      events.add(res);
      res.once('close', () => events.delete(res));
      if (last !== null) res.write(last);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  server.maxConnections = clientsMax * 4;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.listen.host, port: opts.listen.port }, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: unknown) => {
    throw new TunnelError(
      'config',
      `status: cannot listen on ${formatTarget(opts.listen)}: ${(err as Error).message}`,
    );
  });
  const bound = server.address() as AddressInfo;
  host = formatTarget({ host: bound.address, port: bound.port });
  // Asked whether anyone watches or not: so the view notices the daemon going, and a new tab gets a
  // status at once.
  push();
  timer = setInterval(push, WEB_INTERVAL_MS);
  return {
    url: `http://${host}/?token=${token}`,
    close: () =>
      new Promise<void>((resolve) => {
        stop();
        for (const res of events) res.end();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** [status, reason] for a request the view will not serve (see the file comment), else null. */
function refuse(
  req: http.IncomingMessage,
  url: URL,
  host: string,
  tokenHash: Buffer,
): [number, string] | null {
  if (req.method !== 'GET') return [405, 'GET only'];
  if (req.headers.host !== host) return [421, 'wrong Host'];
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${host}`) return [403, 'wrong Origin'];
  if (!timingSafeEqual(digest(url.searchParams.get('token') ?? ''), tokenHash)) return [403, 'wrong token'];
  return null;
}

// Hashed first so that both sides are the same length (timingSafeEqual needs that) and the comparison
// takes the same time whatever the guess.
function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
