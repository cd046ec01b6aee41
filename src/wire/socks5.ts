// SOCKS version 5 (RFC 1928) and its username/password sub-negotiation (RFC 1929), server side. Pure.
//
// The messages appear here in the order a connection exchanges them: method selection, the optional
// username/password sub-negotiation, then the request and its reply.
//
// Version bytes are checked as soon as they arrive, so a peer speaking something else is refused at its
// first byte rather than after we wait for a length that will never be right.

import { TunnelError } from '../errors.js';
import type { Decoded } from './decoded.js';
import type { Target } from './address.js';
import { decodeSocksAddress, encodeSocksAddress } from './address.js';

export const SOCKS5_VERSION = 0x05;
export const METHOD_NO_AUTH = 0x00;
export const METHOD_USERPASS = 0x02;
export const METHOD_NONE_ACCEPTABLE = 0xff;
export const CMD_CONNECT = 0x01;
export const CMD_BIND = 0x02;
export const CMD_UDP_ASSOCIATE = 0x03;
/** RFC 1929 sub-negotiation version (not the SOCKS version). */
export const USERPASS_VERSION = 0x01;

export interface MethodSelection {
  readonly methods: readonly number[];
}
export interface UserPass {
  readonly username: string;
  readonly password: string;
}
export interface Request {
  readonly command: number;
  readonly target: Target;
}

// fatal: credentials that are not UTF-8 must not collapse into U+FFFD and so compare equal to each other.
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

//    +----+----------+----------+
//    |VER | NMETHODS | METHODS  |
//    +----+----------+----------+
//    | 1  |    1     | 1 to 255 |
//    +----+----------+----------+          (RFC 1928 §3)

/**
 * VER NMETHODS METHODS, from buf[0]; null if more bytes needed. Methods are returned in the client's order.
 * Throws TunnelError('bad-request') for a wrong version or NMETHODS=0.
 */
export function decodeMethodSelection(buf: Uint8Array): Decoded<MethodSelection> {
  if (buf.length < 1) return null;
  checkVersion(buf[0]);
  if (buf.length < 2) return null;
  const n = buf[1];
  // RFC 1928 says "1 to 255"; with none there is nothing to select, and answering 0xFF would be a lie
  // about a list we never received.
  if (n === 0) throw new TunnelError('bad-request', 'SOCKS5 method selection lists no methods');
  if (buf.length < 2 + n) return null;
  return { value: { methods: Array.from(buf.subarray(2, 2 + n)) }, bytesUsed: 2 + n };
}

//    +----+--------+
//    |VER | METHOD |
//    +----+--------+
//    | 1  |   1    |
//    +----+--------+                       (RFC 1928 §3)

/**
 * The server's choice of method (METHOD_NONE_ACCEPTABLE when none fits).
 * Throws TunnelError('general') if method is not a byte: a bug in the caller, not the peer.
 */
export function encodeMethodReply(method: number): Uint8Array {
  return Uint8Array.of(SOCKS5_VERSION, byte(method, 'method'));
}

//    +----+------+----------+------+----------+
//    |VER | ULEN |  UNAME   | PLEN |  PASSWD  |
//    +----+------+----------+------+----------+
//    | 1  |  1   | 0 to 255 |  1   | 0 to 255 |
//    +----+------+----------+------+----------+    (RFC 1929 §2; VER is 0x01)
//
// RFC 1929 says "1 to 255" for both lengths, but clients send empty names and passwords (curl with
// `socks5://:pass@`, Tor's isolation by empty user), so 0 is accepted and the credential check decides.

/**
 * RFC 1929: VER(0x01) ULEN UNAME PLEN PASSWD, from buf[0]; empty username and password allowed; bytes read
 * as UTF-8; null if more bytes needed.
 * Throws TunnelError('bad-request') for a wrong sub-negotiation version, and TunnelError('auth-failed')
 * for a name or password that is not UTF-8 (it cannot match any configured credential). Messages never
 * contain the credentials.
 */
export function decodeUserPassRequest(buf: Uint8Array): Decoded<UserPass> {
  if (buf.length < 1) return null;
  if (buf[0] !== USERPASS_VERSION) {
    throw new TunnelError('bad-request', `username/password version 0x${hex2(buf[0])} is not 0x01`);
  }
  if (buf.length < 2) return null;
  const ulen = buf[1];
  if (buf.length < 2 + ulen + 1) return null;
  const plen = buf[2 + ulen];
  const end = 2 + ulen + 1 + plen;
  if (buf.length < end) return null;
  let username: string;
  let password: string;
  try {
    username = utf8Strict.decode(buf.subarray(2, 2 + ulen));
    password = utf8Strict.decode(buf.subarray(3 + ulen, end));
  } catch {
    throw new TunnelError('auth-failed', 'username or password is not valid UTF-8');
  }
  return { value: { username, password }, bytesUsed: end };
}

//    +----+--------+
//    |VER | STATUS |
//    +----+--------+
//    | 1  |   1    |
//    +----+--------+                       (RFC 1929 §2; VER 0x01, STATUS 0x00 = success)

/**
 * The sub-negotiation's answer: STATUS 0x00 on success, 0x01 otherwise (RFC 1929: any non-zero fails;
 * the server then closes the connection).
 * Never throws.
 */
export function encodeUserPassReply(ok: boolean): Uint8Array {
  return Uint8Array.of(USERPASS_VERSION, ok ? 0x00 : 0x01);
}

//    +----+-----+-------+------+----------+----------+
//    |VER | CMD |  RSV  | ATYP | DST.ADDR | DST.PORT |
//    +----+-----+-------+------+----------+----------+
//    | 1  |  1  | X'00' |  1   | Variable |    2     |
//    +----+-----+-------+------+----------+----------+    (RFC 1928 §4)

/**
 * VER CMD RSV ATYP DST.ADDR DST.PORT, from buf[0]; null if more bytes needed. Commands are returned, not
 * judged. RSV is ignored (RFC 1928 reserves it; being strict there buys nothing).
 * Throws TunnelError('bad-request') for a wrong VER; TunnelError('address-type') for a bad ATYP or domain
 * (see decodeSocksAddress), and for DST.PORT 0 unless the command is UDP ASSOCIATE (where RFC 1928 §7 lets a
 * client send all zeros).
 */
export function decodeRequest(buf: Uint8Array): Decoded<Request> {
  if (buf.length < 1) return null;
  checkVersion(buf[0]);
  if (buf.length < 3) return null;
  const command = buf[1];
  const addr = decodeSocksAddress(buf, 3);
  if (addr === null) return null;
  if (addr.value.port === 0 && command !== CMD_UDP_ASSOCIATE) {
    throw new TunnelError('address-type', 'destination port 0');
  }
  return { value: { command, target: addr.value }, bytesUsed: 3 + addr.bytesUsed };
}

//    +----+-----+-------+------+----------+----------+
//    |VER | REP |  RSV  | ATYP | BND.ADDR | BND.PORT |
//    +----+-----+-------+------+----------+----------+
//    | 1  |  1  | X'00' |  1   | Variable |    2     |
//    +----+-----+-------+------+----------+----------+    (RFC 1928 §6)

const UNSPECIFIED: Target = { host: '0.0.0.0', port: 0 };

/**
 * VER REP RSV ATYP BND.ADDR BND.PORT; bound defaults to 0.0.0.0:0 (the client learns nothing of the exit's
 * address, and nothing needs it for CONNECT). REP comes from errors.ts's table (or SOCKS5_SUCCEEDED).
 * Throws TunnelError('general') if reply is not a byte; TunnelError('address-type') for a bound address
 * encodeSocksAddress refuses.
 */
export function encodeReply(reply: number, bound: Target = UNSPECIFIED): Uint8Array {
  const addr = encodeSocksAddress(bound);
  const out = new Uint8Array(3 + addr.length);
  out[0] = SOCKS5_VERSION;
  out[1] = byte(reply, 'reply');
  out[2] = 0x00;
  out.set(addr, 3);
  return out;
}

function checkVersion(v: number): void {
  if (v !== SOCKS5_VERSION) throw new TunnelError('bad-request', `SOCKS version 0x${hex2(v)} is not 0x05`);
}

function byte(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xff)
    throw new TunnelError('general', `${what} ${n} is not a byte`);
  return n;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
