// The exit policy: Tor-style rules `accept|reject ADDR[/MASK]:PORT[-PORT]`, first match wins. The
// effective policy is the owner's rules followed by the defaults (refuse private, loopback, link-local,
// multicast, unspecified, reserved and the relay's own addresses; accept everything else). Pure.
// OWNER: helper "exit-policy" — implement every function below; keep signatures.

import type { IpAddress } from '../wire/ip.js';

export type AddressPattern =
  | { readonly kind: 'any' } // *
  | { readonly kind: 'any4' } // *4
  | { readonly kind: 'any6' } // *6
  | { readonly kind: 'cidr'; readonly net: IpAddress; readonly prefix: number };

export interface ExitRule {
  readonly action: 'accept' | 'reject';
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

/** Parses one rule. Throws TunnelError('config', reason) naming what is wrong. */
export function parseExitRule(_text: string): ExitRule {
  throw new Error('unimplemented');
}

/** The default rules, ending in `accept *:*`. */
export function defaultExitRules(_ownAddresses: readonly IpAddress[]): ExitRule[] {
  throw new Error('unimplemented');
}

/** Owner's rules first, then the defaults. */
export function buildExitPolicy(_userRules: readonly ExitRule[], _ownAddresses: readonly IpAddress[]): ExitRule[] {
  throw new Error('unimplemented');
}

/** First match wins on the unmapped address; an address with an embedded IPv4 is accepted only if it and every embedded IPv4 are accepted. Port 0 is rejected. */
export function evaluateExitPolicy(_policy: readonly ExitRule[], _ip: IpAddress, _port: number): Verdict {
  throw new Error('unimplemented');
}
