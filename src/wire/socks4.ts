// SOCKS4 and SOCKS4a (a hostname after the user id when DSTIP is 0.0.0.x, x != 0), server side. Pure.
//
// References: "SOCKS: A protocol for TCP proxy across firewalls" (SOCKS4, Ying-Da Lee) and "SOCKS 4A: A
// Simple Extension to SOCKS 4 Protocol". Neither bounds USERID or HOST, so the caller's maxLength does:
// without it a peer could make us buffer forever while we look for a NUL.

import { TunnelError } from '../errors.js';
import type { Decoded } from './decoded.js';
import type { Target } from './address.js';
import { checkDomain, hostKind } from './address.js';

export const SOCKS4_VERSION = 0x04;
export const SOCKS4_CMD_CONNECT = 0x01;
export const SOCKS4_CMD_BIND = 0x02;

export interface Socks4Request {
  readonly command: number;
  readonly target: Target;
  readonly userId: string;
  /** True when the request used the SOCKS4a hostname form. */
  readonly socks4a: boolean;
}

// fatal: a user id is used to isolate streams; two different byte strings must not become one U+FFFD text.
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

//    +----+----+----+----+----+----+----+----+----+----+....+----+
//    | VN | CD | DSTPORT |      DSTIP        | USERID       |NULL|
//    +----+----+----+----+----+----+----+----+----+----+....+----+
//       1    1      2              4           variable       1
//
//    SOCKS4a, when DSTIP is 0.0.0.x with x != 0, continues with the destination's name:
//    +----+....+----+
//    | HOST    |NULL|
//    +----+....+----+
//      variable   1

/**
 * VN CD DSTPORT DSTIP USERID NUL [HOST NUL], from buf[0]; null if more bytes needed. maxLength bounds the
 * USERID and HOST fields (each at most maxLength bytes before its NUL). Commands are returned, not judged.
 * Throws TunnelError('bad-request') for a wrong VN, a USERID or HOST running beyond maxLength without a
 * NUL, or a USERID that is not UTF-8; TunnelError('address-type') for DSTPORT 0 or a SOCKS4a HOST that is
 * empty, not UTF-8, or refused by checkDomain.
 */
export function decodeSocks4Request(buf: Uint8Array, maxLength: number): Decoded<Socks4Request> {
  if (buf.length < 1) return null;
  if (buf[0] !== SOCKS4_VERSION) {
    throw new TunnelError(
      'bad-request',
      `SOCKS version 0x${buf[0].toString(16).padStart(2, '0')} is not 0x04`,
    );
  }
  if (buf.length < 8) return null;
  const command = buf[1];
  const port = (buf[2] << 8) | buf[3];
  // Checked here, not at the end, so a peer is refused before it sends an unbounded user id.
  if (port === 0) throw new TunnelError('address-type', 'destination port 0');
  const socks4a = buf[4] === 0 && buf[5] === 0 && buf[6] === 0 && buf[7] !== 0;

  const userEnd = findNul(buf, 8, maxLength, 'user id');
  if (userEnd < 0) return null;
  let userId: string;
  try {
    userId = utf8Strict.decode(buf.subarray(8, userEnd));
  } catch {
    throw new TunnelError('bad-request', 'SOCKS4 user id is not valid UTF-8');
  }

  if (!socks4a) {
    const host = `${buf[4]}.${buf[5]}.${buf[6]}.${buf[7]}`;
    return { value: { command, target: { host, port }, userId, socks4a }, bytesUsed: userEnd + 1 };
  }

  const hostStart = userEnd + 1;
  const hostEnd = findNul(buf, hostStart, maxLength, 'host name');
  if (hostEnd < 0) return null;
  if (hostEnd === hostStart) throw new TunnelError('address-type', 'SOCKS4a host name is empty');
  let host: string;
  try {
    host = utf8Strict.decode(buf.subarray(hostStart, hostEnd));
  } catch {
    throw new TunnelError('address-type', 'SOCKS4a host name is not valid UTF-8');
  }
  // Clients may put a literal in HOST ("1.2.3.4", "::1"): kept as text, as SOCKS5 keeps a literal sent as a
  // domain. A name passes the same checks as everywhere else.
  if (hostKind(host) === 'domain') checkDomain(host);
  return { value: { command, target: { host, port }, userId, socks4a }, bytesUsed: hostEnd + 1 };
}

// Index of the NUL ending a field that starts at `start`, or -1 if it has not arrived yet. The field may hold
// at most maxLength bytes; seeing maxLength + 1 bytes and no NUL means it never will be valid.
function findNul(buf: Uint8Array, start: number, maxLength: number, what: string): number {
  const limit = Math.min(buf.length, start + maxLength + 1);
  for (let i = start; i < limit; i++) if (buf[i] === 0) return i;
  if (buf.length > start + maxLength) {
    throw new TunnelError('bad-request', `SOCKS4 ${what} is longer than ${maxLength} bytes`);
  }
  return -1;
}

//    +----+----+----+----+----+----+----+----+
//    | VN | CD | DSTPORT |      DSTIP        |
//    +----+----+----+----+----+----+----+----+
//       1    1      2              4
//
//    VN is 0 (the reply's version, not 4). CD 0x5a granted, 0x5b rejected or failed. DSTPORT and DSTIP
//    are ignored by CONNECT clients, so they are sent as zeros.

/**
 * VN(0) CD DSTPORT DSTIP: 8 bytes. code is SOCKS4_GRANTED or a value from errors.ts's table.
 * Throws TunnelError('general') if code is not a byte: a bug in the caller, not the peer.
 */
export function encodeSocks4Reply(code: number): Uint8Array {
  if (!Number.isInteger(code) || code < 0 || code > 0xff) {
    throw new TunnelError('general', `SOCKS4 reply code ${code} is not a byte`);
  }
  return Uint8Array.of(0x00, code, 0, 0, 0, 0, 0, 0);
}
