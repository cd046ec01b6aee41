// Who may publish what on this relay: the owner's `publish` rules (DESIGN.md §20). Default none: a relay
// without rules listens for nobody. Pure.
//
//   PIN ports LOW[-HIGH] [on ADDR[,ADDR...]]
//
// PIN is a client key's pin (as `ett pin` prints it); the ports are the range that key may listen on;
// `on` names the addresses it may bind (IP literals; `0.0.0.0` and `::` are the wildcards and must be
// named to be allowed). Without `on` the key may bind any address. The first rule for the key whose
// ports and addresses both fit accepts.

import { TunnelError } from '../errors.js';
import { pinMatches } from '../link/tls.js';
import { formatIp, parseIp, sameIp, unmapIp, type IpAddress } from '../wire/ip.js';
import { normalizePin, shortPin } from '../wire/share-string.js';

export interface PublishRule {
  /** The rule as written (normalized), for logs and `ett check-config`. */
  readonly text: string;
  readonly pin: string;
  readonly low: number;
  readonly high: number;
  /** Addresses the key may bind; null: any. */
  readonly binds: readonly IpAddress[] | null;
}

export type PublishVerdict =
  { readonly accept: true; readonly rule: PublishRule } | { readonly accept: false; readonly reason: string };

const SHAPE = 'expected "PIN ports LOW[-HIGH] [on ADDR[,ADDR...]]"';

/** One rule. Throws TunnelError('config') with the reason (the pin is never echoed past 8 characters). */
export function parsePublishRule(text: string): PublishRule {
  const words = text.trim().split(/\s+/);
  if ((words.length !== 3 && words.length !== 5) || words[1] !== 'ports') {
    throw new TunnelError('config', SHAPE);
  }
  if (words.length === 5 && words[3] !== 'on')
    throw new TunnelError('config', `${SHAPE} (after the ports: "on")`);
  let pin: string;
  try {
    pin = normalizePin(words[0]!);
  } catch (err) {
    throw new TunnelError('config', `not a pin: ${err instanceof Error ? err.message : String(err)}`);
  }
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(words[2]!);
  if (m === null) throw new TunnelError('config', `ports "${words[2]}": expected LOW or LOW-HIGH`);
  const low = Number(m[1]);
  const high = m[2] === undefined ? low : Number(m[2]);
  if (low < 1 || high > 65535) throw new TunnelError('config', `ports ${words[2]}: ports are 1..65535`);
  if (low > high) throw new TunnelError('config', `ports ${words[2]}: the range runs backwards`);
  let binds: IpAddress[] | null = null;
  if (words.length === 5) {
    binds = words[4]!.split(',').map((a) => {
      const ip = parseIp(a);
      if (ip === null) throw new TunnelError('config', `on "${a}": not an IP address`);
      return unmapIp(ip);
    });
  }
  const ports = low === high ? `${low}` : `${low}-${high}`;
  const on = binds === null ? '' : ` on ${binds.map(formatIp).join(',')}`;
  return Object.freeze({ text: `${pin} ports ${ports}${on}`, pin, low, high, binds });
}

/**
 * May the key `pin` listen on bind:port? The reason of a refusal is for the client (it is sent back to
 * it): it names the port and address asked for and what this key may have, never another key's rules.
 */
export function evaluatePublish(
  rules: readonly PublishRule[],
  pin: string,
  bind: IpAddress,
  port: number,
): PublishVerdict {
  const mine = rules.filter((r) => pinMatches(pin, r.pin));
  const asked = `${formatIp(bind)} port ${port}`;
  if (mine.length === 0) {
    return {
      accept: false,
      reason: `key ${shortPin(pin)} may publish nothing on this relay (no publish rule)`,
    };
  }
  const ip = unmapIp(bind);
  for (const r of mine) {
    if (port < r.low || port > r.high) continue;
    if (r.binds === null || r.binds.some((b) => sameIp(b, ip))) return { accept: true, rule: r };
  }
  const allowed = mine
    .map(
      (r) =>
        `${r.low === r.high ? r.low : `${r.low}-${r.high}`}${r.binds ? ` on ${r.binds.map(formatIp).join(',')}` : ''}`,
    )
    .join('; ');
  const portFits = mine.some((r) => port >= r.low && port <= r.high);
  const what = portFits
    ? `address ${formatIp(bind)} is not one this key may bind`
    : `port ${port} is outside this key's ports`;
  return { accept: false, reason: `${asked} refused: ${what} (allowed: ${allowed})` };
}
