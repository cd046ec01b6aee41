// Value parsers for the client's routing keys: CIDRs, port ranges, host patterns (parsed by
// client/rules.ts) and ssh -L forward specs, each with the canonical text `ett check-config` prints and
// rule texts use. Pure; a parser returns its reason as a string on failure, for the caller to place.

import { parseHostPattern, type HostPattern } from '../client/rules.js';
import { parseTarget, type Target } from '../wire/address.js';
import { formatIp, parseIp, type IpAddress } from '../wire/ip.js';
import { parseListen, reasonOf } from './inputs.js';

/** A host pattern (see client/rules.ts HostPattern). Returns the reason as a string on failure. */
export function hostValue(v: unknown): HostPattern | string {
  if (typeof v !== 'string') return 'must be a string: *.glob, .suffix or an exact name';
  try {
    return parseHostPattern(v);
  } catch (err) {
    return reasonOf(err);
  }
}

/** The pattern as written in a config file: `*.glob`, `.suffix` or the exact name. */
export function formatHostPattern(p: HostPattern): string {
  return p.kind === 'suffix' ? `.${p.text}` : p.text;
}

export interface Cidr {
  readonly net: IpAddress;
  readonly prefix: number;
}

/**
 * `10.0.0.0/8`, `[2001:db8::]/32`, `2001:db8::/32`, or one address (a /32 or /128). Bits beyond the
 * prefix must be zero. `::ffff:a.b.c.d/p` with p >= 96 becomes a.b.c.d/(p-96), since targets are
 * unmapped before matching. Returns the reason as a string on failure.
 */
export function parseCidr(v: unknown): Cidr | string {
  if (typeof v !== 'string') return 'must be a string such as "10.0.0.0/8" or "2001:db8::/32"';
  const slash = v.lastIndexOf('/');
  const addrText = slash < 0 ? v : v.slice(0, slash);
  const ip = parseIp(addrText);
  if (ip === null || (addrText.startsWith('[') && ip.family !== 6)) {
    return `"${v}": not an IPv4 or IPv6 address (a CIDR rule takes addresses, not names)`;
  }
  const bits = ip.family === 4 ? 32 : 128;
  let prefix = bits;
  if (slash >= 0) {
    const p = v.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > bits) return `"${v}": the prefix must be 0..${bits}`;
    prefix = Number(p);
  }
  const masked = new Uint8Array(ip.bytes);
  for (let bit = prefix; bit < bits; bit++) masked[bit >> 3] &= ~(0x80 >> (bit & 7));
  if (masked.some((b, i) => b !== ip.bytes[i])) {
    const fixed = formatCidr({ net: { family: ip.family, bytes: masked }, prefix });
    return `"${v}" has bits set beyond the prefix (did you mean ${fixed}?)`;
  }
  const mapped = ip.family === 6 && masked.subarray(0, 10).every((b) => b === 0) && masked[10] === 0xff;
  if (mapped && masked[11] === 0xff && prefix >= 96) {
    return { net: { family: 4, bytes: masked.slice(12) }, prefix: prefix - 96 };
  }
  return { net: { family: ip.family, bytes: masked }, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.net)}/${c.prefix}`;
}

export interface PortRange {
  readonly low: number;
  readonly high: number;
}

/** An integer, "443", or "80-443"; ports 1..65535, low <= high. Returns the reason as a string on failure. */
export function parsePortRange(v: unknown): PortRange | string {
  const shape = 'must be a port 1..65535, "443" or a range "80-443"';
  let low: number;
  let high: number;
  if (typeof v === 'bigint' || typeof v === 'number') {
    if (!Number.isSafeInteger(Number(v)) || (typeof v === 'number' && !Number.isInteger(v))) return shape;
    low = high = Number(v);
  } else if (typeof v === 'string') {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(v);
    if (m === null) return `"${v}": ${shape}`;
    low = Number(m[1]);
    high = m[2] === undefined ? low : Number(m[2]);
  } else return shape;
  if (low < 1 || high > 65535) return `${formatPortRange({ low, high })}: ports are 1..65535`;
  if (low > high) return `"${v}": the range runs backwards`;
  return { low, high };
}

export function formatPortRange(r: PortRange): string {
  return r.low === r.high ? `${r.low}` : `${r.low}-${r.high}`;
}

/**
 * ssh -L syntax: `[BIND:]LPORT:HOST:PORT`, BIND 127.0.0.1 when left out, IPv6 (BIND or HOST) in
 * brackets. LPORT 0 picks a free port. Returns the reason as a string on failure.
 */
export function parseForwardSpec(text: string): { listen: Target; to: Target } | string {
  const shape = 'expected [BIND:]LPORT:HOST:PORT (IPv6 in brackets)';
  const fields: string[] = [];
  let rest: string | undefined = text;
  while (rest !== undefined) {
    let end = 0;
    if (rest.startsWith('[')) {
      end = rest.indexOf(']') + 1;
      if (end === 0) return `'[' without ']'; ${shape}`;
      if (end < rest.length && rest[end] !== ':') return `expected ':' after ']'; ${shape}`;
    } else {
      end = rest.indexOf(':');
      if (end < 0) end = rest.length;
    }
    fields.push(rest.slice(0, end));
    rest = end < rest.length ? rest.slice(end + 1) : undefined;
  }
  if (fields.length !== 3 && fields.length !== 4) return shape;
  const [bindField, lport, host, port] = fields.length === 4 ? fields : ['127.0.0.1', ...fields];
  if (bindField === '' || bindField === '*') {
    return 'give the bind address (0.0.0.0 or [::] listens on every interface)';
  }
  const listen = parseListen(`${bindField}:${lport}`);
  if (typeof listen === 'string') return `listen side: ${listen}`;
  try {
    return { listen, to: parseTarget(`${host}:${port}`) };
  } catch (err) {
    return `target: ${reasonOf(err)}`;
  }
}

/**
 * ssh -R syntax for `--publish`: `[RBIND:]RPORT:LHOST:LPORT`; RBIND (an IP address on the relay) is
 * 0.0.0.0 when left out, IPv6 in brackets; RPORT and LPORT 1..65535. Returns the reason as a string on
 * failure.
 */
export function parsePublishSpec(text: string): { remote: Target; to: Target } | string {
  const shape = 'expected [RBIND:]RPORT:LHOST:LPORT (IPv6 in brackets)';
  // Three fields read as RPORT:LHOST:LPORT on 0.0.0.0; else the four-field form as given.
  const short = parseForwardSpec(`0.0.0.0:${text}`);
  const spec = typeof short === 'string' ? parseForwardSpec(text) : short;
  if (typeof spec === 'string')
    return spec.replace(/expected \[BIND:\]LPORT:HOST:PORT \(IPv6 in brackets\)/, shape);
  const checked = checkPublish(spec.listen, spec.to);
  return typeof checked === 'string' ? checked : { remote: spec.listen, to: spec.to };
}

/** A publication's two ends: RBIND an IP literal, both ports 1..65535. The reason as a string if not. */
export function checkPublish(remote: Target, to: Target): true | string {
  if (parseIp(remote.host) === null) return `relay side: "${remote.host}" is not an IP address to bind`;
  if (remote.port === 0) return 'relay side: give a port (1..65535); the relay owner grants ports by number';
  if (to.port === 0) return 'local side: port 0 is not a service';
  return true;
}
