// ett's DNS port: UDP and TCP (RFC 1035 §4.2: a 2-byte length before each message) on one address, or
// on sockets opened elsewhere (file descriptors: the isolated run opens them inside the program's
// namespace), answering every query from the name table (dns-answer.ts). Bounded: TCP connections at
// once (dnsTcpConnectionsMax), an idle deadline per TCP connection (dnsTcpIdleTimeoutMs), messages at most
// 65 535 bytes by their framing. A malformed message costs only itself (FORMERR or no answer).

import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { Limits } from '../limits.js';
import { PerSecond, type Logger } from '../log.js';
import type { Target } from '../wire/address.js';
import { answerDns } from './dns-answer.js';
import type { NameTable } from './names.js';

export type DnsListen =
  | { readonly kind: 'address'; readonly address: Target }
  /** Already bound sockets: a UDP one and a listening TCP one (either may be absent). */
  | { readonly kind: 'fds'; readonly udp?: number; readonly tcp?: number };

export interface DnsServer {
  /** Where UDP and TCP listen (address form; for fds, what the sockets report). */
  readonly udpAddress: Target | null;
  readonly tcpAddress: Target | null;
  /** Queries answered so far, and messages that got FORMERR or nothing. */
  readonly counts: { answered: number; malformed: number };
  close(): Promise<void>;
}

export interface DnsServerOptions {
  readonly table: NameTable;
  readonly limits: Limits;
  readonly log: Logger;
}

/** Starts serving. Rejects if a socket cannot be bound or adopted; then nothing is left open. */
/** Tries at a port of 0 whose number UDP got and TCP could not take. */
const PORT_ATTEMPTS = 8;

export async function startDnsServer(listen: DnsListen, o: DnsServerOptions): Promise<DnsServer> {
  const counts = { answered: 0, malformed: 0 };
  const junk = new PerSecond((n, from) => o.log.debug(`dns: ${n} malformed message(s), latest from ${from}`));
  const answer = (msg: Buffer, from: string): Buffer | null => {
    const r = answerDns(o.table, msg);
    if (r === null || (r[3]! & 0xf) === 1) {
      counts.malformed++;
      junk.add(from);
    } else counts.answered++;
    return r;
  };

  let udp: dgram.Socket | null = null;
  let tcp: net.Server | null = null;
  const open = new Set<net.Socket>();
  const closeAll = async (): Promise<void> => {
    for (const s of open) s.destroy(); // first: a TCP server's close waits for its connections
    await Promise.all([
      udp ? new Promise<void>((r) => udp!.close(() => r())) : undefined,
      tcp ? new Promise<void>((r) => tcp!.close(() => r())) : undefined,
    ]);
  };

  // Port 0: UDP picks a port and TCP must take the same number, which another TCP socket may hold;
  // then both are given up and tried again (bounded).
  const anyPort = listen.kind === 'address' && listen.address.port === 0;
  for (let attempt = 1; ; attempt++) {
    try {
      await bindBoth();
      break;
    } catch (err) {
      await closeAll();
      udp = null;
      tcp = null;
      const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
      if (!(anyPort && inUse && attempt < PORT_ATTEMPTS)) throw err;
    }
  }
  async function bindBoth(): Promise<void> {
    const family = listen.kind === 'address' && net.isIP(listen.address.host) === 6 ? 'udp6' : 'udp4';
    if (listen.kind === 'address' || listen.udp !== undefined) {
      const sock = dgram.createSocket({ type: family });
      udp = sock;
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        const done = (): void => {
          sock.off('error', reject);
          resolve();
        };
        if (listen.kind === 'address') sock.bind(listen.address.port, listen.address.host, done);
        else sock.bind({ fd: listen.udp! } as dgram.BindOptions, done);
      });
      sock.on('error', (err) => o.log.warn(`dns udp: ${err.message}`));
      sock.on('message', (msg, rinfo) => {
        const r = answer(msg, `${rinfo.address}:${rinfo.port}`);
        if (r !== null) sock.send(r, rinfo.port, rinfo.address);
      });
    }
    if (listen.kind === 'address' || listen.tcp !== undefined) {
      const server = net.createServer((s) => serveTcp(s, o, open, answer));
      tcp = server;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        const done = (): void => {
          server.off('error', reject);
          resolve();
        };
        // Port 0 picks one for UDP; TCP takes the same, as a resolver expects.
        const port = listen.kind === 'address' && udp !== null ? udp.address().port : 0;
        if (listen.kind === 'address') server.listen({ host: listen.address.host, port }, done);
        else server.listen({ fd: listen.tcp! }, done);
      });
      server.on('error', (err) => o.log.warn(`dns tcp: ${err.message}`));
    }
  }
  // (bindBoth set them; the compiler cannot see that.)
  const ua = (udp as dgram.Socket | null)?.address();
  const ta = (tcp as net.Server | null)?.address() as net.AddressInfo | undefined;
  return {
    udpAddress: ua ? { host: ua.address, port: ua.port } : null,
    tcpAddress: ta ? { host: ta.address, port: ta.port } : null,
    counts,
    close: closeAll,
  };
}

function serveTcp(
  s: net.Socket,
  o: DnsServerOptions,
  open: Set<net.Socket>,
  answer: (msg: Buffer, from: string) => Buffer | null,
): void {
  if (open.size >= o.limits.dnsTcpConnectionsMax) {
    s.destroy();
    return;
  }
  open.add(s);
  const from = `${s.remoteAddress}:${s.remotePort}`;
  let pending: Buffer = Buffer.alloc(0);
  const idle = (): void => {
    s.destroy();
  };
  s.setTimeout(o.limits.dnsTcpIdleTimeoutMs, idle);
  s.on('error', () => s.destroy());
  s.on('close', () => open.delete(s));
  s.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    // At most one message of 65 535 bytes and its prefix is ever held.
    while (pending.length >= 2) {
      const len = pending.readUInt16BE(0);
      if (pending.length < 2 + len) break;
      const r = answer(pending.subarray(2, 2 + len), from);
      pending = pending.subarray(2 + len);
      if (r === null) {
        s.destroy(); // not even an ID: the stream is not DNS
        return;
      }
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(r.length);
      s.write(Buffer.concat([prefix, r]));
    }
  });
}
