// Why a link went down, or why a circuit could not be built, as one stable word for the client's log:
//   ping-timeout    nothing heard from the relay within pingTimeoutMs of a PING (link only)
//   go-away         the relay said GO_AWAY (it is shutting down) and the link wound down
//   closed          the relay's end closed the connection without GO_AWAY (killed, restarted, crashed)
//   reset           the connection was reset (ECONNRESET, EPIPE)
//   refused         connection refused (nothing listening at the relay's address)
//   timeout         TCP connect or TLS handshake deadline passed (build only)
//   unreachable     no route to the relay's host or network, or its name does not resolve
//   tls-error       the TLS layer failed (bad record, alert)
//   auth            pin mismatch, or the relay did not accept our key
//   policy          the previous hop's exit policy refused the next hop
//   protocol-error  the relay broke the multiplexer protocol
//   shutdown        our own shutdown
//   error           anything else
// The words are found by walking the error's cause chain: a link closed because the hop it ran inside
// went down carries that hop's error as its cause.

import { TunnelError, type ErrorCode } from '../errors.js';

export type LinkReason =
  | 'ping-timeout'
  | 'go-away'
  | 'closed'
  | 'reset'
  | 'refused'
  | 'timeout'
  | 'unreachable'
  | 'tls-error'
  | 'auth'
  | 'policy'
  | 'protocol-error'
  | 'shutdown'
  | 'error';

const BY_CODE: Partial<Record<ErrorCode, LinkReason>> = {
  timeout: 'timeout',
  protocol: 'protocol-error',
  'link-auth': 'auth',
  reset: 'reset',
  refused: 'refused',
  'host-unreachable': 'unreachable',
  'network-unreachable': 'unreachable',
  policy: 'policy',
};

const BY_ERRNO: Readonly<Record<string, LinkReason>> = {
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  ECONNABORTED: 'reset',
  ECONNREFUSED: 'refused',
  ETIMEDOUT: 'timeout',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  ENOTFOUND: 'unreachable',
  EAI_AGAIN: 'unreachable',
};

function classify(err: unknown, fallback: LinkReason): LinkReason {
  let e: unknown = err;
  for (let depth = 0; depth < 8 && e instanceof Error; depth++) {
    if (e instanceof TunnelError) {
      const r = BY_CODE[e.code];
      if (r) return r;
    } else {
      const errno = String((e as Error & { code?: unknown }).code ?? '');
      if (BY_ERRNO[errno]) return BY_ERRNO[errno];
      if (/^ERR_(SSL|TLS)_/.test(errno) || /^ERR_SSL/.test(e.message)) return 'tls-error';
    }
    e = e.cause;
  }
  return fallback;
}

/** Why an established link closed; err is the session's 'close' error (none after a GO_AWAY wind-down). */
export function linkDownReason(err: Error | undefined, peerSentGoAway: boolean): LinkReason {
  if (err === undefined) return peerSentGoAway ? 'go-away' : 'closed';
  const r = classify(err, 'closed');
  // On a running link the only deadline is the PING's.
  return r === 'timeout' ? 'ping-timeout' : r;
}

/** Why a circuit build failed. */
export function buildFailReason(err: unknown): LinkReason {
  return classify(err, err instanceof TunnelError && err.code === 'link-down' ? 'closed' : 'error');
}
