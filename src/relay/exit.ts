// The exit: resolve once, check every address against the policy, connect only to an approved one.
//
// Why resolve here and only once: if we checked the name's addresses and then handed the *name* to
// net.connect, the second lookup could answer differently (DNS rebinding: a public address for the
// check, 127.0.0.1 for the connect). So we connect to the exact address the policy approved. Literal
// hosts are parsed with inet_aton's rules (`0x7f.1`, `2130706433`, ...) and never reach the resolver,
// because getaddrinfo would accept those forms and the policy must judge what the kernel will see.
//
// Order of work, all under one deadline (connectTimeoutMs) and the caller's signal:
//   1. validate port and host            -> 'address-type'
//   2. literal? use it : lookup once     -> 'host-unreachable'
//   3. evaluate every address            -> 'policy' when none is approved (message: the deciding rule)
//   4. connect to approved ones in order -> first success wins; else the last error ('refused', ...)

import { raceAbort } from '../abort.js';
import { lookup as dnsLookup } from 'node:dns/promises';
import { connect, type Socket } from 'node:net';
import { TunnelError, toTunnelError } from '../errors.js';
import { keepReplyOnWriteError } from '../link/splice.js';
import type { Target } from '../wire/address.js';
import { formatIp, parseIp, parseIpLoose, unmapIp, type IpAddress } from '../wire/ip.js';
import { evaluateExitPolicy, isLoopbackName, type ExitRule, type Verdict } from './exit-policy.js';

export interface ExitOptions {
  readonly policy: readonly ExitRule[];
  readonly connectTimeoutMs: number;
  readonly signal?: AbortSignal;
  /** Resolver; default dns.lookup(host, {all: true, verbatim: true}). Returns address strings. */
  readonly lookup?: (host: string) => Promise<string[]>;
}

// Characters no host name can hold; such a host is malformed, and must not reach getaddrinfo, which
// would read `fe80::1%eth0` or `1.2.3.4 junk` in ways we cannot predict.
const NOT_IN_A_NAME = /[:[\]%/\\\s]/;
const malformedHost = (host: string): boolean =>
  NOT_IN_A_NAME.test(host) || [...host].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);

/**
 * Connects to target under the policy. Literal hosts (in any form parseIpLoose takes) are normalised and
 * never looked up; names are looked up once. Rejects with TunnelError: 'policy' (no approved address),
 * 'host-unreachable' (name does not resolve), 'refused', 'timeout', 'network-unreachable', 'address-type'.
 * The returned socket has allowHalfOpen true and noDelay set.
 * On any failure no socket, timer or listener of ours is left behind; an abort of opts.signal rejects
 * with the signal's reason if that is a TunnelError, else with 'timeout' (the errors table's ABORT_ERR).
 */
export async function dialExit(target: Target, opts: ExitOptions): Promise<Socket> {
  const { host, port } = target;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TunnelError('address-type', `port ${port} is not 1..65535`);
  }
  if (host === '') throw new TunnelError('address-type', 'empty host');
  const literal = parseIpLoose(host);
  if (!literal && malformedHost(host)) throw new TunnelError('address-type', 'malformed host');

  // One controller carries both the deadline and the caller's abort to every step below.
  const ac = new AbortController();
  const timer = setTimeout(
    () => ac.abort(new TunnelError('timeout', `connect timed out after ${opts.connectTimeoutMs} ms`)),
    opts.connectTimeoutMs,
  );
  const onCallerAbort = (): void => ac.abort(abortReason(opts.signal?.reason));
  if (opts.signal?.aborted) onCallerAbort();
  else opts.signal?.addEventListener('abort', onCallerAbort, { once: true });
  try {
    const loopback = !literal && isLoopbackName(host);
    const candidates = literal
      ? [literal]
      : loopback
        ? LOOPBACK
        : await resolve(host, opts.lookup ?? defaultLookup, ac.signal);
    const approved: IpAddress[] = [];
    let refusal: Verdict | undefined;
    for (const ip of candidates) {
      const v = evaluateExitPolicy(opts.policy, ip, port);
      if (v.accept) approved.push(unmapIp(ip));
      else refusal ??= v;
    }
    if (approved.length === 0) {
      if (!refusal) throw new TunnelError('host-unreachable', 'name has no usable address');
      const why = loopback ? ' (a localhost name is loopback by definition, RFC 6761; never looked up)' : '';
      throw new TunnelError('policy', `refused by exit policy rule "${refusal.rule.text}"${why}`);
    }
    let lastError: unknown;
    for (const ip of approved) {
      ac.signal.throwIfAborted();
      try {
        return await connectOnce(ip, port, ac.signal);
      } catch (err) {
        if (ac.signal.aborted) throw err;
        lastError = err;
      }
    }
    throw toTunnelError(lastError);
  } catch (err) {
    throw ac.signal.aborted ? (ac.signal.reason as TunnelError) : toTunnelError(err);
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onCallerAbort);
  }
}

// What a localhost name stands for (RFC 6761 §6.3), in the order a resolver would give them.
const LOOPBACK: readonly IpAddress[] = [parseIp('127.0.0.1')!, parseIp('::1')!];

async function defaultLookup(host: string): Promise<string[]> {
  const found = await dnsLookup(host, { all: true, verbatim: true });
  return found.map((a) => a.address);
}

/** Looks host up once; the answer's unparseable entries are dropped. Any failure is 'host-unreachable'. */
async function resolve(
  host: string,
  lookup: (host: string) => Promise<string[]>,
  signal: AbortSignal,
): Promise<IpAddress[]> {
  let answer: string[];
  try {
    // A lookup cannot be cancelled (it runs on libuv's pool), so an abort only stops our waiting.
    answer = await raceAbort(lookup(host), signal);
  } catch (err) {
    if (signal.aborted) throw err;
    const errno = typeof err === 'object' && err !== null && 'code' in err ? ` (${String(err.code)})` : '';
    throw new TunnelError('host-unreachable', `name does not resolve${errno}`, { cause: err });
  }
  const out: IpAddress[] = [];
  for (const text of answer) {
    const ip = parseIp(text);
    if (ip) out.push(ip);
  }
  return out;
}

/** One TCP connect to an approved address. Rejects with the socket's error, or the abort reason. */
function connectOnce(ip: IpAddress, port: number, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolvePromise, reject) => {
    const socket = connect({ host: formatIp(ip), port, allowHalfOpen: true });
    const cleanup = (): void => {
      socket.removeListener('connect', onConnect);
      socket.removeListener('error', onError);
      signal.removeEventListener('abort', onAbort);
    };
    const onConnect = (): void => {
      cleanup();
      socket.setNoDelay(true);
      keepReplyOnWriteError(socket);
      resolvePromise(socket);
    };
    const onError = (err: Error): void => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onAbort = (): void => {
      cleanup();
      socket.destroy();
      reject(signal.reason);
    };
    socket.once('connect', onConnect);
    socket.once('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function abortReason(reason: unknown): TunnelError {
  if (reason instanceof TunnelError) return reason;
  const err = Object.assign(new Error('dial aborted', { cause: reason }), {
    code: 'ABORT_ERR',
    name: 'AbortError',
  });
  return toTunnelError(err);
}
