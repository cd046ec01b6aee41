// Settings that are valid but dangerous: started anyway, with a loud warning on stderr.

import { inCidr, parseIp, parseIpLoose } from '../wire/ip.js';
import type { ClientSettings, RelaySettings } from './schema.js';

const LOOPBACK_V4 = parseIp('127.0.0.0')!;
const LOOPBACK_V6 = parseIp('::1')!;

/** True when host (a listen address) is reachable only from this machine: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  const ip = parseIpLoose(host);
  if (ip === null) return false; // a name may resolve to anything: assume it is public
  return ip.family === 4 ? inCidr(ip, LOOPBACK_V4, 8) : inCidr(ip, LOOPBACK_V6, 128) || mappedLoopback(ip);
}

function mappedLoopback(ip: { bytes: Uint8Array }): boolean {
  const b = ip.bytes;
  return b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff && b[12] === 127;
}

/**
 * The warning for an open relay: listening beyond loopback, serving any client key (allow_any), with no
 * exit rule of the owner's (only the defaults, which accept every public address). Such a relay lets
 * anyone on the internet send traffic from its address. null when the settings are not that.
 */
export function openRelayWarning(s: RelaySettings): string | null {
  if (!s.allowAny || s.exitRules.length > 0 || isLoopbackHost(s.listen.host)) return null;
  return [
    '******************************************************************************',
    `WARNING: this is an OPEN RELAY TO THE INTERNET FOR ANYONE.`,
    `  It listens on ${s.listen.host} (not loopback), serves ANY client key (--allow-any / allow_any),`,
    '  and has no exit rules of its own, so the default policy lets every client connect to any',
    "  public address in this machine's name: abuse reports and blocklists will name you.",
    '  To fix it, do one or more of:',
    '  - list the client keys you serve: --allow PIN (allow = [...] in the config), not --allow-any;',
    '  - write an exit policy: --exit "accept *:443" --exit "reject *:*" (exit = [...] in the config);',
    '  - listen on 127.0.0.1 and reach it through something that authenticates.',
    '******************************************************************************',
  ].join('\n');
}

/** True when host is the unspecified address (0.0.0.0, ::): a listen address no client can dial. */
export function isUnspecifiedHost(host: string): boolean {
  const ip = parseIpLoose(host.replace(/^\[(.*)\]$/, '$1'));
  return ip !== null && ip.bytes.every((b) => b === 0);
}

/**
 * The warning for a client whose proxy port listens beyond loopback with no `[socks_users]` login:
 * anyone who can reach the port (the LAN, a café's Wi-Fi) uses the client's relays and keys. null when
 * it listens on loopback or asks for a login.
 */
export function openProxyWarning(s: ClientSettings): string | null {
  if (s.socksUsers !== undefined || isLoopbackHost(s.listen.host)) return null;
  return [
    '******************************************************************************',
    'WARNING: this client is an OPEN PROXY for everyone who can reach it.',
    `  Its proxy port listens on ${s.listen.host} (not loopback) and asks for no login, so anyone on`,
    '  your network can send traffic through it: out of your relays, with your keys, in your name',
    '  (or straight from this machine, where a rule says direct).',
    '  To fix it, do one of:',
    '  - listen on loopback: --listen 127.0.0.1:1080 (listen = "127.0.0.1:1080" in the config);',
    '  - require a login: a [socks_users] table in the config file (name = "a long password"),',
    '    asked of SOCKS5 (username/password) and HTTP proxy (Basic) clients alike.',
    '******************************************************************************',
  ].join('\n');
}

/**
 * The warning for a relay that listens on the unspecified address (0.0.0.0, ::) with no `advertise`:
 * its share string then names that address, which no client can reach. null otherwise.
 */
export function advertiseWarning(s: RelaySettings): string | null {
  if (s.advertise !== undefined || !isUnspecifiedHost(s.listen.host)) return null;
  return (
    `warning: the relay listens on ${s.listen.host}, so its share string names ${s.listen.host}, ` +
    'which no client can dial; pass --advertise HOST (advertise = "HOST" in the config) with the ' +
    'name or address clients reach this machine by, and hand out that share string'
  );
}

/**
 * The soft open-files limit from the text of /proc/self/limits ("Max open files  SOFT  HARD  files"):
 * a number, Infinity for `unlimited`, null when the line is missing or unreadable (then no warning).
 */
export function parseOpenFilesLimit(procLimits: string): number | null {
  const m = /^Max open files\s+(\S+)\s+\S+/m.exec(procLimits);
  if (m === null) return null;
  if (m[1] === 'unlimited') return Infinity;
  return /^\d+$/.test(m[1]!) ? Number(m[1]) : null;
}

/**
 * The warning for an open-files limit below what the limits need (openFilesNeeded in limits.ts), with
 * the number to set. null when the limit is enough or unknown.
 */
export function openFilesWarning(soft: number | null, need: number, who: 'relay' | 'client'): string | null {
  if (soft === null || soft >= need) return null;
  return (
    `warning: the open-files limit is ${soft}, below the ${need} this ${who}'s limits need ` +
    `(see README, "Open files"); set it to at least ${need}: \`ulimit -n ${need}\` in the shell that ` +
    `starts ett, or LimitNOFILE=${need} in its systemd unit; or lower the limits`
  );
}
