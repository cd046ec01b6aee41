// The relay's HTTP/1.1 CONNECT mode, for stock clients (ALPN http/1.1 or none):
//   curl --proxy https://relay:port --proxy-insecure --proxy-pinnedpubkey sha256//PIN \
//        --proxy-cert client.pem --proxy-key client.key http://target/
// The client's key has already been authorized by pin. One CONNECT per TLS connection; node:http's
// parser reads the request head (never hand-parsed); everything else is answered 405.

import * as http from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ERROR_TABLE, toTunnelError, TunnelError } from '../errors.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import { splice } from '../link/splice.js';
import { parseTarget, type Target } from '../wire/address.js';

export interface ConnectHandlerOptions {
  readonly limits: Limits;
  readonly log: Logger;
  /** Dials a target under the exit policy (rejects with a TunnelError). */
  readonly dial: (target: Target, signal: AbortSignal) => Promise<Socket>;
}

/** Serves HTTP CONNECT on authorized TLS sockets. Never throws; a bad request closes its connection. */
export function createConnectServer(opts: ConnectHandlerOptions): (socket: TLSSocket, peer: string) => void {
  const server = http.createServer({ maxHeaderSize: opts.limits.requestHeadMax });
  server.headersTimeout = opts.limits.requestHeadTimeoutMs;
  server.requestTimeout = opts.limits.requestHeadTimeoutMs;
  server.on('request', (_req, res) => {
    res.writeHead(405, { Allow: 'CONNECT', Connection: 'close', 'Content-Type': 'text/plain' });
    res.end('ett relay: only CONNECT is served here\n');
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    socket.destroy();
  });
  server.on('connect', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    void handleConnect(req, socket, head, opts);
  });
  return (socket) => {
    server.emit('connection', socket);
  };
}

async function handleConnect(
  req: http.IncomingMessage,
  socket: Socket,
  head: Buffer,
  opts: ConnectHandlerOptions,
) {
  const abort = new AbortController();
  socket.once('close', () => abort.abort());
  socket.on('error', () => socket.destroy());
  let target: Target;
  try {
    target = parseTarget(req.url ?? '');
  } catch (err) {
    return refuse(socket, toTunnelError(err, 'address-type'));
  }
  let exit: Socket;
  try {
    exit = await opts.dial(target, abort.signal);
  } catch (err) {
    opts.log.debug(`CONNECT refused: ${toTunnelError(err).code}`);
    return refuse(socket, toTunnelError(err));
  }
  if (socket.destroyed) {
    exit.destroy();
    return;
  }
  socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
  if (head.length > 0) exit.write(head);
  splice(socket, exit);
}

function refuse(socket: Socket, err: TunnelError): void {
  const status = ERROR_TABLE[err.code].http;
  const body = `ett relay: ${err.code}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\n` +
      `Content-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
}
