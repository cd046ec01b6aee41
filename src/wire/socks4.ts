// SOCKS4 and SOCKS4a (a hostname after the user id when DSTIP is 0.0.0.x, x != 0), server side. Pure.
// OWNER: helper "wire" — implement every function below; keep signatures.

import type { Decoded } from './decoded.js';
import type { Target } from './address.js';

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

/** VN CD DSTPORT DSTIP USERID NUL [HOST NUL]. maxLength bounds USERID/HOST scanning: beyond it without NUL throws TunnelError('bad-request'). */
export function decodeSocks4Request(_buf: Uint8Array, _maxLength: number): Decoded<Socks4Request> {
  throw new Error('unimplemented');
}
/** VN(0) CD DSTPORT DSTIP: 8 bytes. */
export function encodeSocks4Reply(_code: number): Uint8Array {
  throw new Error('unimplemented');
}
