// What ett adds to yamux framing, both inside DATA payloads. Pure.
//
// OPEN header: the payload of the DATA|SYN frame that opens a stream starts with it. The target travels
// exactly as the application gave it (a hostname stays a hostname), in the SOCKS5 address encoding.
// Bytes after it in the same frame are optimistic data for the target.
//
//   +-----+------+----------+----------+----------------------+
//   | CMD | ATYP | DST.ADDR | DST.PORT | optimistic data ...  |
//   +-----+------+----------+----------+----------------------+
//   |  1  |  1   | Variable |    2     | rest of the frame    |
//   +-----+------+----------+----------+----------------------+
//   CMD 0x01 = CONNECT; 0x03 = UDP ASSOCIATE (address 0.0.0.0:0, unused: each datagram record on the
//   stream names its own destination, see wire/udp.ts);
//   0x04 = PUBLISH (client → relay; address RBIND:RPORT, an IP literal and a port 1..65535: "listen
//   there for me"; result 0 = listening, and the stream then stays open, carrying no data, for as long
//   as the port is published: either side ending or resetting it ends the publication);
//   0x05 = INCOMING (relay → client, on an even stream id: one connection accepted on a published
//   port; address the RBIND:RPORT exactly as the PUBLISH gave it, so the client knows which of its
//   publications it is; result 0 = the client connected its local service). DESIGN.md §20.
//
// Result: the first DATA frame the accepting side sends on a stream carries the ACK flag and starts
// with one byte, the result: 0 = connected, anything else a code of the error table (errors.ts). A
// failure's ACK also carries RST, which ends the stream.
//
//   +--------+------------------+
//   | RESULT | data (if 0) ...  |
//   +--------+------------------+

import { TunnelError } from '../errors.js';
import { decodeSocksAddress, encodeSocksAddress, type Target } from '../wire/address.js';

export const OPEN_CONNECT = 0x01;
export const OPEN_UDP = 0x03;
export const OPEN_PUBLISH = 0x04;
export const OPEN_INCOMING = 0x05;
const KNOWN_COMMANDS: ReadonlySet<number> = new Set([OPEN_CONNECT, OPEN_UDP, OPEN_PUBLISH, OPEN_INCOMING]);
/** The address a UDP ASSOCIATE OPEN carries. */
export const UDP_OPEN_TARGET = Object.freeze({ host: '0.0.0.0', port: 0 });

export interface Open {
  readonly command: number;
  readonly target: Target;
}

/** CMD + address. Throws TunnelError('address-type') for a target that cannot be encoded. */
export function encodeOpen(open: Open): Buffer {
  const addr = encodeSocksAddress(open.target);
  const b = Buffer.allocUnsafe(1 + addr.length);
  b[0] = open.command;
  b.set(addr, 1);
  return b;
}

/**
 * Reads an OPEN header from the start of a SYN payload, which must hold all of it. Throws
 * TunnelError: 'bad-request' for a truncated header, 'command-unsupported' for a CMD other than
 * CONNECT, UDP ASSOCIATE, PUBLISH and INCOMING, 'address-type' for a bad address. Which side may send
 * which command is the receiver's check (the relay serves CONNECT, UDP and PUBLISH; a client only
 * INCOMING).
 */
export function decodeOpen(payload: Uint8Array): { open: Open; bytesUsed: number } {
  if (payload.length < 1) throw new TunnelError('bad-request', 'empty OPEN header');
  const command = payload[0]!;
  if (!KNOWN_COMMANDS.has(command)) throw new TunnelError('command-unsupported', `OPEN command ${command}`);
  const addr = decodeSocksAddress(payload, 1);
  if (addr === null) throw new TunnelError('bad-request', 'truncated OPEN header');
  return { open: { command, target: addr.value }, bytesUsed: 1 + addr.bytesUsed };
}
