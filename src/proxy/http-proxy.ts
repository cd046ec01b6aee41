// The HTTP proxy side of the mixed port: CONNECT host:port, and absolute-form requests
// (`GET http://host/path`) forwarded in origin-form through one tunnel stream each.
//
// Parsing is node:http's (llhttp) through an http.Server that never listens: the mixed port hands it
// sockets with emit('connection'). The port has already read the first bytes and pushed them back with
// unshift(). Node's server then "consumes" the socket's handle (llhttp reads from libuv directly,
// bypassing the JS stream), so the pushed-back bytes reach the parser only through the socket's 'data'
// event, and must do so before libuv delivers anything newer. Resuming the socket right after the
// hand-off does that: the flush runs on the next tick, before any I/O callback. (Node also resumes it
// when the port's 'readable' listener goes; we do not lean on that.) http-proxy.test.ts feeds the
// first bytes one at a time, and every HTTP test fails if the pushed-back bytes are lost.
//
// The server's own headersTimeout is only enforced for listening servers, so the head deadline is
// kept here: armed while no request is in progress, cleared when a request head is complete.

import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ERROR_TABLE, TunnelError, toTunnelError } from '../errors.js';
import { resetSocket, splice } from '../link/splice.js';
import { formatTarget, parseTarget } from '../wire/address.js';
import type { Target } from '../wire/address.js';
import type { FrontEndOptions, PortConnection } from './connection.js';
import { meterHeads, type HeadMeter } from './head-meter.js';
import { credentialsMatch } from './socks-server.js';

export interface HttpProxy {
  /** Takes over a connection whose first bytes were pushed back into the socket. Never throws. */
  serve(conn: PortConnection): void;
}

// Hop-by-hop headers (RFC 9110 §7.6.1) plus proxy-only ones; Transfer-Encoding goes because node
// re-frames bodies both ways. Expect is forwarded (RFC 9110 §10.1.1): only the origin may answer it.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

interface ConnState {
  readonly conn: PortConnection;
  /** Requests whose head is in and whose response has not closed yet. */
  active: number;
  timer: NodeJS.Timeout | undefined;
  /** Counts each head's raw bytes (request_head_max is exact; see head-meter.ts). */
  meter: HeadMeter | undefined;
  /** The meter refused a head (431 sent): whatever the parser still makes of it is ignored. */
  refused: boolean;
}

/**
 * Creates the proxy's parser server (it never listens). Never throws; each connection's failures are
 * answered with an HTTP status (see errors.ts) and close that connection only.
 */
export function createHttpProxy(opts: FrontEndOptions): HttpProxy {
  const states = new WeakMap<Socket, ConnState>();
  const server = http.createServer({
    maxHeaderSize: opts.limits.requestHeadMax,
    requireHostHeader: false, // the request-target names the host; curl's CONNECT has Host anyway
    headersTimeout: opts.limits.requestHeadTimeoutMs, // not enforced without listen(); see above
    requestTimeout: 0,
  });

  const arm = (state: ConnState, ms: number): void => {
    clearTimeout(state.timer);
    state.timer = setTimeout(() => {
      opts.log.debug(`${state.conn.label}: http: request head deadline passed`);
      state.conn.socket.destroy();
    }, ms);
  };
  // A request the proxy will not serve: closed, unless a refusal (431) is already on its way out.
  const dropUnserved = (socket: Socket): void => {
    if (!states.get(socket)?.refused) socket.destroy();
  };
  const begin = (socket: Socket): ConnState | undefined => {
    const state = states.get(socket);
    if (state === undefined || state.refused) return undefined;
    clearTimeout(state.timer);
    state.active++;
    return state;
  };

  // A request that expects 100-continue: with no 'checkContinue' listener node answers 100 Continue to
  // the app itself, before the origin has said anything (it may well answer 413 instead). Here such a
  // request is served like any other; its Expect goes to the origin, and the origin's 100 comes back.
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const state = begin(req.socket);
    if (state === undefined) return void dropUnserved(req.socket);
    res.once('close', () => {
      state.active--;
      if (state.active === 0 && !state.conn.socket.destroyed) {
        arm(state, opts.limits.requestHeadTimeoutMs);
        // The next head starts after this request's body. After an early answer node discards the rest
        // of a body still arriving; those bytes are no head (counted as one, a large upload got 431).
        if (req.complete) state.meter?.restart();
        else req.once('end', () => state.active === 0 && state.meter?.restart());
      }
    });
    if (opts.pac !== undefined && isPacPath(req.url)) return void servePac(state.conn, req, res, opts.pac);
    if (!authorized(opts, req)) return void refuseAuth(state.conn, req, res);
    forward(state.conn, req, res);
  };
  server.on('request', onRequest);
  server.on('checkContinue', onRequest);

  server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const state = begin(socket);
    if (state === undefined) return void dropUnserved(socket);
    state.meter?.stop();
    if (!authorized(opts, req)) {
      const err = new TunnelError('auth-failed', 'proxy authentication required');
      return void refuseConnect(state.conn, err, 'Proxy-Authenticate: Basic realm="ett"\r\n');
    }
    tunnel(state.conn, req, head);
  });

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const state = states.get(socket);
    if (state?.refused) return void socket.destroySoon();
    opts.log.debug(`${state?.conn.label ?? 'http'}: http: ${err.code ?? err.message}`);
    // Mid-response (a pipelined request went bad) there is no clean way to answer: just close.
    if (err.code === 'ECONNRESET' || !socket.writable || (state !== undefined && state.active > 0)) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    socket.end(statusHead(status, 'Connection: close\r\nContent-Length: 0'));
    socket.destroySoon();
  });

  return {
    serve(conn) {
      const state: ConnState = { conn, active: 0, timer: undefined, meter: undefined, refused: false };
      states.set(conn.socket, state);
      arm(state, conn.headTimeLeft());
      conn.headDone();
      conn.socket.once('close', () => clearTimeout(state.timer));
      server.emit('connection', conn.socket);
      // After the server's own 'connection' setup, so that its 'data' listener comes second.
      state.meter = meterHeads(conn.socket, opts.limits.requestHeadMax, (seen) => {
        if (state.active > 0) return void conn.socket.destroy(); // mid-response: no clean way to answer
        state.refused = true;
        opts.log.debug(
          `${conn.label}: http: request head over ${opts.limits.requestHeadMax} bytes (${seen} so far)`,
        );
        clearTimeout(state.timer);
        conn.socket.end(statusHead(431, 'Connection: close\r\nContent-Length: 0'));
        conn.socket.destroySoon();
      });
      conn.socket.resume(); // flushes the pushed-back bytes to the parser; see the top of this file
    },
  };
}

// CONNECT host:port: dial, answer 200, then the socket is a raw byte pipe to the stream.
function tunnel(conn: PortConnection, req: IncomingMessage, head: Buffer): void {
  const { socket, opts } = conn;
  let target: Target;
  try {
    target = parseTarget(req.url ?? '');
  } catch (err) {
    refuseConnect(conn, toTunnelError(err, 'bad-request'));
    return;
  }
  conn.login = basicLogin(req); // stream isolation by the proxy login (checked above when required)
  conn.dial(target).then(
    (stream) => {
      if (socket.destroyed) return void stream.destroy();
      socket.setTimeout(0); // a keep-alive timeout left from an earlier request must not cut the tunnel
      socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
      if (head.length > 0) stream.write(head); // bytes the app sent right after its CONNECT head
      opts.log.debug(`${conn.label}: http CONNECT ${formatTarget(target)}: connected`);
      splice(socket, stream, (err) => {
        if (err) opts.log.debug(`${conn.label}: http CONNECT ${formatTarget(target)}: ${err.message}`);
      });
    },
    (err: unknown) => refuseConnect(conn, toTunnelError(err)),
  );
}

function refuseConnect(conn: PortConnection, err: TunnelError, extraFields = ''): void {
  const status = ERROR_TABLE[err.code].http;
  conn.opts.log.debug(`${conn.label}: http CONNECT: ${err.code}: ${err.message}`);
  const body = errorBody(status, err);
  const fields = `${extraFields}Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close`;
  conn.replyAndClose(statusHead(status, fields) + body);
}

// An absolute-form request: dial the host it names, replay it in origin-form over the stream with
// node's HTTP client, and stream the response back. A response cut short resets the app's socket.
function forward(conn: PortConnection, req: IncomingMessage, res: ServerResponse): void {
  const { opts } = conn;
  let dest: { target: Target; authority: string; path: string };
  try {
    dest = parseAbsoluteForm(req.url ?? '');
  } catch (err) {
    respondError(conn, req, res, toTunnelError(err, 'bad-request'));
    return;
  }
  const what = `http ${req.method} ${formatTarget(dest.target)}`;
  conn.login = basicLogin(req); // per request: a keep-alive connection may change its login
  conn.dial(dest.target).then(
    (stream) => {
      if (res.destroyed || conn.socket.destroyed) return void stream.destroy();
      opts.log.debug(`${conn.label}: ${what}`);
      relay(conn, req, res, stream, dest);
    },
    (err: unknown) => respondError(conn, req, res, toTunnelError(err)),
  );
}

function relay(
  conn: PortConnection,
  req: IncomingMessage,
  res: ServerResponse,
  stream: Duplex,
  dest: { authority: string; path: string },
): void {
  const headers = requestHeaders(req, dest.authority);
  const upstream = http.request({
    method: req.method,
    path: dest.path,
    headers,
    setHost: false,
    // No `agent` at all: with agent: false node builds a fresh Agent that ignores createConnection and
    // dials host:port itself (here localhost:80). Without an agent, the request is not kept alive, so
    // node sends Connection: close and the stream carries this one exchange.
    createConnection: () => stream as unknown as Socket, // any Duplex serves node's client
  });
  const breakApp = (why: string): void => {
    conn.opts.log.debug(`${conn.label}: http: response broken: ${why}`);
    resetSocket(conn.socket);
  };
  // The origin's 100 Continue, passed on to the app that asked for it (and only then).
  upstream.on('continue', () => {
    if (!res.headersSent && !res.destroyed) res.writeContinue();
  });
  let response: IncomingMessage | undefined;
  upstream.on('response', (up: IncomingMessage) => {
    response = up;
    if (res.destroyed) return void upstream.destroy();
    res.writeHead(up.statusCode ?? 502, up.statusMessage, withoutHopByHop(up.rawHeaders));
    up.pipe(res);
    up.on('error', (err) => breakApp(err.message));
    // A body that stops short (stream error, RST, or an early FIN) must not look whole to the app.
    up.once('close', () => {
      if (!up.complete) breakApp('upstream closed mid-body');
    });
  });
  // An origin may answer before it has read the whole request body, and close: sending the rest then
  // fails (EPIPE, or a reset of the stream). A response that arrived whole stands; the app gets it and
  // what is left of its body goes nowhere. Only a response cut short breaks the app's connection.
  upstream.on('error', (err) => {
    if (response?.complete) return void req.unpipe(upstream).resume();
    if (!res.headersSent) respondError(conn, req, res, toTunnelError(err, 'link-down'));
    else breakApp(err.message);
  });
  // The app going away mid-exchange aborts the stream (never left half-open).
  res.once('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.on('error', () => upstream.destroy());
  req.pipe(upstream);
}

// When SOCKS users are configured they gate the whole port, HTTP included (otherwise the gate would
// have a door beside it): Proxy-Authorization Basic with one of the pairs.
function authorized(opts: FrontEndOptions, req: IncomingMessage): boolean {
  if (opts.socksUsers === undefined) return true;
  const login = basicLogin(req);
  return login !== undefined && credentialsMatch(opts.socksUsers, login.username, login.password);
}

/** Proxy-Authorization Basic's username and password, if the request has a well-formed one. */
function basicLogin(req: IncomingMessage): { username: string; password: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers['proxy-authorization'] ?? '');
  if (m === null) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function refuseAuth(conn: PortConnection, req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('Proxy-Authenticate', 'Basic realm="ett"');
  respondError(conn, req, res, new TunnelError('auth-failed', 'proxy authentication required'));
}

/** `/proxy.pac` or `/wpad.dat` (what browsers ask for by WPAD), any query ignored. */
function isPacPath(url: string | undefined): boolean {
  const path = (url ?? '').split('?')[0];
  return path === '/proxy.pac' || path === '/wpad.dat';
}

// The PAC file, for the address this connection came in on. It shows the rules' host patterns, so with
// socks_users set (the port is not open to everyone who reaches it) it goes to this machine only.
function servePac(
  conn: PortConnection,
  req: IncomingMessage,
  res: ServerResponse,
  pac: (proxy: string) => string,
): void {
  const { socket } = conn;
  const peer = unmapped(socket.remoteAddress ?? '');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return void respondError(
      conn,
      req,
      res,
      new TunnelError('command-unsupported', 'the PAC file takes GET'),
    );
  }
  if (conn.opts.socksUsers !== undefined && !/^127\.|^::1$/.test(peer)) {
    const why = 'with socks_users set, the PAC file is served to this machine only (it lists the rules)';
    return void respondError(conn, req, res, new TunnelError('policy', why));
  }
  const host = unmapped(socket.localAddress ?? '');
  const body = pac(`${host.includes(':') ? `[${host.replace(/%.*$/, '')}]` : host}:${socket.localPort}`);
  conn.opts.log.debug(`${conn.label}: http: PAC file served`);
  req.resume();
  res.writeHead(200, {
    'Content-Type': 'application/x-ns-proxy-autoconfig',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-cache', // a reload's rules reach the browser when it fetches the file again
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** An address without the ::ffff: of an IPv4 client on a dual-stack socket. */
function unmapped(address: string): string {
  return address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
}

/** Splits `http://authority/path?q` into a Target (port 80 unless given) and an origin-form path. */
function parseAbsoluteForm(url: string): { target: Target; authority: string; path: string } {
  if (/^https:\/\//i.test(url)) {
    throw new TunnelError('bad-request', 'https:// URLs go through CONNECT; set this proxy for HTTPS too');
  }
  const m = /^http:\/\/([^/?#]*)([^#]*)/i.exec(url);
  if (m === null)
    throw new TunnelError('bad-request', 'this is a proxy: requests must use absolute-form or CONNECT');
  const authority = m[1]!.slice(m[1]!.lastIndexOf('@') + 1); // userinfo is never forwarded
  if (authority === '') throw new TunnelError('bad-request', 'no host in the request URL');
  const raw = m[2]!;
  const path = raw === '' ? '/' : raw.startsWith('?') ? `/${raw}` : raw;
  return { target: targetOf(authority, 80), authority, path };
}

// The host stays exactly as the app wrote it (no resolution, no normalisation); only a missing port
// is filled in.
function targetOf(authority: string, defaultPort: number): Target {
  const hasPort = authority.startsWith('[') ? /\]:[^\]]*$/.test(authority) : authority.includes(':');
  return parseTarget(hasPort ? authority : `${authority}:${defaultPort}`);
}

function requestHeaders(req: IncomingMessage, authority: string): string[] {
  const out = ['Host', authority];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === 'host') continue; // replaced by the URL's authority
    out.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  }
  const kept = withoutHopByHop(out);
  // Node's client frames GET/DELETE/OPTIONS bodies only when told to: a chunked body stays chunked.
  if (req.headers['transfer-encoding'] !== undefined) kept.push('Transfer-Encoding', 'chunked');
  return kept;
}

/** Raw header list without hop-by-hop fields, including every field named in Connection. */
function withoutHopByHop(raw: readonly string[]): string[] {
  const drop = new Set(HOP_BY_HOP);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'connection') continue;
    for (const token of raw[i + 1]!.split(',')) drop.add(token.trim().toLowerCase());
  }
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (!drop.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

// A failure before any response byte: the status from the one table, a one-line text body, and
// Connection: close (the app should not reuse a connection that just failed).
function respondError(
  conn: PortConnection,
  req: IncomingMessage,
  res: ServerResponse,
  err: TunnelError,
): void {
  conn.opts.log.debug(`${conn.label}: http ${req.method} ${req.url ?? ''}: ${err.code}: ${err.message}`);
  if (res.headersSent || res.destroyed) return void resetSocket(conn.socket);
  req.resume(); // drain an unread body, so closing does not turn into an RST that hides this answer
  const status = ERROR_TABLE[err.code].http;
  const body = errorBody(status, err);
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    Connection: 'close',
  });
  res.end(body);
}

function errorBody(status: number, err: TunnelError): string {
  return `${status} ${http.STATUS_CODES[status] ?? ''}: ett: ${err.code}: ${err.message}\n`;
}

function statusHead(status: number, fields: string): string {
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n${fields}\r\n\r\n`;
}
