// The client's side of one UDP association: every datagram the application sends is routed by the
// client's rules on its own destination, as a TCP connection would be:
//   block  → dropped (counted);
//   direct → sent from a local UDP socket of this association (a name is resolved here);
//   route / group → a record on the association stream of that path (an OPEN with CMD 0x03 on the
//            route's circuit), opened on first use and shared by every destination going that way.
// Nothing waits: while a path's stream opens, at most UDP_QUEUE_MAX datagrams wait for it; a stream whose
// writes are backed up beyond udp_bytes_in_flight, or a sender over udp_datagrams_per_second, drops.
// A path whose stream failed drops for UDP_RETRY_MS, then the next datagram tries again.

import * as dgram from 'node:dgram';
import { toTunnelError } from '../errors.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import type { MuxStream } from '../link/stream.js';
import type { UdpSender } from '../proxy/dialer.js';
import { formatTarget } from '../wire/address.js';
import { parseIpLoose, formatIp } from '../wire/ip.js';
import { encodeRecord, RecordSplitter, type Datagram } from '../wire/udp.js';
import type { Action } from './rules.js';

/** Datagrams that wait for a path's stream to open; more are dropped. */
export const UDP_QUEUE_MAX = 64;
/** After a path's stream failed to open, datagrams for it are dropped this long, ms. */
export const UDP_RETRY_MS = 1000;

export interface AssociationOptions {
  /** The action for a destination (the client's rules). */
  readonly decide: (d: Datagram) => Action;
  /** Opens (and waits for the result of) an association stream on a route or group's path. */
  readonly open: (action: Extract<Action, { kind: 'route' | 'group' }>) => Promise<MuxStream>;
  readonly limits: Limits;
  readonly log: Logger;
  readonly onReply: (d: Datagram) => void;
}

interface Path {
  stream: MuxStream | null;
  queue: Datagram[];
  failedAt: number;
}

export class ClientAssociation implements UdpSender {
  private readonly paths = new Map<string, Path>();
  private direct: Map<4 | 6, dgram.Socket> | null = null;
  private second = 0;
  private sent = 0;
  private closed = false;
  readonly drops = { blocked: 0, rate: 0, queue: 0, slow: 0, failed: 0, bad: 0 };

  constructor(private readonly o: AssociationOptions) {}

  send(d: Datagram): void {
    if (this.closed) return;
    const now = Date.now();
    const second = Math.floor(now / 1000);
    if (second !== this.second) {
      this.second = second;
      this.sent = 0;
    }
    if (this.sent >= this.o.limits.udpDatagramsPerSecond) {
      this.drops.rate++;
      return;
    }
    this.sent++;
    const action = this.o.decide(d);
    switch (action.kind) {
      case 'block':
        this.drops.blocked++;
        return;
      case 'direct':
        this.sendDirect(d);
        return;
      case 'route':
      case 'group':
        this.sendOn(action, d, now);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.paths.values()) p.stream?.destroy();
    this.paths.clear();
    for (const s of this.direct?.values() ?? []) s.close();
    this.direct = null;
  }

  private sendOn(action: Extract<Action, { kind: 'route' | 'group' }>, d: Datagram, now: number): void {
    const key = action.kind === 'route' ? `route ${action.route.name}` : `group ${action.name}`;
    let path = this.paths.get(key);
    if (path !== undefined && path.stream === null && path.failedAt > 0) {
      if (now - path.failedAt < UDP_RETRY_MS) {
        this.drops.failed++;
        return;
      }
      this.paths.delete(key);
      path = undefined;
    }
    if (path === undefined) {
      path = { stream: null, queue: [], failedAt: 0 };
      this.paths.set(key, path);
      this.openPath(key, path, action);
    }
    if (path.stream === null) {
      if (path.queue.length >= UDP_QUEUE_MAX) this.drops.queue++;
      else path.queue.push(d);
      return;
    }
    this.write(path.stream, d);
  }

  private openPath(key: string, path: Path, action: Extract<Action, { kind: 'route' | 'group' }>): void {
    this.o.open(action).then(
      (stream) => {
        if (this.closed || this.paths.get(key) !== path) {
          stream.destroy();
          return;
        }
        path.stream = stream;
        const splitter = new RecordSplitter();
        stream.on('data', (chunk: Buffer) => {
          let records: Datagram[];
          try {
            records = splitter.push(chunk);
          } catch (err) {
            this.o.log.info(`udp ${key}: ${toTunnelError(err).message}; association stream reset`);
            stream.destroy(toTunnelError(err, 'protocol'));
            return;
          }
          for (const r of records) this.o.onReply(r);
        });
        const gone = (): void => {
          if (this.paths.get(key) === path) this.paths.delete(key); // the next datagram opens anew
        };
        stream.on('error', gone);
        stream.on('close', gone);
        stream.on('end', () => stream.end());
        for (const q of path.queue) this.write(stream, q);
        path.queue = [];
      },
      (err: unknown) => {
        const e = toTunnelError(err);
        this.o.log.info(`udp ${key}: association refused or failed: ${e.code} (${e.message})`);
        this.drops.failed += path.queue.length;
        path.queue = [];
        path.failedAt = Date.now();
      },
    );
  }

  private write(stream: MuxStream, d: Datagram): void {
    if (stream.writableLength > this.o.limits.udpBytesInFlight) {
      this.drops.slow++;
      return;
    }
    try {
      stream.write(encodeRecord(d));
    } catch {
      this.drops.bad++; // an address or size encodeRecord refuses
    }
  }

  private sendDirect(d: Datagram): void {
    const ip = parseIpLoose(d.peer.host);
    const family: 4 | 6 = ip?.family === 6 ? 6 : 4;
    const sock = this.directSocket(family);
    // A name is looked up by dgram itself (a direct rule means this machine's resolver may see it).
    sock.send(d.data, d.peer.port, ip === null ? d.peer.host : formatIp(ip), (err) => {
      if (err) this.o.log.debug(`udp direct ${formatTarget(d.peer)}: ${err.message}`);
    });
  }

  private directSocket(family: 4 | 6): dgram.Socket {
    this.direct ??= new Map();
    let s = this.direct.get(family);
    if (s === undefined) {
      const sock = dgram.createSocket({ type: family === 4 ? 'udp4' : 'udp6' });
      sock.on('error', (err) => this.o.log.debug(`udp direct: ${err.message}`));
      sock.on('message', (msg, rinfo) => {
        const ip = parseIpLoose(rinfo.address);
        if (ip === null) return;
        // The socket is this association's own (an ephemeral port): what reaches it is its answers.
        this.o.onReply({ peer: { host: formatIp(ip), port: rinfo.port }, data: msg });
      });
      sock.bind(0);
      this.direct.set(family, sock);
      s = sock;
    }
    return s;
  }
}
