// Datagrams the kernel redirected to ett (the isolated run's namespace, DESIGN §16.7; the client's
// transparent port, §18): UDP to any address but loopback and port 53 arrives on one socket per family, from the program's address and port
// as connection tracking left them. Its original destination is asked of connection tracking
// (ctnetlink, through a socket of the namespace the datagrams come from), turned back into a name when it
// is a table address, and the datagram follows the client's rules through a UDP association of its own
// flow (router.associate, as a SOCKS5 UDP ASSOCIATE would). Answers are sent back from the same socket to
// the program's address: connection tracking rewrites their source to the original destination, so the
// program sees the server it sent to answer.
//
// Bounded: at most udpFlowsMax flows at once (more datagrams are dropped and counted), each ending after
// udpIdleTimeoutMs without a datagram either way; every association keeps its own limits
// (udp-association.ts). A datagram whose destination cannot be read, stands for a forgotten name, or is
// ruled direct under --isolate without --allow-direct is dropped, with one log line a second.

import type * as dgram from 'node:dgram';
import * as net from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Router } from '../client/router.js';
import { toTunnelError } from '../errors.js';
import type { Limits } from '../limits.js';
import { PerSecond, type Logger } from '../log.js';
import type { UdpSender } from '../proxy/dialer.js';
import { formatTarget, type Target } from '../wire/address.js';
import type { NameTable } from './names.js';
import type { Addon } from './native.js';
import { tableAddress, targetFor } from './transparent.js';

/** A flow quiet for this long has its original destination asked again, ms (conntrack forgets an unanswered UDP flow after 30 s). */
const RECHECK_MS = 5_000;

/** Local addresses a wildcard socket asks connection tracking under, at most. */
const LOCAL_ADDRESSES_MAX = 32;

type Dst = { address: string; port: number };

/** ::ffff:a.b.c.d (IPv4 on a dual-stack socket) as a.b.c.d, which is how connection tracking knows it. */
function unmapped(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m === null ? address : m[1]!;
}

function machineAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((i) => i.scopeid === undefined || i.scopeid === 0)
    .map((i) => i.address);
}

export interface TransparentUdpOptions {
  readonly router: Router;
  readonly table: NameTable;
  readonly addon: Addon;
  /** The ctnetlink socket of the namespace the datagrams come from. */
  readonly conntrackFd: number;
  readonly limits: Limits;
  readonly log: Logger;
  readonly allowDirect: boolean;
  /**
   * The addresses a datagram may have been redirected to, when the socket listens on a wildcard (a
   * router's prerouting redirect goes to the incoming interface's address): its flow is asked of
   * connection tracking under each. Default: the machine's own addresses (os.networkInterfaces).
   */
  readonly localAddresses?: () => string[];
}

interface Flow {
  /** The original destination as connection tracking gave it. */
  readonly dst: string;
  /** The local address its flow is tracked under. */
  readonly local: string;
  readonly target: Target;
  readonly assoc: UdpSender;
  readonly release: () => void;
  last: number;
}

export interface TransparentUdp {
  readonly drops: { unreadable: number; refused: number; flows: number };
  /** Flows open now. */
  flowCount(): number;
  close(): void;
}

/** Serves one bound UDP socket of redirected datagrams. The socket is the caller's to close. */
export function serveTransparentUdp(socket: dgram.Socket, o: TransparentUdpOptions): TransparentUdp {
  const flows = new Map<string, Flow>();
  const drops = { unreadable: 0, refused: 0, flows: 0 };
  const refusals = new PerSecond((n, latest) =>
    o.log.info(`transparent udp: ${n} datagram(s) dropped, latest: ${latest}`),
  );
  const local = socket.address();
  const wildcard = local.address === '0.0.0.0' || local.address === '::';
  const candidates = (v4: boolean): string[] => {
    if (!wildcard) return [v4 ? unmapped(local.address) : local.address];
    const all = (o.localAddresses ?? machineAddresses)();
    return all.filter((a) => net.isIPv4(a) === v4).slice(0, LOCAL_ADDRESSES_MAX);
  };
  /** Connection tracking's original destination of a datagram from `from`, and the local address it was redirected to. */
  const lookup = (from: dgram.RemoteInfo, only?: string): { dst: Dst; local: string } | null => {
    const peer = unmapped(from.address);
    for (const at of only !== undefined ? [only] : candidates(net.isIPv4(peer))) {
      const dst = o.addon.conntrackOrigDst(o.conntrackFd, at, local.port, peer, from.port);
      if (dst !== null) return { dst, local: at };
    }
    return null;
  };
  const end = (key: string, flow: Flow): void => {
    flows.delete(key);
    flow.assoc.close();
    flow.release();
  };
  // Idle flows end; a sweep a few times per timeout is enough (the bound is the flow count).
  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const [key, flow] of flows) if (now - flow.last > o.limits.udpIdleTimeoutMs) end(key, flow);
    },
    Math.max(250, Math.floor(o.limits.udpIdleTimeoutMs / 4)),
  );
  sweep.unref();

  const open = (from: dgram.RemoteInfo): Flow | null => {
    const found = lookup(from);
    if (found === null) {
      drops.unreadable++;
      refusals.add(`from ${from.address}:${from.port}: its original destination cannot be read`);
      return null;
    }
    const dst = found.dst;
    if (dst.port === local.port && dst.address === found.local) {
      // Sent to this socket itself, not redirected: there is no destination to carry it to.
      drops.unreadable++;
      refusals.add(
        `from ${from.address}:${from.port}: sent straight to the transparent port, not redirected`,
      );
      return null;
    }
    let target: Target;
    try {
      target = targetFor(o.table, dst.address, dst.port);
    } catch (err) {
      drops.refused++;
      refusals.add(toTunnelError(err).message);
      return null;
    }
    const { action, rule } = o.router.decision(target);
    if (action.kind === 'direct' && !o.allowDirect) {
      drops.refused++;
      refusals.add(
        `${formatTarget(target)}: rule ${rule?.text ?? 'default'} says direct, refused under --isolate (--allow-direct permits it)`,
      );
      return null;
    }
    if (flows.size >= o.limits.udpFlowsMax) {
      drops.flows++;
      refusals.add(`${formatTarget(target)}: ${flows.size} UDP flows open (limits.udp_flows_max)`);
      return null;
    }
    const held = tableAddress(dst.address);
    const assoc = o.router.associate((d) => {
      const flow = flows.get(`${from.address}|${from.port}`);
      if (flow !== undefined) flow.last = Date.now();
      socket.send(d.data, from.port, from.address);
    });
    return {
      dst: `${dst.address}|${dst.port}`,
      local: found.local,
      target,
      assoc,
      release: held === null ? () => undefined : o.table.hold(held),
      last: Date.now(),
    };
  };

  socket.on('message', (data, from) => {
    const key = `${from.address}|${from.port}`;
    let flow = flows.get(key);
    // After a pause, connection tracking may have forgotten the flow and tracked a new one under the
    // same addresses (another destination port): ask again.
    if (flow !== undefined && Date.now() - flow.last > RECHECK_MS) {
      const dst = lookup(from, flow.local)?.dst ?? null;
      if (dst === null || `${dst.address}|${dst.port}` !== flow.dst) {
        end(key, flow);
        flow = undefined;
      }
    }
    if (flow === undefined) {
      const made = open(from);
      if (made === null) return;
      flow = made;
      flows.set(key, flow);
    }
    flow.last = Date.now();
    flow.assoc.send({ peer: flow.target, data });
  });

  return {
    drops,
    flowCount: () => flows.size,
    close: () => {
      clearInterval(sweep);
      for (const [key, flow] of flows) end(key, flow);
    },
  };
}
