// SOCKS5 UDP ASSOCIATE (RFC 1928 §4 CMD 3, §7), after the method selection and any RFC 1929 login:
// a UDP socket of the association's own on the address the TCP connection reached, whose address the
// reply gives (BND.ADDR, BND.PORT). The association lives as long as its TCP control connection (and
// ends after udp_idle_timeout_ms with no datagram either way, closing that connection).
//
// Who may use it: datagrams are taken only from the control connection's own IP address and, when the
// request named a port (DST.PORT ≠ 0), from that port; otherwise from the first port a datagram comes
// from, fixed from then on. Anything else is dropped and counted, as are FRAG ≠ 0 (ett does not
// reassemble) and malformed headers. Answers go to that address, with their source in the header (a
// name the application sent to comes back as that name).

import * as dgram from 'node:dgram';
import { isIP } from 'node:net';
import { ERROR_TABLE, SOCKS5_SUCCEEDED, toTunnelError } from '../errors.js';
import type { Target } from '../wire/address.js';
import { encodeReply } from '../wire/socks5.js';
import { decodeSocksUdp, encodeSocksUdp } from '../wire/udp.js';
import type { PortConnection } from './connection.js';
import type { UdpSender } from './dialer.js';

/** Serves an accepted UDP ASSOCIATE request. `named` is the request's DST. Never throws. */
export function serveUdpAssociate(conn: PortConnection, named: Target): void {
  const { socket, opts } = conn;
  const associate = opts.dialer.associate?.bind(opts.dialer);
  if (associate === undefined) {
    conn.replyAndClose(encodeReply(ERROR_TABLE['command-unsupported'].socks5));
    return;
  }
  const local = socket.localAddress ?? '127.0.0.1';
  const clientIp = unmapped(socket.remoteAddress ?? '');
  let clientPort = named.port; // 0: the first datagram's source port, fixed from then on
  const udp = dgram.createSocket({ type: isIP(local) === 6 ? 'udp6' : 'udp4' });
  const drops = { source: 0, fragment: 0, malformed: 0 };
  let lastActive = Date.now();
  let sender: UdpSender | null = null;
  let closed = false;
  let idle: NodeJS.Timeout | null = null;

  const close = (): void => {
    if (closed) return;
    closed = true;
    if (idle) clearInterval(idle);
    sender?.close();
    udp.close();
    const all = { ...drops, ...(sender?.drops ?? {}) };
    const total = Object.values(all).reduce((a, b) => a + b, 0);
    if (total > 0) {
      const parts = Object.entries(all)
        .filter(([, n]) => n > 0)
        .map(([why, n]) => `${n} ${why}`);
      opts.log.info(`${conn.label}: socks5 udp association ended; dropped ${parts.join(', ')}`);
    }
    if (!socket.destroyed) socket.end();
  };

  udp.on('error', (err) => {
    opts.log.debug(`${conn.label}: socks5 udp: ${err.message}`);
    if (sender === null) conn.replyAndClose(encodeReply(ERROR_TABLE.general.socks5));
    close();
  });
  udp.bind({ address: local, port: 0 }, () => {
    if (socket.destroyed) {
      close();
      return;
    }
    sender = associate((d) => {
      if (closed || clientPort === 0) return;
      lastActive = Date.now();
      udp.send(encodeSocksUdp(d), clientPort, clientIp);
    });
    const bound = udp.address();
    socket.write(encodeReply(SOCKS5_SUCCEEDED, { host: bound.address, port: bound.port }));
    opts.log.debug(`${conn.label}: socks5 udp association on ${bound.address}:${bound.port}`);
    const every = Math.max(1000, Math.floor(opts.limits.udpIdleTimeoutMs / 4));
    idle = setInterval(() => {
      if (Date.now() - lastActive >= opts.limits.udpIdleTimeoutMs) close();
    }, every);
    idle.unref();
  });
  udp.on('message', (msg, rinfo) => {
    if (sender === null || closed) return;
    if (unmapped(rinfo.address) !== clientIp || (clientPort !== 0 && rinfo.port !== clientPort)) {
      drops.source++;
      return;
    }
    clientPort = rinfo.port;
    lastActive = Date.now();
    let d;
    try {
      d = decodeSocksUdp(msg);
    } catch (err) {
      if (/fragment/.test(toTunnelError(err).message)) drops.fragment++;
      else drops.malformed++;
      return;
    }
    sender.send(d);
  });
  // The control connection carries nothing more; its end ends the association.
  socket.on('data', () => undefined);
  socket.on('end', close);
  socket.on('close', close);
}

function unmapped(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}
