// Targets (host and port, as the application gave them) and their SOCKS5 address encoding, which the
// multiplexer's OPEN header reuses. Pure.
//
// A hostname stays a hostname all the way to the exit (design §5: the client never resolves), so a domain
// is carried as the text the application sent; only IP literals are turned into bytes.

import { TunnelError } from '../errors.js';
import type { Decoded } from './decoded.js';
import { formatIp, parseIp } from './ip.js';

/** host: dotted-quad IPv4, IPv6 text without brackets, or a domain name exactly as given. port: 1..65535 (0 only where a reply's bound address needs it). */
export interface Target {
  readonly host: string;
  readonly port: number;
}

export type HostKind = 'ipv4' | 'ipv6' | 'domain';

export const ATYP_IPV4 = 0x01;
export const ATYP_DOMAIN = 0x03;
export const ATYP_IPV6 = 0x04;

/** Longest domain the SOCKS5 encoding can carry: its length is one byte. */
export const DOMAIN_MAX_BYTES = 255;

const utf8 = new TextEncoder();
// fatal: a domain that is not UTF-8 is refused rather than silently turned into U+FFFD, which would make
// two different byte strings the same name (and the same rule match).
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/**
 * Strict literal classification (via ip.ts parseIp); anything else is a domain. Brackets are not part of a
 * Target's host, so `[::1]` is not an IPv6 literal here (and checkDomain refuses it).
 * Never throws.
 */
export function hostKind(host: string): HostKind {
  if (host.startsWith('[')) return 'domain';
  const ip = parseIp(host);
  if (ip === null) return 'domain';
  return ip.family === 4 ? 'ipv4' : 'ipv6';
}

/**
 * Refuses what cannot be a hostname and would confuse later stages: empty, longer than the SOCKS5 encoding
 * carries, control characters or spaces (log and header injection), and the delimiters of
 * `host:port` / URL / share-string text, so that formatTarget's output always parses back.
 * Throws TunnelError('address-type') saying which rule failed; the name itself is not echoed.
 */
export function checkDomain(host: string): void {
  if (host.length === 0) throw new TunnelError('address-type', 'empty host name');
  const length = utf8.encode(host).length;
  if (length > DOMAIN_MAX_BYTES) {
    throw new TunnelError('address-type', `host name is ${length} bytes, over ${DOMAIN_MAX_BYTES}`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f]/.test(host)) {
    throw new TunnelError('address-type', 'host name contains a control character or space');
  }
  if (/[:/\\@[\]?#]/.test(host)) {
    throw new TunnelError('address-type', 'host name contains one of : / \\ @ [ ] ? #');
  }
}

/**
 * host:port, IPv6 as [addr]:port.
 * Never throws; it does not validate (parseTarget and encodeSocksAddress do).
 */
export function formatTarget(t: Target): string {
  return hostKind(t.host) === 'ipv6' ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

/**
 * Parses host:port / [v6]:port. The host is kept as written (not canonicalised); the port must be
 * decimal 1..65535.
 * Throws TunnelError('address-type') naming what is wrong (without echoing the host).
 */
export function parseTarget(text: string): Target {
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw new TunnelError('address-type', "'[' without a closing ']'");
    host = text.slice(1, close);
    if (text[close + 1] !== ':') throw new TunnelError('address-type', "missing ':port' after ']'");
    portText = text.slice(close + 2);
    if (hostKind(host) !== 'ipv6') throw new TunnelError('address-type', 'only an IPv6 address goes in []');
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) throw new TunnelError('address-type', "missing ':port'");
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) {
      throw new TunnelError('address-type', 'an IPv6 address must be written in [] before :port');
    }
    if (hostKind(host) === 'domain') checkDomain(host);
  }
  return { host, port: parsePort(portText) };
}

// Decimal only, at most 5 digits: `0x50`, `+80`, ` 80` or `1e3` are not ports even where Number() says so.
function parsePort(text: string): number {
  if (!/^[0-9]{1,5}$/.test(text)) throw new TunnelError('address-type', 'port must be a decimal number');
  const port = Number(text);
  if (port < 1 || port > 65535) throw new TunnelError('address-type', `port ${port} is outside 1..65535`);
  return port;
}

function checkPortField(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TunnelError('address-type', `port ${port} does not fit in 16 bits`);
  }
}

//    +------+----------+----------+
//    | ATYP | DST.ADDR | DST.PORT |
//    +------+----------+----------+
//    |  1   | Variable |    2     |
//    +------+----------+----------+
//
//    ATYP 0x01: DST.ADDR is 4 bytes IPv4
//    ATYP 0x03: DST.ADDR is | LEN (1) | LEN bytes of name, no NUL |, LEN 1..255
//    ATYP 0x04: DST.ADDR is 16 bytes IPv6
//    DST.PORT is big-endian. (RFC 1928 §5)

/**
 * ATYP+ADDR+PORT. IP literals (per hostKind) are sent as bytes; anything else as a domain. Port 0 is
 * encoded (a reply's bound address may need it).
 * Throws TunnelError('address-type') for a domain longer than 255 bytes (UTF-8) or otherwise refused by
 * checkDomain, or a port that is not an integer 0..65535.
 */
export function encodeSocksAddress(t: Target): Uint8Array {
  checkPortField(t.port);
  const ip = t.host.startsWith('[') ? null : parseIp(t.host);
  let out: Uint8Array;
  let at: number;
  if (ip !== null) {
    out = new Uint8Array(1 + ip.bytes.length + 2);
    out[0] = ip.family === 4 ? ATYP_IPV4 : ATYP_IPV6;
    out.set(ip.bytes, 1);
    at = 1 + ip.bytes.length;
  } else {
    checkDomain(t.host);
    const name = utf8.encode(t.host);
    out = new Uint8Array(2 + name.length + 2);
    out[0] = ATYP_DOMAIN;
    out[1] = name.length;
    out.set(name, 2);
    at = 2 + name.length;
  }
  out[at] = t.port >> 8;
  out[at + 1] = t.port & 0xff;
  return out;
}

/**
 * Decodes ATYP+ADDR+PORT at buf[offset..]; null if more bytes needed. bytesUsed counts from offset.
 * IPv4 comes back as a dotted quad, IPv6 as RFC 5952 text, a domain as sent. Port 0 is returned: judging
 * it is the caller's business (a reply's bound address may be 0).
 * Throws TunnelError('address-type') for an unknown ATYP, an empty domain, a domain that is not UTF-8, or
 * one checkDomain refuses (control characters, delimiters); an IP literal sent as a domain is accepted.
 */
export function decodeSocksAddress(buf: Uint8Array, offset: number): Decoded<Target> {
  if (buf.length < offset + 1) return null;
  const atyp = buf[offset];
  let host: string;
  let at: number; // index of DST.PORT
  switch (atyp) {
    case ATYP_IPV4:
      if (buf.length < offset + 1 + 4 + 2) return null;
      host = `${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}.${buf[offset + 4]}`;
      at = offset + 5;
      break;
    case ATYP_IPV6:
      if (buf.length < offset + 1 + 16 + 2) return null;
      host = formatIp({ family: 6, bytes: buf.slice(offset + 1, offset + 17) });
      at = offset + 17;
      break;
    case ATYP_DOMAIN: {
      if (buf.length < offset + 2) return null;
      const len = buf[offset + 1];
      // Refused as soon as the length byte is seen: no later byte can make an empty name valid.
      if (len === 0) throw new TunnelError('address-type', 'empty domain name');
      if (buf.length < offset + 2 + len + 2) return null;
      try {
        host = utf8Strict.decode(buf.subarray(offset + 2, offset + 2 + len));
      } catch {
        throw new TunnelError('address-type', 'domain name is not valid UTF-8');
      }
      // A literal sent as a name ("1.2.3.4", "::1") is fine; so is a bracketed IPv6 literal ("[::]"),
      // which stands for the address inside (URL spelling), so that the exit policy judges that address
      // rather than the front-end refusing it as a malformed name. A name must pass the same checks as
      // typed text.
      if (
        host.length > 2 &&
        host.startsWith('[') &&
        host.endsWith(']') &&
        hostKind(host.slice(1, -1)) === 'ipv6'
      ) {
        host = host.slice(1, -1);
      }
      if (hostKind(host) === 'domain') checkDomain(host);
      at = offset + 2 + len;
      break;
    }
    default:
      throw new TunnelError('address-type', `unknown address type 0x${hex2(atyp)}`);
  }
  return { value: { host, port: (buf[at] << 8) | buf[at + 1] }, bytesUsed: at + 2 - offset };
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
