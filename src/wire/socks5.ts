// SOCKS version 5 (RFC 1928) and its username/password sub-negotiation (RFC 1929), server side. Pure.
// OWNER: helper "wire" — implement every function below; keep signatures.

import type { Decoded } from './decoded.js';
import type { Target } from './address.js';

export const SOCKS5_VERSION = 0x05;
export const METHOD_NO_AUTH = 0x00;
export const METHOD_USERPASS = 0x02;
export const METHOD_NONE_ACCEPTABLE = 0xff;
export const CMD_CONNECT = 0x01;
export const CMD_BIND = 0x02;
export const CMD_UDP_ASSOCIATE = 0x03;

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

/** VER NMETHODS METHODS. Wrong version or NMETHODS=0 throws TunnelError('bad-request'). */
export function decodeMethodSelection(_buf: Uint8Array): Decoded<MethodSelection> {
  throw new Error('unimplemented');
}
export function encodeMethodReply(_method: number): Uint8Array {
  throw new Error('unimplemented');
}
/** RFC 1929: VER(0x01) ULEN UNAME PLEN PASSWD; empty username allowed; bytes read as UTF-8. */
export function decodeUserPassRequest(_buf: Uint8Array): Decoded<UserPass> {
  throw new Error('unimplemented');
}
export function encodeUserPassReply(_ok: boolean): Uint8Array {
  throw new Error('unimplemented');
}
/** VER CMD RSV ATYP DST.ADDR DST.PORT. Wrong VER throws 'bad-request'; bad ATYP throws 'address-type'. Commands are returned, not judged. */
export function decodeRequest(_buf: Uint8Array): Decoded<Request> {
  throw new Error('unimplemented');
}
/** VER REP RSV ATYP BND.ADDR BND.PORT; bound defaults to 0.0.0.0:0. */
export function encodeReply(_reply: number, _bound?: Target): Uint8Array {
  throw new Error('unimplemented');
}
