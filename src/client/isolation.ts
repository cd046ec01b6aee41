// Stream isolation: which streams may share a circuit. Streams that share one can be linked by the exit
// (same TLS session, same throwaway key); streams with different isolation keys never share one. Pure:
// the key is an HMAC under a secret the router makes at start, so neither the key nor a status label
// reveals a password, and a short tag tells two logins of the same username apart.
//
// Criteria (config `isolate = [...]` on a route, group or rule, or at the top; default ["socks-auth"],
// as Tor's IsolateSOCKSAuth):
//   socks-auth   the application's login: SOCKS5 username/password, SOCKS4 user id, HTTP proxy Basic
//   destination  the target host as the application gave it (name or IP literal; not the port)
//   forward      the static forward the connection came in by
//   source       the application's IP address (each LAN host in router mode)
// A stream for which every criterion is empty (no login, not a forward, …) takes the shared circuit.

import { createHmac } from 'node:crypto';
import type { StreamContext } from '../proxy/dialer.js';
import type { Target } from '../wire/address.js';

export const ISOLATE_BY = ['socks-auth', 'destination', 'forward', 'source'] as const;
export type IsolateBy = (typeof ISOLATE_BY)[number];

/** What applies where nothing more specific says: a different login → a different circuit. */
export const DEFAULT_ISOLATE: readonly IsolateBy[] = Object.freeze(['socks-auth']);

export interface Isolation {
  /** Tells circuits apart in the pool: HMAC-SHA256 (hex) of the criteria's values. */
  readonly key: string;
  /** For `ett status`: the criteria's values without any password, and a tag of the key. */
  readonly label: string;
}

/** The criteria in canonical order, each once (config order does not change a key). */
export function canonicalIsolate(by: readonly IsolateBy[]): IsolateBy[] {
  return ISOLATE_BY.filter((c) => by.includes(c));
}

/** The isolation of one stream, or null when it may take the shared circuit. Never throws. */
export function isolationOf(
  by: readonly IsolateBy[],
  target: Target,
  ctx: StreamContext | undefined,
  secret: Uint8Array,
): Isolation | null {
  const parts: string[] = [];
  const shown: string[] = [];
  for (const c of canonicalIsolate(by)) {
    const v = valueOf(c, target, ctx);
    if (v === null) continue;
    parts.push(`${c}\0${v.key}`);
    shown.push(v.shown);
  }
  if (parts.length === 0) return null;
  const key = createHmac('sha256', secret).update(parts.join('\0\0')).digest('hex');
  return { key, label: `${shown.join(', ')} #${key.slice(0, 6)}` };
}

function valueOf(
  c: IsolateBy,
  target: Target,
  ctx: StreamContext | undefined,
): { key: string; shown: string } | null {
  switch (c) {
    case 'socks-auth': {
      const login = ctx?.login;
      if (login === undefined) return null;
      return { key: `${login.username}\0${login.password}`, shown: `login ${printable(login.username)}` };
    }
    case 'destination': {
      const host = target.host.toLowerCase().replace(/\.$/, '');
      return { key: host, shown: `host ${printable(host)}` };
    }
    case 'forward':
      return ctx?.forward === undefined ? null : { key: ctx.forward, shown: `forward ${ctx.forward}` };
    case 'source':
      return ctx?.source === undefined ? null : { key: ctx.source, shown: `from ${ctx.source}` };
  }
}

// A username is the application's own text: shown without control characters, at most 32 characters.
function printable(s: string): string {
  const clean = [...s].map((ch) => (ch.charCodeAt(0) < 0x20 || ch === '\x7f' ? '?' : ch)).join('');
  return clean.length > 32 ? `${clean.slice(0, 32)}…` : clean;
}
