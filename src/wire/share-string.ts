// Pins and share strings. A pin is base64 of SHA-256 over a key's DER SubjectPublicKeyInfo (curl's
// `sha256//<pin>` text). A share string `ett://<pin>@host:port` names a relay; there the pin is written
// base64url without padding, so the string needs no escaping in a URL, a shell or a TOML string.
// Wherever a pin is read, both spellings are accepted. Pure.
//
// Error messages here never quote a pin (design §2: logs carry at most its first 8 characters); they say
// what is wrong and, at most, how long the text was.

import { TunnelError } from '../errors.js';
import type { Target } from './address.js';
import { formatTarget, parseTarget } from './address.js';

export interface ShareString {
  /** Canonical pin: standard base64 with padding (44 chars). */
  readonly pin: string;
  readonly target: Target;
}

const PIN_BYTES = 32; // SHA-256
const SCHEME = 'ett://';
const CURL_PREFIX = 'sha256//';

/**
 * Accepts base64 or base64url, padded or not, optionally prefixed `sha256//` (any case); must decode to 32
 * bytes. Returns canonical base64 (44 chars, one `=`). Non-canonical spellings whose unused low bits are not
 * zero are refused, so one pin has exactly one text per alphabet.
 * Throws TunnelError('config') with a reason (never echoing more than 8 chars of input).
 */
export function normalizePin(text: string): string {
  return toBase64(decodePin(text));
}

/**
 * The 32 raw bytes of a (normalized or not) pin.
 * Throws TunnelError('config') as normalizePin does.
 */
export function pinBytes(pin: string): Uint8Array {
  return new Uint8Array(decodePin(pin));
}

/**
 * First 8 characters of the canonical pin, for logs.
 * Never throws: a text that is not a pin is cut to its first 8 characters as it stands.
 */
export function shortPin(pin: string): string {
  try {
    return normalizePin(pin).slice(0, 8);
  } catch {
    return pin.slice(0, 8);
  }
}

// 32 bytes are 43 base64 characters; the last carries 4 bits of data and 2 of zero padding, then one '='.
const PIN_PATTERN = /^(?:[A-Za-z0-9+/]{43}|[A-Za-z0-9\-_]{43})=?$/;

function decodePin(text: string): Buffer {
  let body = text;
  if (body.slice(0, CURL_PREFIX.length).toLowerCase() === CURL_PREFIX) body = body.slice(CURL_PREFIX.length);
  if (body.length === 0) throw new TunnelError('config', 'pin is empty');
  // Buffer.from(…, 'base64') skips characters it does not know and stops at '=', so the text is checked
  // whole first: a typo must not yield a different pin.
  if (!PIN_PATTERN.test(body)) {
    const core = body.replace(/=+$/, '');
    if (core.length !== 43) {
      throw new TunnelError(
        'config',
        `pin must be 43 base64 characters (44 with '='), got ${core.length}${padding(body.length - core.length)}: is it a SHA-256 pin?`,
      );
    }
    throw new TunnelError(
      'config',
      'pin is not base64 or base64url (mixed alphabets, a stray character, or misplaced padding)',
    );
  }
  const bytes = Buffer.from(body, 'base64');
  const asUrl = body.replace(/=$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  if (bytes.length !== PIN_BYTES || toBase64Url(bytes) !== asUrl) {
    throw new TunnelError('config', 'pin is not canonical base64: its last character has stray low bits');
  }
  return bytes;
}

/** How the '=' after a pin's characters reads in a message: ` and one '='`, or nothing. */
function padding(n: number): string {
  return n === 0 ? '' : ` and ${n === 1 ? "one '='" : `${n} '='`}`;
}

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

//    ett://<pin>@<host>:<port>
//          |     |      `-- decimal 1..65535
//          |     `-- domain, dotted-quad IPv4, or [IPv6]
//          `-- 43 chars base64url (any pin spelling is read)

/**
 * Parses ett://PIN@HOST:PORT (IPv6 in []). The scheme is matched without regard to case (as URL schemes
 * are); nothing may follow the port (no path, no whitespace).
 * Throws TunnelError('config') with a reason: wrong scheme, no '@', a bad pin (see normalizePin), or a bad
 * host or port (see address.ts parseTarget).
 */
export function parseShareString(text: string): ShareString {
  if (text.slice(0, SCHEME.length).toLowerCase() !== SCHEME) {
    throw new TunnelError('config', "share string must start with 'ett://'");
  }
  const rest = text.slice(SCHEME.length);
  const at = rest.indexOf('@');
  if (at < 0) throw new TunnelError('config', "share string has no '@' between pin and host");
  const pin = normalizePin(rest.slice(0, at));
  let target: Target;
  try {
    target = parseTarget(rest.slice(at + 1));
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new TunnelError('config', `share string: ${reason}`, { cause: err });
  }
  return { pin, target };
}

/**
 * ett://<base64url pin, no padding>@host:port
 * Throws TunnelError('config') for a pin normalizePin refuses or a port outside 1..65535; the host is
 * written as given (see address.ts formatTarget).
 */
export function formatShareString(s: ShareString): string {
  const pin = toBase64Url(decodePin(s.pin));
  const { port } = s.target;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TunnelError('config', `share string port ${port} is outside 1..65535`);
  }
  return `${SCHEME}${pin}@${formatTarget(s.target)}`;
}

//    ett://<pin>@<host>:<port>?invite=<token>
//                               `-- 43 chars base64url: 32 random bytes, a one-time secret (see invites)

/** A share string with an invite's one-time token (`ett invite` prints it, `ett join` reads it). */
export interface Invite {
  readonly share: ShareString;
  /** 43 base64url characters (32 bytes), canonical. */
  readonly token: string;
}

const INVITE_QUERY = '?invite=';
const TOKEN_BYTES = 32;

/**
 * The 32 bytes of an invite token: exactly 43 base64url characters, canonical (no stray low bits).
 * Throws TunnelError('config') with a reason that never quotes the token.
 */
export function tokenBytes(token: string): Buffer {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) {
    throw new TunnelError('config', `invite token must be 43 base64url characters, got ${token.length}`);
  }
  const bytes = Buffer.from(token, 'base64url');
  if (bytes.length !== TOKEN_BYTES || bytes.toString('base64url') !== token) {
    throw new TunnelError('config', 'invite token is not canonical base64url');
  }
  return bytes;
}

/**
 * Parses ett://PIN@HOST:PORT?invite=TOKEN. The query is exactly one `invite` parameter; nothing follows
 * the token. Throws TunnelError('config') with a reason (as parseShareString, or about the token, never
 * quoting it).
 */
export function parseInvite(text: string): Invite {
  const q = text.indexOf('?');
  if (q < 0) throw new TunnelError('config', "invite has no '?invite=TOKEN' after the share string");
  if (text.slice(q, q + INVITE_QUERY.length) !== INVITE_QUERY) {
    throw new TunnelError('config', "invite's query must be exactly '?invite=TOKEN'");
  }
  const share = parseShareString(text.slice(0, q));
  const token = text.slice(q + INVITE_QUERY.length);
  tokenBytes(token);
  return { share, token };
}

/** ett://PIN@HOST:PORT?invite=TOKEN. Throws TunnelError('config') as formatShareString and tokenBytes do. */
export function formatInvite(invite: Invite): string {
  tokenBytes(invite.token);
  return `${formatShareString(invite.share)}${INVITE_QUERY}${invite.token}`;
}
