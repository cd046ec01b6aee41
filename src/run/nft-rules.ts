// The nftables ruleset `ett transparent-rules` prints (DESIGN §18): one table, `inet ett`, that sends a
// machine's own TCP and DNS (machine mode: the output hook, every user but ett's) or a LAN interface's
// (router mode: the prerouting hook) to the client's transparent and DNS ports (with `udp`, other UDP
// to the transparent port's number too), and drops what would
// otherwise leave: machine mode drops every other outbound packet except loopback, ett's own user,
// replies to connections already accepted, and the few packets a link needs to come up (IPv6 neighbour
// discovery, DHCP); router mode forwards nothing from the LAN interface. Both IPv4 and IPv6 (an inet
// table). Applied atomically and again without duplicates (`table` then `delete table` then the table);
// undone with `nft delete table inet ett`. Pure: no I/O.

import { TunnelError } from '../errors.js';

export const NFT_TABLE = 'inet ett';

export interface RulesetOptions {
  /** The client's transparent port (every redirected TCP connection goes there). */
  readonly transparentPort: number;
  /** The client's DNS port (every DNS query goes there, so no name is ever resolved outside ett). */
  readonly dnsPort: number;
  /** Router mode: the LAN interface whose hosts are redirected. */
  readonly router?: string;
  /** Machine mode: the user ett runs as, whose own packets (its links to relays) leave untouched. */
  readonly uidExclude?: string;
  /**
   * Also redirect UDP to unicast addresses elsewhere to the transparent port (same port number, UDP),
   * instead of dropping it; the client reads each datagram's destination from connection tracking.
   */
  readonly udp?: boolean;
}

const IFACE_RE = /^[A-Za-z0-9_.:-]{1,15}\*?$/;
const USER_RE = /^(\d{1,10}|[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?)$/;

/**
 * The ruleset text for `nft -f -`. Throws TunnelError('config') for a bad interface or user name, a
 * bad port, or machine mode (no --router) without --uid-exclude: ett's own links would be redirected
 * to itself.
 */
export function transparentRuleset(o: RulesetOptions): string {
  for (const [what, port] of [
    ['--transparent', o.transparentPort],
    ['--dns', o.dnsPort],
  ] as const) {
    if (!(Number.isInteger(port) && port >= 1 && port <= 65535)) {
      throw new TunnelError('config', `transparent-rules: ${what}: port ${port} is not 1..65535`);
    }
  }
  if (o.router !== undefined && !IFACE_RE.test(o.router)) {
    throw new TunnelError(
      'config',
      `transparent-rules: --router ${JSON.stringify(o.router)} is not an interface name (at most 15 of A-Z a-z 0-9 _ . : -, a trailing * for a prefix)`,
    );
  }
  if (o.uidExclude !== undefined && !USER_RE.test(o.uidExclude)) {
    throw new TunnelError(
      'config',
      `transparent-rules: --uid-exclude ${JSON.stringify(o.uidExclude)} is not a user name or number`,
    );
  }
  if (o.router === undefined && o.uidExclude === undefined) {
    throw new TunnelError(
      'config',
      "transparent-rules: machine mode needs --uid-exclude USER, the user ett client runs as, so that ett's own " +
        'links to its relays are not redirected to itself (or give --router IFACE for router mode)',
    );
  }
  const t = o.transparentPort;
  const lines = [
    `# ett transparent-rules: ${modeText(o)}.`,
    '# Apply: ett transparent-rules ... | nft -f -    Undo: nft delete table inet ett',
    `# ett client must listen: --transparent ${listenHint(o, t)} --dns ${listenHint(o, o.dnsPort)}`,
    `table ${NFT_TABLE}`,
    `delete table ${NFT_TABLE}`,
    `table ${NFT_TABLE} {`,
  ];
  if (o.uidExclude !== undefined) {
    const user = /^\d+$/.test(o.uidExclude) ? o.uidExclude : JSON.stringify(o.uidExclude);
    lines.push(
      '\t# This machine: every TCP connection and DNS query of every user but ett to ett.',
      '\tchain machine_redirect {',
      '\t\ttype nat hook output priority -100; policy accept;',
      `\t\tmeta skuid ${user} return`,
      ...dnsRedirect('', o.dnsPort),
      '\t\tip daddr 127.0.0.0/8 return',
      '\t\tip6 daddr ::1 return',
      '\t\tfib daddr type local return',
      `\t\tmeta l4proto tcp redirect to :${t}`,
      ...udpRedirect('', o, t),
      '\t}',
      '\t# Nothing else leaves: loopback (where the redirects go), ett itself, replies, link setup.',
      '\tchain machine_only_ett {',
      '\t\ttype filter hook output priority filter; policy drop;',
      '\t\toifname "lo" accept',
      // A redirected packet keeps the interface its first route chose (the hook's), but is now
      // addressed to loopback, where the ports are.
      '\t\tip daddr 127.0.0.0/8 accept',
      '\t\tip6 daddr ::1 accept',
      `\t\tmeta skuid ${user} accept`,
      '\t\tct state established,related accept',
      '\t\ticmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept',
      '\t\tudp sport 68 udp dport 67 accept',
      '\t\tudp sport 546 udp dport 547 accept',
      '\t\tcounter drop',
      '\t}',
    );
  }
  if (o.router !== undefined) {
    const iif = `iifname ${JSON.stringify(o.router)}`;
    lines.push(
      `\t# The LAN on ${o.router}: its TCP and DNS to ett on this router.`,
      '\tchain router_redirect {',
      '\t\ttype nat hook prerouting priority dstnat; policy accept;',
      ...dnsRedirect(`${iif} `, o.dnsPort),
      `\t\t${iif} fib daddr type local return`,
      `\t\t${iif} meta l4proto tcp redirect to :${t}`,
      ...udpRedirect(`${iif} `, o, t),
      '\t}',
      `\t# Nothing from ${o.router} is forwarded: the LAN reaches beyond this router only through ett.`,
      '\tchain router_no_forward {',
      '\t\ttype filter hook forward priority filter; policy accept;',
      `\t\t${iif} counter drop`,
      '\t}',
    );
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}

function dnsRedirect(prefix: string, port: number): string[] {
  return [`\t\t${prefix}udp dport 53 redirect to :${port}`, `\t\t${prefix}tcp dport 53 redirect to :${port}`];
}

/** With --udp: other UDP to a unicast address (not broadcast or multicast: DHCP, mDNS stay put). */
function udpRedirect(prefix: string, o: RulesetOptions, port: number): string[] {
  if (o.udp !== true) return [];
  return [`\t\t${prefix}fib daddr type unicast meta l4proto udp redirect to :${port}`];
}

function modeText(o: RulesetOptions): string {
  const modes = [];
  if (o.uidExclude !== undefined) modes.push(`machine mode (all users but ${o.uidExclude})`);
  if (o.router !== undefined) modes.push(`router mode (LAN on ${o.router})`);
  return modes.join(' and ') + (o.udp === true ? ', UDP carried' : '');
}

/** Where the ports must listen: loopback for the machine, the LAN's address (any) for a router. */
function listenHint(o: RulesetOptions, port: number): string {
  if (o.router === undefined) return `localhost:${port}`;
  return o.uidExclude === undefined ? `[::]:${port}` : `[::]:${port} (both modes: any address)`;
}
