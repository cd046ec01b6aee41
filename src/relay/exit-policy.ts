// The exit policy: Tor-style rules `accept|reject ADDR[/MASK]:PORT[-PORT]`, first match wins. The
// effective policy is the owner's rules followed by the defaults (refuse private, loopback, link-local,
// multicast, unspecified, reserved and the relay's own addresses; accept everything else). Pure.
//
// Rule grammar (after Tor's ExitPolicy, tor-manual "ExitPolicy"; action case-insensitive, the rule may be
// surrounded by whitespace, one or more blanks between action and pattern):
//
//   rule    = action SP+ [ proto SP+ ] addr [ "/" mask ] ":" ports
//   action  = "accept" | "reject"
//   proto   = "tcp" | "udp"                                  (none: tcp, what every rule meant before UDP)
//   addr    = "*" | "*4" | "*6" | IPv4 | "[" IPv6 "]"        ("*", "*4", "*6" take no mask)
//   mask    = 0..32 or a contiguous dotted netmask (IPv4); 0..128 (IPv6); no host bits beyond it
//   ports   = "*" | port | port "-" port                     (port = 1..65535, decimal, low <= high)
//
// We are stricter than Tor where Tor silently guesses: the port is required, host bits beyond the mask
// are an error rather than masked away, and IPv4 is written as a dotted quad only. `[::ffff:a.b.c.d]/p`
// with p >= 96 is read as a.b.c.d/(p-96), because evaluation unmaps addresses before matching.

import { TunnelError } from '../errors.js';
import { embeddedIpv4, formatIp, inCidr, parseIp, unmapIp, type IpAddress } from '../wire/ip.js';

export type AddressPattern =
  | { readonly kind: 'any' } // *
  | { readonly kind: 'any4' } // *4
  | { readonly kind: 'any6' } // *6
  | { readonly kind: 'cidr'; readonly net: IpAddress; readonly prefix: number };

/** What a rule judges: `tcp` (a rule that names no protocol), `udp`, or both (the default rejects). */
export type RuleProtocol = 'tcp' | 'udp' | 'both';

export interface ExitRule {
  readonly action: 'accept' | 'reject';
  readonly protocol: RuleProtocol;
  readonly pattern: AddressPattern;
  readonly portLow: number;
  readonly portHigh: number;
  /** The rule in canonical text, for logs and `check-config`. */
  readonly text: string;
}

export interface Verdict {
  readonly accept: boolean;
  /** The rule that decided. */
  readonly rule: ExitRule;
}

const RULE_SHAPE = /^(\S+)\s+(?:(tcp|udp)\s+)?(\S+)$/i;
const DECIMAL = /^(0|[1-9][0-9]*)$/;

/** Parses one rule. Throws TunnelError('config', reason) naming what is wrong. */
export function parseExitRule(text: string): ExitRule {
  const fail = (reason: string): never => {
    throw new TunnelError('config', `exit policy rule ${JSON.stringify(text)}: ${reason}`);
  };
  const shape = RULE_SHAPE.exec(text.trim());
  if (!shape) return fail('expected "accept|reject [tcp|udp] ADDR[/MASK]:PORT[-PORT]"');
  const action = shape[1]!.toLowerCase();
  if (action !== 'accept' && action !== 'reject')
    return fail(`unknown action "${shape[1]}" (accept or reject)`);
  const protocol = (shape[2]?.toLowerCase() ?? 'tcp') as 'tcp' | 'udp';
  const spec = shape[3]!;

  // Split ADDR[/MASK] from PORTS: after the closing bracket for IPv6, else at the only colon.
  let addrText: string;
  let portText: string;
  if (spec.startsWith('[')) {
    const close = spec.indexOf(']');
    if (close < 0) return fail('"[" without "]"');
    const colon = spec.indexOf(':', close);
    if (colon < 0) return fail('missing ":PORT" (use ":*" for every port)');
    addrText = spec.slice(0, colon);
    portText = spec.slice(colon + 1);
  } else {
    const parts = spec.split(':');
    if (parts.length === 1) return fail('missing ":PORT" (use ":*" for every port)');
    if (parts.length > 2) return fail('an IPv6 address must be in brackets, as [::1]');
    [addrText, portText] = parts as [string, string];
  }
  const pattern = parseAddressPattern(addrText, fail);
  const [portLow, portHigh] = parsePorts(portText, fail);
  return makeRule(action, pattern, portLow, portHigh, protocol);
}

/** Parses a list of rules (a config's `exit_policy`), in order. Throws TunnelError('config') naming the first bad rule and why. */
export function parseExitRules(texts: readonly string[]): ExitRule[] {
  return texts.map((t) => parseExitRule(t));
}

// Ranges no exit should reach on the owner's behalf unless the owner says so (RFC 6890 special-purpose
// registries, plus multicast and the old site-local range).
const DEFAULT_REJECTS = [
  '0.0.0.0/8', // "this network"
  '10.0.0.0/8', // RFC 1918
  '100.64.0.0/10', // carrier-grade NAT, RFC 6598
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link-local (cloud metadata services live here)
  '172.16.0.0/12', // RFC 1918
  '192.0.0.0/24', // IETF protocol assignments
  '192.0.2.0/24', // TEST-NET-1
  '192.168.0.0/16', // RFC 1918
  '198.18.0.0/15', // benchmarking
  '198.51.100.0/24', // TEST-NET-2
  '203.0.113.0/24', // TEST-NET-3
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved, and 255.255.255.255 broadcast
  '[::]/128', // unspecified
  '[::1]/128', // loopback
  '[fc00::]/7', // unique local
  '[fe80::]/10', // link-local
  '[fec0::]/10', // site-local (deprecated, still routed by some stacks)
  '[ff00::]/8', // multicast
  '[100::]/64', // discard-only
  '[2001:db8::]/32', // documentation
];

/** The default rules, ending in `accept *:*`. Own addresses are refused on every port. Never throws. */
export function defaultExitRules(ownAddresses: readonly IpAddress[]): ExitRule[] {
  const rules: ExitRule[] = DEFAULT_REJECTS.map((a) => ({
    ...parseExitRule(`reject ${a}:*`),
    protocol: 'both',
  }));
  for (const own of ownAddresses) {
    const ip = unmapIp(own);
    const prefix = ip.family === 4 ? 32 : 128;
    rules.push(makeRule('reject', { kind: 'cidr', net: ip, prefix }, 1, 65535, 'both'));
  }
  // TCP: everything else. UDP only where an owner's `udp` rule accepts it: a relay that carried TCP
  // only before UDP existed does not start carrying datagrams (amplification, another abuse surface)
  // without its owner asking.
  rules.push(ACCEPT_ALL, REJECT_UDP);
  return rules;
}

/** Owner's rules first, then the defaults. Never throws. */
export function buildExitPolicy(
  userRules: readonly ExitRule[],
  ownAddresses: readonly IpAddress[],
): ExitRule[] {
  return [...userRules, ...defaultExitRules(ownAddresses)];
}

/**
 * First match wins on the unmapped address; an address with an embedded IPv4 is accepted only if it
 * and every embedded IPv4 are accepted (so 6to4, NAT64 or Teredo cannot smuggle a private address past
 * the rules). Port 0 (or any port outside 1..65535) is rejected, as is an address no rule matches
 * (a policy without a catch-all fails closed). Never throws.
 */
export function evaluateExitPolicy(
  policy: readonly ExitRule[],
  ip: IpAddress,
  port: number,
  protocol: 'tcp' | 'udp' = 'tcp',
): Verdict {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { accept: false, rule: REJECT_BAD_PORT };
  const addr = unmapIp(ip);
  const verdict = firstMatch(policy, addr, port, protocol);
  if (!verdict.accept) return verdict;
  for (const inner of embeddedIpv4(addr)) {
    const v = firstMatch(policy, inner, port, protocol);
    if (!v.accept) return v;
  }
  return verdict;
}

/** True if the rule judges protocol and its address and port parts cover ip:port. Never throws. */
export function ruleMatches(
  rule: ExitRule,
  ip: IpAddress,
  port: number,
  protocol: 'tcp' | 'udp' = 'tcp',
): boolean {
  if (rule.protocol !== 'both' && rule.protocol !== protocol) return false;
  if (port < rule.portLow || port > rule.portHigh) return false;
  const p = rule.pattern;
  switch (p.kind) {
    case 'any':
      return true;
    case 'any4':
      return ip.family === 4;
    case 'any6':
      return ip.family === 6;
    case 'cidr':
      return inCidr(ip, p.net, p.prefix);
  }
}

// --- internals ---

const ANY: AddressPattern = { kind: 'any' };
const ACCEPT_ALL = makeRule('accept', ANY, 1, 65535);
const REJECT_UDP: ExitRule = {
  ...makeRule('reject', ANY, 1, 65535, 'udp'),
  text: 'reject udp *:* (no udp rule accepted it)',
};
// Synthetic rules, so every verdict names what decided; their text says why no configured rule did.
const REJECT_BAD_PORT: ExitRule = {
  action: 'reject',
  protocol: 'both',
  pattern: ANY,
  portLow: 0,
  portHigh: 0,
  text: 'reject *:0',
};
const REJECT_UNMATCHED: ExitRule = {
  action: 'reject',
  protocol: 'both',
  pattern: ANY,
  portLow: 1,
  portHigh: 65535,
  text: 'reject *:* (end of policy)',
};

function firstMatch(
  policy: readonly ExitRule[],
  ip: IpAddress,
  port: number,
  protocol: 'tcp' | 'udp',
): Verdict {
  for (const rule of policy)
    if (ruleMatches(rule, ip, port, protocol)) return { accept: rule.action === 'accept', rule };
  return { accept: false, rule: REJECT_UNMATCHED };
}

function makeRule(
  action: 'accept' | 'reject',
  pattern: AddressPattern,
  portLow: number,
  portHigh: number,
  protocol: RuleProtocol = 'tcp',
): ExitRule {
  const ports =
    portLow === 1 && portHigh === 65535
      ? '*'
      : portLow === portHigh
        ? `${portLow}`
        : `${portLow}-${portHigh}`;
  const proto = protocol === 'udp' ? 'udp ' : '';
  return {
    action,
    protocol,
    pattern,
    portLow,
    portHigh,
    text: `${action} ${proto}${formatPattern(pattern)}:${ports}`,
  };
}

function formatPattern(p: AddressPattern): string {
  switch (p.kind) {
    case 'any':
      return '*';
    case 'any4':
      return '*4';
    case 'any6':
      return '*6';
    case 'cidr': {
      if (p.net.family === 4) return p.prefix === 32 ? formatIp(p.net) : `${formatIp(p.net)}/${p.prefix}`;
      return p.prefix === 128 ? `[${formatIp(p.net)}]` : `[${formatIp(p.net)}]/${p.prefix}`;
    }
  }
}

function parseAddressPattern(text: string, fail: (reason: string) => never): AddressPattern {
  // The mask follows the closing bracket of an IPv6 address, never sits inside it.
  const close = text.startsWith('[') ? text.indexOf(']') : -1;
  const slash = text.indexOf('/', close + 1);
  const addr = slash < 0 ? text : text.slice(0, slash);
  const mask = slash < 0 ? null : text.slice(slash + 1);
  if (addr === '*' || addr === '*4' || addr === '*6') {
    if (mask !== null) fail(`"${addr}" takes no mask`);
    return { kind: addr === '*' ? 'any' : addr === '*4' ? 'any4' : 'any6' };
  }
  if (addr === '') fail('missing address');
  let net: IpAddress;
  let prefix: number;
  if (addr.startsWith('[')) {
    if (close < 0) fail('"[" without "]"');
    if (!addr.endsWith(']'))
      fail(`unexpected text after "]" in "${text}" (the mask goes after "]", as [::1]/64)`);
    const ip = parseIp(addr);
    if (!ip || ip.family !== 6) return fail(`"${addr}" is not an IPv6 address`);
    net = ip;
    prefix = mask === null ? 128 : parsePrefix(mask, 128, fail);
  } else {
    if (addr.includes(']')) fail(`"]" without "["`);
    const ip = parseIp(addr);
    if (!ip || ip.family !== 4)
      return fail(`"${addr}" is not an IPv4 address (a.b.c.d), "*", "*4", "*6" or [IPv6]`);
    net = ip;
    prefix = mask === null ? 32 : mask.includes('.') ? parseNetmask(mask, fail) : parsePrefix(mask, 32, fail);
  }
  if (!hostBitsClear(net, prefix)) {
    const fixed = { family: net.family, bytes: maskBytes(net.bytes, prefix) } as IpAddress;
    const shown = net.family === 6 ? `[${formatIp(fixed)}]` : formatIp(fixed);
    fail(`"${addr}" has bits set beyond /${prefix} (did you mean ${shown}/${prefix}?)`);
  }
  // Evaluation unmaps ::ffff:a.b.c.d, so a mapped rule must be IPv4 to ever match.
  if (net.family === 6 && prefix >= 96 && unmapIp(net).family === 4) {
    return { kind: 'cidr', net: unmapIp(net), prefix: prefix - 96 };
  }
  return { kind: 'cidr', net, prefix };
}

function parsePrefix(text: string, max: number, fail: (reason: string) => never): number {
  const n = DECIMAL.test(text) ? Number(text) : NaN;
  if (!(n >= 0 && n <= max)) fail(`mask "/${text}" is not a prefix length 0..${max}`);
  return n;
}

function parseNetmask(text: string, fail: (reason: string) => never): number {
  const ip = parseIp(text);
  if (!ip || ip.family !== 4)
    return fail(`mask "/${text}" is not a netmask (a.b.c.d) or prefix length 0..32`);
  const value = ((ip.bytes[0]! << 24) | (ip.bytes[1]! << 16) | (ip.bytes[2]! << 8) | ip.bytes[3]!) >>> 0;
  // Contiguous: the inverted mask plus one is a power of two (or zero for /0 after wrap-around).
  const inverted = ~value >>> 0;
  if ((inverted & (inverted + 1)) !== 0) fail(`netmask "${text}" is not contiguous`);
  return 32 - Math.log2(inverted + 1);
}

function parsePorts(text: string, fail: (reason: string) => never): [number, number] {
  if (text === '*') return [1, 65535];
  const dash = text.indexOf('-');
  const one = (t: string): number => {
    const n = DECIMAL.test(t) ? Number(t) : NaN;
    if (!(n >= 1 && n <= 65535)) fail(`port "${t}" is not a number 1..65535`);
    return n;
  };
  if (text === '') return fail('missing port after ":" (use ":*" for every port)');
  if (dash < 0) {
    const p = one(text);
    return [p, p];
  }
  const low = one(text.slice(0, dash));
  const high = one(text.slice(dash + 1));
  if (low > high) fail(`port range ${low}-${high} is reversed`);
  return [low, high];
}

function hostBitsClear(net: IpAddress, prefix: number): boolean {
  return maskBytes(net.bytes, prefix).every((b, i) => b === net.bytes[i]);
}

function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = bytes.slice();
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - 8 * i));
    out[i] = out[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

/**
 * True for names that are loopback by definition (RFC 6761 §6.3: `localhost`, `localhost.` and every
 * name under `localhost`), in any case. The exit treats them as the loopback addresses without asking
 * the resolver, so the policy decides (and refuses them by default) instead of a DNS failure. Never throws.
 */
export function isLoopbackName(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}
