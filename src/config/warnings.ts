// Settings that are valid but dangerous: started anyway, with a loud warning on stderr.

import { inCidr, parseIp, parseIpLoose } from '../wire/ip.js';
import type { RelaySettings } from './schema.js';

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
