// Connections the kernel redirected to ett (the isolated run's namespace, §16, or the client's
// transparent port, §18): the original destination is read from the socket (SO_ORIGINAL_DST), turned
// back into a name when it is one of the name table's stand-ins (240.0.0.0/4, or the same inside
// 100::/96 from an AAAA answer), and dialed by the client's rules like a SOCKS request. While the
// connection is open its name is held in the table, so it keeps its address. A connection whose
// destination cannot be read, is the port itself (not redirected: connected to straight), or stands
// for a forgotten name is reset, with one log line a second. Under the isolated run a `direct`
// decision is refused unless allowed (direct means leaving outside ett).

import * as net from 'node:net';
import { carry } from '../client/forward.js';
import { sourceOf } from '../proxy/connection.js';
import type { Router } from '../client/router.js';
import { TunnelError, toTunnelError } from '../errors.js';
import { resetSocket } from '../link/splice.js';
import { PerSecond, type Logger } from '../log.js';
import { formatTarget, type Target } from '../wire/address.js';
import { formatIp, parseIp } from '../wire/ip.js';
import type { NameTable } from './names.js';
import { socketFd, type Addon } from './native.js';

export interface TransparentOptions {
  readonly router: Router;
  readonly table: NameTable;
  readonly addon: Addon;
  readonly log: Logger;
  /** Whether a rule's `direct` may serve (false under the isolated run unless --allow-direct). */
  readonly allowDirect: boolean;
  /** The log lines' prefix (default `transparent`). */
  readonly label?: string;
}

/**
 * The name table's IPv4 address a destination is, as dotted quad: itself, IPv4-mapped (::ffff:a.b.c.d,
 * a dual-stack listener's view) or inside 100::/96 (an AAAA answer); null when it is none of the table's.
 */
export function tableAddress(address: string): string | null {
  const ip = parseIp(address);
  let v4: string | null = null;
  if (ip?.family === 4) v4 = address;
  else if (ip?.family === 6) {
    const mapped =
      ip.bytes.subarray(0, 10).every((b) => b === 0) && ip.bytes[10] === 0xff && ip.bytes[11] === 0xff;
    const ours = ip.bytes[0] === 0x01 && ip.bytes.subarray(1, 12).every((b) => b === 0);
    if (mapped || ours) v4 = [...ip.bytes.subarray(12)].join('.');
  }
  return v4 !== null && (Number(v4.split('.')[0]) & 0xf0) === 240 ? v4 : null;
}

/**
 * The target a redirected destination stands for: the name behind a table address, else the address
 * itself (IPv4-mapped as plain IPv4). A TunnelError('bad-request') when it is a table address whose
 * name is not held.
 */
export function targetFor(table: NameTable, address: string, port: number): Target {
  const v4 = tableAddress(address);
  if (v4 !== null) {
    const name = table.nameFor(v4);
    if (name === undefined) {
      throw new TunnelError(
        'bad-request',
        `${address} stands for no name any more (forgotten, or never handed out)`,
      );
    }
    return { host: name, port };
  }
  const ip = parseIp(address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, ''));
  return { host: ip === null ? address : formatIp(ip), port };
}

/** Serves a listener of redirected connections. The server is the caller's to close. */
export function serveTransparent(server: net.Server, o: TransparentOptions): Set<net.Socket> {
  const open = new Set<net.Socket>();
  const label = o.label ?? 'transparent';
  const refusals = new PerSecond((n, latest) =>
    o.log.info(`${label}: ${n} connection(s) refused, latest: ${latest}`),
  );
  server.on('connection', (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    socket.on('error', (err) => o.log.debug(`${label}: app: ${err.message}`));
    socket.setNoDelay(true);
    let target: Target;
    try {
      const dst = o.addon.originalDst(socketFd(socket));
      if (dst === null || isItself(socket, dst)) {
        const from = `${socket.remoteAddress}:${socket.remotePort}`;
        throw new TunnelError(
          'bad-request',
          `from ${from}: not redirected (its original destination ${dst === null ? 'cannot be read' : 'is this port'})`,
        );
      }
      target = targetFor(o.table, dst.address, dst.port);
      const held = tableAddress(dst.address);
      if (held !== null) socket.once('close', o.table.hold(held));
    } catch (err) {
      refusals.add(toTunnelError(err).message);
      resetSocket(socket);
      return;
    }
    const decision = o.router.decision(target);
    const { action, rule } = decision;
    if (action.kind === 'direct' && !o.allowDirect) {
      refusals.add(
        `${formatTarget(target)}: rule ${rule?.text ?? 'default'} says direct, refused under --isolate (--allow-direct permits it)`,
      );
      resetSocket(socket);
      return;
    }
    carry(socket, o.router, decision, target, o.log, `${label}: ${formatTarget(target)}`, sourceOf(socket));
  });
  return open;
}

/** Whether the "original" destination is the listener itself: a connection made to it straight. */
function isItself(socket: net.Socket, dst: { address: string; port: number }): boolean {
  const plain = (a: string | undefined): string => (a ?? '').replace(/^::ffff:/i, '');
  return dst.port === socket.localPort && plain(dst.address) === plain(socket.localAddress);
}
