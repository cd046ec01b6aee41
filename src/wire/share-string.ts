// Pins and share strings. A pin is base64 of SHA-256 over a key's DER SubjectPublicKeyInfo (curl's
// `sha256//<pin>` text). A share string `ett://<pin>@host:port` names a relay; there the pin is written
// base64url without padding. Wherever a pin is read, both spellings are accepted. Pure.
// OWNER: helper "wire" — implement every function below; keep signatures.

import type { Target } from './address.js';

export interface ShareString {
  /** Canonical pin: standard base64 with padding (44 chars). */
  readonly pin: string;
  readonly target: Target;
}

/** Accepts base64 or base64url, padded or not, optionally prefixed `sha256//`; must decode to 32 bytes. Returns canonical base64. Throws TunnelError('config') with a reason (never echoing more than 8 chars of input). */
export function normalizePin(_text: string): string {
  throw new Error('unimplemented');
}
/** The 32 raw bytes of a (normalized or not) pin. */
export function pinBytes(_pin: string): Uint8Array {
  throw new Error('unimplemented');
}
/** First 8 characters of the canonical pin, for logs. */
export function shortPin(_pin: string): string {
  throw new Error('unimplemented');
}
/** Parses ett://PIN@HOST:PORT (IPv6 in []). Throws TunnelError('config') with a reason. */
export function parseShareString(_text: string): ShareString {
  throw new Error('unimplemented');
}
/** ett://<base64url pin, no padding>@host:port */
export function formatShareString(_s: ShareString): string {
  throw new Error('unimplemented');
}
