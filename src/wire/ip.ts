// IP addresses as bytes: strict and permissive (inet_aton-style) text parsing, canonical formatting,
// CIDR membership, and the IPv4 addresses embedded in IPv6 forms. Pure: no node:net.
//
// Why two parsers: a relay's exit policy must judge the address the operating system would really
// connect to. getaddrinfo() accepts every inet_aton form (`127.1`, `0x7f.1`, `2130706433`, octal
// `0177.0.0.1`), so a policy that only knew dotted quads would send `0x7f.1` to the resolver and
// let the C library turn it into 127.0.0.1 behind our back. parseIpLoose() knows those forms;
// parseIp() is the strict form used to classify what an application sent.
//
// Text forms (RFC 4291 §2.2, RFC 5952, inet_aton(3)):
//
//   IPv4 strict  d.d.d.d          each d decimal 0..255, no leading zeros ("0" itself is fine)
//   IPv4 loose   a | a.b | a.b.c | a.b.c.d
//                each part decimal, 0x-hex or 0-octal; the last part fills the remaining bytes:
//                a: 32 bits, a.b: 8+24, a.b.c: 8+8+16, a.b.c.d: 8+8+8+8
//   IPv6         x:x:x:x:x:x:x:x, one "::" for one or more zero groups, optional trailing d.d.d.d
//                for the last 32 bits; x is 1..4 hex digits; optional [brackets]; no %zone
//
// IPv6 forms that carry an IPv4 address (all 16 bytes shown, big-endian):
//
//   mapped     ::ffff:a.b.c.d    0000 0000 0000 0000 0000 ffff AABB CCDD     RFC 4291 §2.5.5.2
//   compatible ::a.b.c.d         0000 0000 0000 0000 0000 0000 AABB CCDD     RFC 4291 §2.5.5.1 (deprecated)
//   6to4       2002:AABB:CCDD::/48                                            RFC 3056
//   NAT64      64:ff9b::a.b.c.d  0064 ff9b 0000 0000 0000 0000 AABB CCDD     RFC 6052
//   Teredo     2001:0000:SSSS:SSSS:flag:port:CCCC:CCCC, client = ~CCCC:CCCC RFC 4380 §4

export type IpAddress =
  | { readonly family: 4; readonly bytes: Uint8Array } // 4 bytes
  | { readonly family: 6; readonly bytes: Uint8Array }; // 16 bytes

/** An IPv4 address from its four bytes. Throws RangeError unless given exactly four bytes 0..255. */
export function ipv4(a: number, b: number, c: number, d: number): IpAddress {
  const parts = [a, b, c, d];
  if (!parts.every((p) => Number.isInteger(p) && p >= 0 && p <= 255)) throw new RangeError('ipv4: bad byte');
  return { family: 4, bytes: Uint8Array.from(parts) };
}

/**
 * Strict literal: dotted quad (4 decimal parts 0..255, no leading zeros) or RFC 4291 IPv6 text,
 * optionally in []. Brackets hold IPv6 only. Zone ids refused. null if not a literal; never throws.
 */
export function parseIp(text: string): IpAddress | null {
  if (text.startsWith('[')) {
    if (!text.endsWith(']')) return null;
    return parseIpv6(text.slice(1, -1));
  }
  if (text.includes(':')) return parseIpv6(text);
  const bytes = parseDottedQuad(text);
  return bytes ? { family: 4, bytes } : null;
}

/**
 * Like parseIp, plus the forms inet_aton accepts: 127.1, 0x7f.1, 2130706433, 017700000001,
 * 0x7f000001. Trailing text (inet_aton stops at a space; getaddrinfo does not) is refused.
 * null if not a literal; never throws.
 */
export function parseIpLoose(text: string): IpAddress | null {
  const strict = parseIp(text);
  if (strict || text.includes(':') || text.includes('[')) return strict;
  const bytes = parseInetAton(text);
  return bytes ? { family: 4, bytes } : null;
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (no brackets), IPv4-mapped as ::ffff:a.b.c.d (RFC 5952 §5). Never throws. */
export function formatIp(ip: IpAddress): string {
  const b = ip.bytes;
  if (ip.family === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (isMapped(b)) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  // RFC 5952 §4.2: "::" replaces the longest run of two or more zero groups, the first if tied.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/** ::ffff:a.b.c.d (IPv4-mapped) becomes a.b.c.d; every other address is returned as is. Never throws. */
export function unmapIp(ip: IpAddress): IpAddress {
  if (ip.family === 6 && isMapped(ip.bytes)) return { family: 4, bytes: ip.bytes.slice(12, 16) };
  return ip;
}

/**
 * IPv4 addresses an IPv6 address stands for: mapped, compatible (::a.b.c.d), 6to4 (2002::/16),
 * NAT64 (64:ff9b::/96), Teredo client. `::` and `::1` are not read as compatible addresses: they
 * are the unspecified and loopback addresses in their own right (RFC 4291 §2.5.2, §2.5.3), and an
 * owner who opens `[::1]:port` must not be overruled by 0.0.0.1. Empty for IPv4 or none. Never throws.
 */
export function embeddedIpv4(ip: IpAddress): IpAddress[] {
  if (ip.family !== 6) return [];
  const b = ip.bytes;
  const v4 = (at: number, invert = false): IpAddress => {
    const out = b.slice(at, at + 4);
    if (invert) for (let i = 0; i < 4; i++) out[i] = out[i]! ^ 0xff;
    return { family: 4, bytes: out };
  };
  if (isMapped(b)) return [v4(12)];
  if (zeros(b, 0, 12)) {
    const tail = ((b[12]! << 24) | (b[13]! << 16) | (b[14]! << 8) | b[15]!) >>> 0;
    return tail > 1 ? [v4(12)] : [];
  }
  if (b[0] === 0x20 && b[1] === 0x02) return [v4(2)];
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(b, 4, 12)) return [v4(12)];
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x00 && b[3] === 0x00) return [v4(12, true)];
  return [];
}

/** True if ip is inside net/prefix (same family only). False for another family or a prefix outside 0..32 / 0..128; never throws. */
export function inCidr(ip: IpAddress, net: IpAddress, prefix: number): boolean {
  if (ip.family !== net.family) return false;
  const bits = ip.family === 4 ? 32 : 128;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) return false;
  const whole = prefix >> 3;
  for (let i = 0; i < whole; i++) if (ip.bytes[i] !== net.bytes[i]) return false;
  const rest = prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (ip.bytes[whole]! & mask) === (net.bytes[whole]! & mask);
}

/** True if two addresses are the same family and bytes. Never throws. */
export function sameIp(a: IpAddress, b: IpAddress): boolean {
  return a.family === b.family && a.bytes.every((v, i) => v === b.bytes[i]);
}

// --- parsing helpers ---

function isMapped(b: Uint8Array): boolean {
  return b.length === 16 && zeros(b, 0, 10) && b[10] === 0xff && b[11] === 0xff;
}

function zeros(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] !== 0) return false;
  return true;
}

const DEC_PART = /^(0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseDottedQuad(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!DEC_PART.test(parts[i]!)) return null;
    const v = Number(parts[i]);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

function parseIpv6(text: string): IpAddress | null {
  if (text.includes('%')) return null; // zone ids name an interface, not an address
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const split = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const head = split(halves[0]!);
  const tail = halves.length === 2 ? split(halves[1]!) : [];
  const groups: number[] = [];
  const last = halves.length === 2 ? tail : head;
  // A trailing dotted quad stands for the last two groups.
  let v4: Uint8Array | null = null;
  if (last.length > 0 && last[last.length - 1]!.includes('.')) {
    v4 = parseDottedQuad(last.pop()!);
    if (!v4) return null;
  }
  const toGroups = (parts: string[]): number[] | null => {
    const out: number[] = [];
    for (const p of parts) {
      if (!HEX_GROUP.test(p)) return null;
      out.push(parseInt(p, 16));
    }
    return out;
  };
  const h = toGroups(head);
  const t = toGroups(tail);
  if (!h || !t) return null;
  const tailGroups = v4 ? [...t, (v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!] : t;
  const given = h.length + tailGroups.length;
  if (halves.length === 2) {
    if (given > 7) return null; // "::" stands for at least one group
    groups.push(...h, ...new Array<number>(8 - given).fill(0), ...tailGroups);
  } else {
    if (given !== 8) return null;
    groups.push(...h, ...tailGroups);
  }
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return { family: 6, bytes };
}

// inet_aton as glibc implements it (resolv/inet_addr.c): a part starting "0x" is hex (the bare "0x"
// reads as 0), another starting "0" is octal (8 and 9 refused), else decimal. Parts are ASCII only.
const ATON_PART = /^(0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*)$/;

function parseInetAton(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length > 4) return null;
  const values: number[] = [];
  for (const p of parts) {
    if (!ATON_PART.test(p)) return null;
    let v: number;
    if (/^0[xX]/.test(p)) v = p.length === 2 ? 0 : parseInt(p.slice(2), 16);
    else if (p.length > 1 && p.startsWith('0')) v = parseInt(p, 8);
    else v = parseInt(p, 10);
    // Past 2^32 no part is valid; numbers stay exact well beyond that, so one check suffices.
    if (!Number.isSafeInteger(v) || v > 0xffffffff) return null;
    values.push(v);
  }
  const lastValue = values.pop()!;
  if (values.some((v) => v > 0xff)) return null;
  const lastBits = 8 * (4 - values.length);
  if (lastValue >= 2 ** lastBits) return null;
  const out = new Uint8Array(4);
  values.forEach((v, i) => (out[i] = v));
  for (let i = 3, v = lastValue; i >= values.length; i--, v = Math.floor(v / 256)) out[i] = v % 256;
  return out;
}
