// UDP datagrams, in the two encodings ett speaks. Pure.
//
// SOCKS5 UDP request header (RFC 1928 §7), on the client's UDP relay port, each way:
//
//   +-----+------+------+----------+----------+----------+
//   | RSV | FRAG | ATYP | DST.ADDR | DST.PORT |   DATA   |
//   |  2  |  1   |  1   | variable |    2     | variable |
//   +-----+------+------+----------+----------+----------+
//   RSV 0x0000; FRAG 0 (a datagram of its own: ett does not reassemble fragments); the address is the
//   destination from the application, the source on the way back.
//
// ett's datagram record, inside a UDP association's stream (the OPEN's CMD 0x03), each way:
//
//   +--------+------+----------+----------+----------+
//   |  LEN   | ATYP | DST.ADDR | DST.PORT |   DATA   |
//   |   2    |  1   | variable |    2     | variable |
//   +--------+------+----------+----------+----------+
//   LEN (big-endian) counts what follows it: address, port and data. Client to exit the address is the
//   destination (a name stays a name); exit to client it is the source the datagram came from.

import { TunnelError } from '../errors.js';
import { decodeSocksAddress, encodeSocksAddress, type Target } from './address.js';

/** Largest UDP payload over IPv4 (65 535 − 20 IP − 8 UDP); ett never carries a larger one. */
export const UDP_PAYLOAD_MAX = 65_507;
/** Largest LEN of a record (16 bits): with a long name, the payload can be a little under UDP_PAYLOAD_MAX. */
export const RECORD_BODY_MAX = 0xffff;

export interface Datagram {
  /** Destination (client → exit) or source (exit → client). */
  readonly peer: Target;
  readonly data: Uint8Array;
}

/**
 * Reads one SOCKS5 UDP request. Throws TunnelError: 'bad-request' for a packet shorter than its header,
 * non-zero RSV, or FRAG other than 0 (message says which); 'address-type' for a bad address.
 */
export function decodeSocksUdp(packet: Uint8Array): Datagram & { readonly frag: number } {
  if (packet.length < 4) throw new TunnelError('bad-request', `UDP request of ${packet.length} bytes`);
  if (packet[0] !== 0 || packet[1] !== 0) throw new TunnelError('bad-request', 'UDP request RSV is not 0');
  const frag = packet[2]!;
  if (frag !== 0)
    throw new TunnelError('bad-request', `UDP request fragment ${frag} (only FRAG 0 is served)`);
  const addr = decodeSocksAddress(packet, 3);
  if (addr === null) throw new TunnelError('bad-request', 'truncated UDP request header');
  const data = packet.subarray(3 + addr.bytesUsed);
  if (data.length > UDP_PAYLOAD_MAX)
    throw new TunnelError('bad-request', `UDP payload of ${data.length} bytes`);
  return { peer: addr.value, data, frag };
}

/** A SOCKS5 UDP reply: RSV 0, FRAG 0, the source address, the data. Throws as encodeSocksAddress does. */
export function encodeSocksUdp(d: Datagram): Buffer {
  const addr = encodeSocksAddress(d.peer);
  const out = Buffer.allocUnsafe(3 + addr.length + d.data.length);
  out[0] = 0;
  out[1] = 0;
  out[2] = 0;
  out.set(addr, 3);
  out.set(d.data, 3 + addr.length);
  return out;
}

/**
 * One record of an association's stream. Throws TunnelError('bad-request') for a payload over
 * UDP_PAYLOAD_MAX, and as encodeSocksAddress does for a bad address.
 */
export function encodeRecord(d: Datagram): Buffer {
  if (d.data.length > UDP_PAYLOAD_MAX) {
    throw new TunnelError('bad-request', `datagram of ${d.data.length} bytes (at most ${UDP_PAYLOAD_MAX})`);
  }
  const addr = encodeSocksAddress(d.peer);
  const len = addr.length + d.data.length;
  if (len > RECORD_BODY_MAX)
    throw new TunnelError(
      'bad-request',
      `datagram of ${d.data.length} bytes for a ${addr.length}-byte address`,
    );
  const out = Buffer.allocUnsafe(2 + len);
  out.writeUInt16BE(len, 0);
  out.set(addr, 2);
  out.set(d.data, 2 + addr.length);
  return out;
}

/**
 * Splits an association's byte stream into records, across chunk boundaries. Holds at most one
 * incomplete record (≤ 2 + RECORD_BODY_MAX bytes). push() throws TunnelError('protocol') for a record
 * whose LEN is 0, whose address does not fill it, or whose data is over UDP_PAYLOAD_MAX; 'address-type' for a
 * bad address. After a throw the splitter is not to be used again (the stream is reset).
 */
export class RecordSplitter {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Uint8Array): Datagram[] {
    let buf = this.pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.pending, chunk]);
    const out: Datagram[] = [];
    for (;;) {
      if (buf.length < 2) break;
      const len = buf.readUInt16BE(0);
      if (len === 0) throw new TunnelError('protocol', 'UDP record of length 0');
      if (buf.length < 2 + len) break;
      const body = buf.subarray(2, 2 + len);
      const addr = decodeSocksAddress(body, 0);
      if (addr === null) throw new TunnelError('protocol', 'UDP record shorter than its address');
      if (len - addr.bytesUsed > UDP_PAYLOAD_MAX) {
        throw new TunnelError('protocol', `UDP record with ${len - addr.bytesUsed} bytes of data`);
      }
      // The data is copied out: the chunk's buffer may be reused by the stream once we return.
      out.push({ peer: addr.value, data: Buffer.from(body.subarray(addr.bytesUsed)) });
      buf = buf.subarray(2 + len);
    }
    this.pending = buf.length === 0 ? Buffer.alloc(0) : Buffer.from(buf);
    return out;
  }

  /** Bytes held of an incomplete record. */
  get buffered(): number {
    return this.pending.length;
  }
}
