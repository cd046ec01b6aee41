// IP addresses as bytes: strict and permissive (inet_aton-style) text parsing, canonical formatting,
// CIDR membership, and the IPv4 addresses embedded in IPv6 forms. Pure: no node:net.
// OWNER: helper "exit-policy" — implement every function below; keep signatures.

export type IpAddress =
  | { readonly family: 4; readonly bytes: Uint8Array } // 4 bytes
  | { readonly family: 6; readonly bytes: Uint8Array }; // 16 bytes

/** Strict literal: dotted quad (4 decimal parts 0..255, no leading zeros) or RFC 4291 IPv6 text, optionally in []. Zone ids refused. null if not a literal. */
export function parseIp(_text: string): IpAddress | null {
  throw new Error('unimplemented');
}

/** Like parseIp, plus the forms inet_aton accepts: 127.1, 0x7f.1, 2130706433, 017700000001, 0x7f000001. */
export function parseIpLoose(_text: string): IpAddress | null {
  throw new Error('unimplemented');
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (no brackets). */
export function formatIp(_ip: IpAddress): string {
  throw new Error('unimplemented');
}

/** ::ffff:a.b.c.d (IPv4-mapped) becomes a.b.c.d; every other address is returned as is. */
export function unmapIp(_ip: IpAddress): IpAddress {
  throw new Error('unimplemented');
}

/** IPv4 addresses an IPv6 address stands for: mapped, compatible (::a.b.c.d), 6to4 (2002::/16), NAT64 (64:ff9b::/96), Teredo client. Empty for IPv4 or none. */
export function embeddedIpv4(_ip: IpAddress): IpAddress[] {
  throw new Error('unimplemented');
}

/** True if ip is inside net/prefix (same family only). */
export function inCidr(_ip: IpAddress, _net: IpAddress, _prefix: number): boolean {
  throw new Error('unimplemented');
}
