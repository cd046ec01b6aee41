// The exit's side of a UDP association (an OPEN with CMD 0x03): datagram records from the stream are
// sent from this relay's own UDP sockets, each to a destination the exit policy accepts for UDP; answers
// come back as records whose source is what the client named (a name stays the name it sent to).
//
// Bounds, each from limits.ts: datagrams per second sent (more are dropped), bytes waiting on the
// stream toward the client (a slow reader makes new answers drop, never blocks the link or the other
// streams), an idle deadline (nothing either way: the association ends), names looked up at once, and
// the peers it remembers. Answers are taken only from addresses this association has sent to.
// Drops are counted on the association and logged once when it ends.

import * as dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { toTunnelError } from '../errors.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import type { Census } from '../link/census.js';
import type { MuxStream } from '../link/stream.js';
import { formatIp, parseIpLoose, type IpAddress } from '../wire/ip.js';
import { formatTarget, type Target } from '../wire/address.js';
import { encodeRecord, RecordSplitter, type Datagram } from '../wire/udp.js';
import { evaluateExitPolicy, type ExitRule } from './exit-policy.js';

export interface UdpExitOptions {
  /** The policy now (a reload may change it). */
  readonly policy: () => readonly ExitRule[];
  readonly limits: Limits;
  readonly log: Logger;
  readonly census?: Census;
  /** The client's short pin, for logs. */
  readonly peer: string;
  /** Called once when the association ends (the relay's per-client count). */
  readonly onEnd?: () => void;
}

/** Peers remembered per association (answers are accepted from these only); the oldest go first. */
export const UDP_PEERS_MAX = 1024;
/** Name lookups in progress per association; datagrams to more names meanwhile are dropped. */
export const UDP_LOOKUPS_MAX = 16;

/** True if some rule of the policy accepts UDP at all (else an association is refused at once). */
export function policyAllowsUdp(policy: readonly ExitRule[]): boolean {
  return policy.some((r) => r.action === 'accept' && r.protocol !== 'tcp');
}

/** Serves one association on stream: answers its OPEN, then runs until either side ends. Never throws. */
export function serveUdpAssociation(stream: MuxStream, o: UdpExitOptions): void {
  if (!policyAllowsUdp(o.policy())) {
    o.census?.refused('policy');
    stream.reject('policy');
    o.onEnd?.();
    return;
  }
  new Association(stream, o).start();
}

class Association {
  private readonly splitter = new RecordSplitter();
  private readonly sockets = new Map<4 | 6, dgram.Socket>();
  /** "ip|port" → the target the client named (a name, or the literal it sent). */
  private readonly peers = new Map<string, Target>();
  private lookups = 0;
  private sentThisSecond = 0;
  private second = 0;
  private lastActive = Date.now();
  private idle: NodeJS.Timeout | null = null;
  private ended = false;
  private readonly drops = { rate: 0, policy: 0, slow: 0, foreign: 0, lookup: 0 };

  constructor(
    private readonly stream: MuxStream,
    private readonly o: UdpExitOptions,
  ) {}

  start(): void {
    this.stream.accept();
    this.o.census?.stream(this.stream, 'udp', this.o.peer);
    this.stream.on('data', (chunk: Buffer) => this.fromClient(chunk));
    this.stream.on('end', () => this.end());
    this.stream.on('error', () => this.end());
    this.stream.on('close', () => this.end());
    const every = Math.max(1000, Math.floor(this.o.limits.udpIdleTimeoutMs / 4));
    this.idle = setInterval(() => {
      if (Date.now() - this.lastActive >= this.o.limits.udpIdleTimeoutMs) {
        this.o.log.debug(`udp association of ${this.o.peer}: idle, closed`);
        this.stream.end();
        this.end();
      }
    }, every);
    this.idle.unref();
  }

  private fromClient(chunk: Buffer): void {
    let records: Datagram[];
    try {
      records = this.splitter.push(chunk);
    } catch (err) {
      this.o.log.info(`udp association of ${this.o.peer}: ${toTunnelError(err).message}; reset`);
      this.stream.destroy(toTunnelError(err, 'protocol'));
      this.end();
      return;
    }
    for (const d of records) this.send(d);
  }

  private send(d: Datagram): void {
    this.lastActive = Date.now();
    const second = Math.floor(this.lastActive / 1000);
    if (second !== this.second) {
      this.second = second;
      this.sentThisSecond = 0;
    }
    if (this.sentThisSecond >= this.o.limits.udpDatagramsPerSecond) {
      this.drops.rate++;
      return;
    }
    this.sentThisSecond++;
    const literal = parseIpLoose(d.peer.host);
    if (literal !== null) {
      this.sendTo(literal, d);
      return;
    }
    if (this.lookups >= UDP_LOOKUPS_MAX) {
      this.drops.lookup++;
      return;
    }
    this.lookups++;
    lookup(d.peer.host, { all: true, verbatim: true }).then(
      (answers) => {
        this.lookups--;
        // The first address the policy accepts, as for TCP (exit.ts): the one judged is the one used.
        for (const a of answers) {
          const ip = parseIpLoose(a.address);
          if (ip !== null && evaluateExitPolicy(this.o.policy(), ip, d.peer.port, 'udp').accept) {
            this.sendTo(ip, d);
            return;
          }
        }
        this.refused(d, answers.length === 0 ? 'no address' : 'no address the exit policy accepts for UDP');
      },
      () => {
        this.lookups--;
        this.drops.lookup++;
      },
    );
  }

  private sendTo(ip: IpAddress, d: Datagram): void {
    if (this.ended) return;
    const v = evaluateExitPolicy(this.o.policy(), ip, d.peer.port, 'udp');
    if (!v.accept) {
      this.refused(d, `refused by exit policy rule "${v.rule.text}"`);
      return;
    }
    const address = formatIp(ip);
    const key = `${address}|${d.peer.port}`;
    this.peers.delete(key); // re-inserted: most recent last
    this.peers.set(key, d.peer);
    if (this.peers.size > UDP_PEERS_MAX) this.peers.delete(this.peers.keys().next().value!);
    this.socket(ip.family).send(d.data, d.peer.port, address);
  }

  private refused(d: Datagram, why: string): void {
    this.drops.policy++;
    this.o.census?.refused('policy');
    this.o.log.debug(`udp association of ${this.o.peer}: ${formatTarget(d.peer)}: ${why}`);
  }

  private socket(family: 4 | 6): dgram.Socket {
    let s = this.sockets.get(family);
    if (s === undefined) {
      const sock = dgram.createSocket({ type: family === 4 ? 'udp4' : 'udp6' });
      sock.on('error', (err) => this.o.log.debug(`udp association of ${this.o.peer}: ${err.message}`));
      sock.on('message', (msg, rinfo) => this.fromPeer(msg, rinfo));
      sock.bind(0);
      this.sockets.set(family, sock);
      s = sock;
    }
    return s;
  }

  private fromPeer(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.ended) return;
    const ip = parseIpLoose(rinfo.address);
    const named = ip === null ? undefined : this.peers.get(`${formatIp(ip)}|${rinfo.port}`);
    if (named === undefined) {
      this.drops.foreign++;
      return;
    }
    this.lastActive = Date.now();
    if (this.stream.writableLength > this.o.limits.udpBytesInFlight) {
      this.drops.slow++;
      return;
    }
    try {
      this.stream.write(encodeRecord({ peer: named, data: msg }));
    } catch (err) {
      this.o.log.debug(`udp association of ${this.o.peer}: ${(err as Error).message}`);
    }
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.idle) clearInterval(this.idle);
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
    const d = this.drops;
    const total = d.rate + d.policy + d.slow + d.foreign + d.lookup;
    if (total > 0) {
      this.o.log.info(
        `udp association of ${this.o.peer} ended; dropped ${total} datagram(s): ` +
          `${d.rate} over udp_datagrams_per_second, ${d.policy} refused by the exit policy, ` +
          `${d.slow} to a slow reader, ${d.foreign} from peers never sent to, ${d.lookup} unresolved`,
      );
    }
    if (!this.stream.destroyed) this.stream.destroy();
    this.o.onEnd?.();
  }
}
