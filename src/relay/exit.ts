// The exit: resolve once, check every address against the policy, connect only to an approved one.
// OWNER: helper "exit-policy" — implement; keep the signature.

import type { Socket } from 'node:net';
import type { Target } from '../wire/address.js';
import type { ExitRule } from './exit-policy.js';

export interface ExitOptions {
  readonly policy: readonly ExitRule[];
  readonly connectTimeoutMs: number;
  readonly signal?: AbortSignal;
  /** Resolver; default dns.lookup(host, {all: true, verbatim: true}). Returns address strings. */
  readonly lookup?: (host: string) => Promise<string[]>;
}

/**
 * Connects to target under the policy. Literal hosts (in any form parseIpLoose takes) are normalised and
 * never looked up; names are looked up once. Rejects with TunnelError: 'policy' (no approved address),
 * 'host-unreachable' (name does not resolve), 'refused', 'timeout', 'network-unreachable', 'address-type'.
 * The returned socket has allowHalfOpen true and noDelay set.
 */
export async function dialExit(_target: Target, _opts: ExitOptions): Promise<Socket> {
  throw new Error('unimplemented');
}
