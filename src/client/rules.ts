// Routing rules: which path a target takes. Pure: no I/O, and never a DNS lookup. A CIDR rule matches
// only targets the application gave as an IP literal; a name is matched as text (the client does not
// resolve names that go through relays, so it cannot know their addresses).

import type { Hop } from '../circuit/circuit.js';
import { TunnelError } from '../errors.js';
import type { Target } from '../wire/address.js';
import { inCidr, parseIp, unmapIp, type IpAddress } from '../wire/ip.js';
import { shortPin } from '../wire/share-string.js';
import { DEFAULT_ISOLATE, type IsolateBy } from './isolation.js';

/** A named, ordered list of relays (a one-relay route is just a relay). */
export interface Route {
  readonly name: string;
  /** The relays in order, each with the key this client shows it (see Hop). */
  readonly relays: readonly Hop[];
  /** Stream isolation for streams this route carries as a rule's or the default's action (isolation.ts). */
  readonly isolate?: readonly IsolateBy[];
}

export type Action =
  | { readonly kind: 'direct' } // the client connects itself (and resolves names locally)
  | { readonly kind: 'block' } // refused: SOCKS 0x02 / HTTP 403
  | { readonly kind: 'route'; readonly route: Route }
  | {
      readonly kind: 'group';
      readonly name: string;
      readonly members: readonly Route[];
      readonly isolate?: readonly IsolateBy[];
    }; // first that builds serves

/**
 * `*.example.org` (glob: `*` matches one or more characters, dots included), `.example.org` (that name
 * and every name under it), or an exact name. Case-insensitive; a trailing dot on the target is ignored.
 */
export interface HostPattern {
  readonly kind: 'exact' | 'suffix' | 'glob';
  readonly text: string;
}

export interface Rule {
  /** Where it came from and what it says, for `ett explain` and logs, e.g. `rules[2] host=*.example.org port=443`. */
  readonly text: string;
  /** Each present criterion must match; within a criterion, any entry may match. */
  readonly hosts?: readonly HostPattern[];
  readonly cidrs?: readonly { readonly net: IpAddress; readonly prefix: number }[];
  readonly ports?: readonly { readonly low: number; readonly high: number }[];
  readonly action: Action;
  /** Stream isolation for the streams this rule matches; beats its action's. */
  readonly isolate?: readonly IsolateBy[];
}

export interface RoutingTable {
  readonly rules: readonly Rule[];
  readonly default: Action;
  /** Stream isolation where no rule, route or group says (config `isolate`); default DEFAULT_ISOLATE. */
  readonly isolate?: readonly IsolateBy[];
  /** Every stream isolated by its destination host too (`isolate_per_host`, `--isolate-per-host`). */
  readonly isolatePerHost?: boolean;
}

export interface Decision {
  /** The rule that matched, or null when the default applied. */
  readonly rule: Rule | null;
  readonly action: Action;
}

// Letters, digits, '-', '_' and '.', plus '*' in globs: what a host name (or a dotted IPv4) holds.
const PATTERN_CHARS = /^[a-z0-9._*-]+$/;

/** Parses a host pattern (see HostPattern). Throws TunnelError('config', reason). */
export function parseHostPattern(text: string): HostPattern {
  const t = text.trim().toLowerCase().replace(/\.$/, '');
  if (t === '' || t === '.') throw new TunnelError('config', 'empty host pattern');
  if (!PATTERN_CHARS.test(t)) {
    throw new TunnelError(
      'config',
      `host pattern "${text}" may hold only letters, digits, '.', '-', '_' and '*'`,
    );
  }
  const suffix = t.startsWith('.');
  const name = suffix ? t.slice(1) : t;
  // One trailing dot (the root) is allowed and dropped above; any other empty label is a typo that
  // would make a rule that never matches.
  if (name.split('.').some((label) => label === '')) {
    throw new TunnelError('config', `host pattern "${text}" has an empty label`);
  }
  if (suffix) {
    if (name.includes('*')) throw new TunnelError('config', `host pattern "${text}": '.suffix' takes no '*'`);
    return { kind: 'suffix', text: name };
  }
  return { kind: name.includes('*') ? 'glob' : 'exact', text: name };
}

const globCache = new Map<string, RegExp>();
function globRegExp(glob: string): RegExp {
  let re = globCache.get(glob);
  if (!re) {
    const body = glob
      .split('*')
      .map((part) => part.replace(/\./g, '\\.'))
      .join('.+');
    re = new RegExp(`^${body}$`);
    globCache.set(glob, re);
  }
  return re;
}

function hostMatches(p: HostPattern, host: string): boolean {
  switch (p.kind) {
    case 'exact':
      return host === p.text;
    case 'suffix':
      return host === p.text || host.endsWith(`.${p.text}`);
    case 'glob':
      return globRegExp(p.text).test(host);
  }
}

/** True if every criterion the rule has matches target. Never throws. */
export function ruleMatches(rule: Rule, target: Target): boolean {
  if (rule.ports && !rule.ports.some((r) => target.port >= r.low && target.port <= r.high)) return false;
  if (rule.hosts) {
    const host = target.host.toLowerCase().replace(/\.$/, '');
    if (!rule.hosts.some((p) => hostMatches(p, host))) return false;
  }
  if (rule.cidrs) {
    // Only an IP the application gave can match: names are not resolved here.
    const parsed = parseIp(target.host);
    if (parsed === null) return false;
    const ip = unmapIp(parsed);
    if (!rule.cidrs.some((c) => inCidr(ip, c.net, c.prefix))) return false;
  }
  return true;
}

/** First matching rule wins; else the default. Never throws. */
export function decide(table: RoutingTable, target: Target): Decision {
  for (const rule of table.rules) if (ruleMatches(rule, target)) return { rule, action: rule.action };
  return { rule: null, action: table.default };
}

/**
 * The isolation criteria a decision's streams follow: the rule's, else its route's or group's, else
 * the table's, else DEFAULT_ISOLATE; with isolatePerHost, `destination` as well.
 */
export function isolateOf(table: RoutingTable, d: Decision): readonly IsolateBy[] {
  const a = d.action;
  const own = a.kind === 'route' ? a.route.isolate : a.kind === 'group' ? a.isolate : undefined;
  const by = d.rule?.isolate ?? own ?? table.isolate ?? DEFAULT_ISOLATE;
  return table.isolatePerHost === true && !by.includes('destination') ? [...by, 'destination'] : by;
}

function describeRoute(r: Route): string {
  const hop = (h: Route['relays'][number]): string =>
    h.clientKey === undefined
      ? shortPin(h.pin)
      : `${shortPin(h.pin)} (${h.clientKey === 'ephemeral' ? 'ephemeral key' : `key ${shortPin(h.clientKey.pin)}`})`;
  return `route ${r.name}: ${r.relays.map(hop).join(' > ')}`;
}

/** One line for humans: `direct`, `block`, `route home: Z4UhHI1f > pnPpocwv`, `group safe: [route a: …] then [route b: …]`. Never throws. */
export function describeAction(action: Action): string {
  switch (action.kind) {
    case 'direct':
    case 'block':
      return action.kind;
    case 'route':
      return describeRoute(action.route);
    case 'group':
      return `group ${action.name}: ${action.members.map((m) => `[${describeRoute(m)}]`).join(' then ')}`;
  }
}
