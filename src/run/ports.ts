// The client's transparent port and DNS port (`ett client --transparent … --dns …`, DESIGN §18): for a
// whole machine or a router whose kernel redirects TCP and DNS to them (ett transparent-rules). Both
// share one name table: the DNS port hands out 240.0.0.0/4 addresses for names, the transparent port
// turns a connection to one back into its name, which goes to the exit. A host of `localhost` listens
// on both loopbacks (127.0.0.1 and ::1), where a machine's redirected IPv4 and IPv6 arrive.

import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { Router } from '../client/router.js';
import { TunnelError } from '../errors.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import { resetSocket } from '../link/splice.js';
import type { Target } from '../wire/address.js';
import { startDnsServer, type DnsServer } from './dns-server.js';
import { NameTable } from './names.js';
import { loadAddon } from './native.js';
import { serveTransparent } from './transparent.js';
import { serveTransparentUdp, type TransparentUdp } from './transparent-udp.js';

export interface RedirectPortsOptions {
  readonly transparent?: Target;
  readonly dns?: Target;
  readonly router: Router;
  readonly limits: Limits;
  readonly log: Logger;
}

export interface RedirectPorts {
  /** Where the transparent port listens (one address per socket), and the DNS port (UDP and TCP). */
  readonly transparent: readonly Target[];
  readonly dns: readonly Target[];
  readonly table: NameTable;
  /**
   * Why redirected UDP cannot be carried (connection tracking cannot be asked), or null when it can:
   * the transparent port takes UDP on its port too, each datagram by its original destination.
   */
  readonly udpUnavailable: string | null;
  /** UDP flows carried now, all sockets together. */
  udpFlowCount(): number;
  /** DNS queries answered and malformed, all sockets together. */
  dnsCounts(): { answered: number; malformed: number };
  close(): Promise<void>;
}

/** The addresses a listen target stands for: `localhost` is both loopbacks. */
export function listenAddresses(t: Target): Target[] {
  if (t.host.toLowerCase() !== 'localhost') return [t];
  return [
    { host: '127.0.0.1', port: t.port },
    { host: '::1', port: t.port },
  ];
}

/**
 * Opens the ports asked for. Rejects with TunnelError('config') if the native addon the transparent
 * port needs is unavailable or a port cannot be opened; then nothing is left open.
 */
export async function startRedirectPorts(o: RedirectPortsOptions): Promise<RedirectPorts> {
  const table = new NameTable(o.limits.nameTableSize);
  const servers: net.Server[] = [];
  const open: Set<net.Socket>[] = [];
  const dns: DnsServer[] = [];
  const udpSockets: dgram.Socket[] = [];
  const udp: TransparentUdp[] = [];
  let conntrackFd: number | null = null;
  let udpUnavailable: string | null = null;
  let closeFd = (_fd: number): void => undefined;
  const close = async (): Promise<void> => {
    for (const set of open) for (const s of set) resetSocket(s);
    for (const u of udp) u.close();
    for (const s of udpSockets) s.close();
    if (conntrackFd !== null) closeFd(conntrackFd);
    conntrackFd = null;
    await Promise.all([
      ...servers.map((s) => new Promise<void>((r) => s.close(() => r()))),
      ...dns.map((d) => d.close()),
    ]);
  };
  try {
    if (o.transparent !== undefined) {
      const addon = await loadAddon('ett client --transparent');
      if ('why' in addon) throw new TunnelError('config', addon.why);
      closeFd = (fd) => addon.closeFd(fd);
      try {
        conntrackFd = addon.conntrackOpen();
      } catch (err) {
        udpUnavailable = (err as Error).message;
        o.log.warn(
          `transparent port: redirected UDP cannot be carried (${udpUnavailable}); such datagrams are dropped`,
        );
      }
      // A port of 0 picks one for the first address; the others (::1 for localhost) take the same.
      let port = o.transparent.port;
      for (const at of listenAddresses(o.transparent)) {
        const server = await listen({ host: at.host, port }, 'transparent');
        servers.push(server);
        port = (server.address() as net.AddressInfo).port;
        open.push(
          serveTransparent(server, { router: o.router, table, addon, log: o.log, allowDirect: true }),
        );
        // UDP on the same address and port: `ett transparent-rules --udp` redirects datagrams there.
        const socket = await bindUdp({ host: at.host, port });
        udpSockets.push(socket);
        if (conntrackFd !== null) {
          const fd = conntrackFd;
          udp.push(
            serveTransparentUdp(socket, {
              router: o.router,
              table,
              addon,
              conntrackFd: fd,
              limits: o.limits,
              log: o.log,
              allowDirect: true,
            }),
          );
        }
      }
    }
    if (o.dns !== undefined) {
      let port = o.dns.port;
      for (const at of listenAddresses(o.dns)) {
        const d = await startDnsServer(
          { kind: 'address', address: { host: at.host, port } },
          { table, limits: o.limits, log: o.log },
        ).catch((err: unknown) => {
          throw new TunnelError(
            'config',
            `DNS port ${at.host}:${port}: cannot listen: ${(err as Error).message}`,
          );
        });
        dns.push(d);
        port = d.udpAddress!.port;
      }
    }
  } catch (err) {
    await close();
    throw err;
  }
  return {
    transparent: servers.map((s) => {
      const a = s.address() as net.AddressInfo;
      return { host: a.address, port: a.port };
    }),
    dns: dns.map((d) => d.udpAddress!),
    table,
    udpUnavailable,
    udpFlowCount: () => udp.reduce((n, u) => n + u.flowCount(), 0),
    dnsCounts: () => {
      const c = { answered: 0, malformed: 0 };
      for (const d of dns) {
        c.answered += d.counts.answered;
        c.malformed += d.counts.malformed;
      }
      return c;
    },
    close,
  };
}

function listen(at: Target, what: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer({ pauseOnConnect: false });
    server.once('error', (err) =>
      reject(new TunnelError('config', `${what} port ${at.host}:${at.port}: cannot listen: ${err.message}`)),
    );
    server.listen({ host: at.host, port: at.port, ipv6Only: false }, () => resolve(server));
  });
}

/** A UDP socket on the transparent port's address (dual-stack on `::`); TunnelError('config') if taken. */
function bindUdp(at: Target): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: net.isIPv6(at.host) ? 'udp6' : 'udp4', ipv6Only: false });
  return new Promise((resolve, reject) => {
    const failed = (err: Error): void => {
      socket.close();
      reject(
        new TunnelError(
          'config',
          `transparent port ${at.host}:${at.port} (UDP): cannot listen: ${err.message}`,
        ),
      );
    };
    socket.once('error', failed);
    socket.bind(at.port, at.host, () => {
      socket.off('error', failed);
      // Later errors (a send to a gone peer) concern one datagram, not the port.
      socket.on('error', () => undefined);
      resolve(socket);
    });
  });
}
