// Targets (host and port, as the application gave them) and their SOCKS5 address encoding, which the
// multiplexer's OPEN header reuses. Pure.
// OWNER: helper "wire" — implement every function below; keep signatures.
//
//   +------+----------+----------+
//   | ATYP | DST.ADDR | DST.PORT |     ATYP 0x01: 4 bytes IPv4; 0x03: 1 length byte + name; 0x04: 16 bytes IPv6
//   +------+----------+----------+
//   |  1   | Variable |    2     |
//   +------+----------+----------+

import type { Decoded } from './decoded.js';

/** host: dotted-quad IPv4, IPv6 text without brackets, or a domain name exactly as given. port: 1..65535 (0 only where a reply's bound address needs it). */
export interface Target {
  readonly host: string;
  readonly port: number;
}

export type HostKind = 'ipv4' | 'ipv6' | 'domain';

export const ATYP_IPV4 = 0x01;
export const ATYP_DOMAIN = 0x03;
export const ATYP_IPV6 = 0x04;

/** Strict literal classification (via ip.ts parseIp); anything else is a domain. */
export function hostKind(_host: string): HostKind {
  throw new Error('unimplemented');
}

/** host:port, IPv6 as [addr]:port. */
export function formatTarget(_t: Target): string {
  throw new Error('unimplemented');
}

/** Parses host:port / [v6]:port. Throws TunnelError('address-type') naming what is wrong. */
export function parseTarget(_text: string): Target {
  throw new Error('unimplemented');
}

/** ATYP+ADDR+PORT. Domains longer than 255 bytes (UTF-8) throw TunnelError('address-type'). */
export function encodeSocksAddress(_t: Target): Uint8Array {
  throw new Error('unimplemented');
}

/** Decodes ATYP+ADDR+PORT at buf[offset..]; null if more bytes needed. Bad ATYP or empty domain throw TunnelError('address-type'). bytesUsed counts from offset. */
export function decodeSocksAddress(_buf: Uint8Array, _offset: number): Decoded<Target> {
  throw new Error('unimplemented');
}
