// Errors are data: one error type with a closed set of stable codes, and one table that maps each code
// to what every protocol ett speaks says about it (SOCKS5 reply, SOCKS4 reply, HTTP status, and the
// multiplexer's one-byte result in the ACK of a stream). Nothing else in the project maps codes.
//
// Messages must never carry keys, passwords or full pins; peers appear as short pins (first 8 chars).

/** The closed set of error codes. Stable: they appear in logs, in tests and (as bytes) on the wire. */
export type ErrorCode =
  | 'general' // internal failure, or a failure with no better code
  | 'policy' // refused by the exit policy or by a client rule (block)
  | 'network-unreachable' // no route to the destination's network
  | 'host-unreachable' // name does not resolve, or no route to the host
  | 'refused' // the destination refused the TCP connection
  | 'timeout' // connect or handshake deadline passed
  | 'command-unsupported' // SOCKS BIND / UDP ASSOCIATE, HTTP methods a relay does not serve
  | 'address-type' // an address or port that cannot be used (bad ATYP, port 0, malformed host)
  | 'bad-request' // a malformed request from the application (SOCKS/HTTP)
  | 'auth-failed' // the application's SOCKS username/password was refused
  | 'link-auth' // pin mismatch, or the relay closed a link without accepting our key
  | 'link-down' // the link under a stream broke (TLS closed, PING deadline missed, GO_AWAY)
  | 'protocol' // the peer broke the multiplexer protocol
  | 'limit' // a configured limit was reached (streams per link, buffers, handshakes)
  | 'reset' // the stream was reset by the other side
  | 'in-use' // a port asked to be published is held by another client (or another program) on the relay
  | 'config'; // bad configuration (never sent on the wire)

export interface CodeMapping {
  /** RFC 1928 reply field. */
  readonly socks5: number;
  /** SOCKS4 reply code (0x5a granted; everything else is 0x5b "rejected or failed"). */
  readonly socks4: number;
  /** HTTP status a proxy answers with. */
  readonly http: number;
  /** The multiplexer's result byte (0 means connected; see DESIGN.md "Result byte"). */
  readonly mux: number;
}

// SOCKS5 reply codes, fixed by RFC 1928 §6.
export const SOCKS5_SUCCEEDED = 0x00;
const S5_GENERAL = 0x01;
const S5_NOT_ALLOWED = 0x02;
const S5_NET_UNREACHABLE = 0x03;
const S5_HOST_UNREACHABLE = 0x04;
const S5_REFUSED = 0x05;
const S5_TTL_EXPIRED = 0x06;
const S5_COMMAND_UNSUPPORTED = 0x07;
const S5_ATYP_UNSUPPORTED = 0x08;
// SOCKS4 reply codes.
export const SOCKS4_GRANTED = 0x5a;
const S4_REJECTED = 0x5b;

/** Result byte meaning "connected"; any other value is a failure code from the table. */
export const MUX_RESULT_OK = 0;

/** The one table. Mux bytes are part of the wire protocol: never renumber, only append. */
export const ERROR_TABLE: Readonly<Record<ErrorCode, CodeMapping>> = {
  general: { socks5: S5_GENERAL, socks4: S4_REJECTED, http: 502, mux: 1 },
  policy: { socks5: S5_NOT_ALLOWED, socks4: S4_REJECTED, http: 403, mux: 2 },
  'network-unreachable': { socks5: S5_NET_UNREACHABLE, socks4: S4_REJECTED, http: 502, mux: 3 },
  'host-unreachable': { socks5: S5_HOST_UNREACHABLE, socks4: S4_REJECTED, http: 502, mux: 4 },
  refused: { socks5: S5_REFUSED, socks4: S4_REJECTED, http: 502, mux: 5 },
  timeout: { socks5: S5_TTL_EXPIRED, socks4: S4_REJECTED, http: 504, mux: 6 },
  'command-unsupported': { socks5: S5_COMMAND_UNSUPPORTED, socks4: S4_REJECTED, http: 405, mux: 7 },
  'address-type': { socks5: S5_ATYP_UNSUPPORTED, socks4: S4_REJECTED, http: 400, mux: 8 },
  'bad-request': { socks5: S5_GENERAL, socks4: S4_REJECTED, http: 400, mux: 9 },
  'auth-failed': { socks5: S5_NOT_ALLOWED, socks4: S4_REJECTED, http: 407, mux: 10 },
  'link-auth': { socks5: S5_GENERAL, socks4: S4_REJECTED, http: 502, mux: 11 },
  'link-down': { socks5: S5_GENERAL, socks4: S4_REJECTED, http: 502, mux: 12 },
  protocol: { socks5: S5_GENERAL, socks4: S4_REJECTED, http: 502, mux: 13 },
  limit: { socks5: S5_GENERAL, socks4: S4_REJECTED, http: 503, mux: 14 },
  reset: { socks5: S5_GENERAL, socks4: S4_REJECTED, http: 502, mux: 15 },
  'in-use': { socks5: S5_GENERAL, socks4: S4_REJECTED, http: 409, mux: 16 },
  config: { socks5: S5_GENERAL, socks4: S4_REJECTED, http: 500, mux: 1 },
};

const CODE_BY_MUX = new Map<number, ErrorCode>();
for (const [code, m] of Object.entries(ERROR_TABLE) as [ErrorCode, CodeMapping][]) {
  if (!CODE_BY_MUX.has(m.mux)) CODE_BY_MUX.set(m.mux, code);
}

/** The single error type of the project. `code` is what callers branch on; never the message. */
export class TunnelError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TunnelError';
    this.code = code;
  }
}

export function isTunnelError(err: unknown): err is TunnelError {
  return err instanceof TunnelError;
}

export function mappingOf(code: ErrorCode): CodeMapping {
  return ERROR_TABLE[code];
}

/** Code for a result byte received from a peer. Unknown bytes (a newer peer) read as 'general'. */
export function codeFromMuxResult(byte: number): ErrorCode {
  return CODE_BY_MUX.get(byte) ?? 'general';
}

// Node's errno strings for socket and resolver failures, mapped once here.
const ERRNO_CODES: Readonly<Record<string, ErrorCode>> = {
  ECONNREFUSED: 'refused',
  ETIMEDOUT: 'timeout',
  ENOTFOUND: 'host-unreachable',
  EAI_AGAIN: 'host-unreachable',
  EAI_NONAME: 'host-unreachable',
  EAI_FAIL: 'host-unreachable',
  ENODATA: 'host-unreachable',
  EHOSTUNREACH: 'host-unreachable',
  EHOSTDOWN: 'host-unreachable',
  ENETUNREACH: 'network-unreachable',
  ENETDOWN: 'network-unreachable',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  ECONNABORTED: 'reset',
  EADDRNOTAVAIL: 'network-unreachable',
  ABORT_ERR: 'timeout',
  // Out of file descriptors (the process's, or the system's): a resource limit, not the destination's fault.
  EMFILE: 'limit',
  ENFILE: 'limit',
};

/**
 * 'EMFILE' or 'ENFILE' if err, or an error in its cause chain, is the process or the system running
 * out of file descriptors; else undefined. Never throws.
 */
export function outOfDescriptors(err: unknown): 'EMFILE' | 'ENFILE' | undefined {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 8; depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === 'EMFILE' || code === 'ENFILE') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Any thrown value as a TunnelError: TunnelErrors pass through, Node system errors are classified by
 * their errno string, everything else becomes `fallback`. Never throws.
 */
export function toTunnelError(err: unknown, fallback: ErrorCode = 'general'): TunnelError {
  if (err instanceof TunnelError) return err;
  const errno =
    typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
  const code = ERRNO_CODES[errno] ?? fallback;
  const message = err instanceof Error ? err.message : String(err);
  return new TunnelError(code, message, { cause: err });
}

// Why a listen() failed, in words a user acts on (Node's own text is `listen EADDRINUSE: address already
// in use 127.0.0.1:1080`, which names the errno but not what to do).
const LISTEN_REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address in use (another process listens there)',
  EACCES: 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)',
  EADDRNOTAVAIL: 'address not available (no interface of this machine has it)',
  EAFNOSUPPORT: 'address family not supported (IPv6 off?)',
};

/**
 * The one message for a listener that could not bind, for the relay, the client's port and forwards:
 * `cannot listen on ADDRESS: REASON; choose another with FLAG`, as a TunnelError('config') (exit status
 * 2) with err as its cause. Never throws.
 */
export function listenFailed(address: string, err: unknown, flag: string): TunnelError {
  const errno =
    typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
  const reason = LISTEN_REASONS[errno] ?? (err instanceof Error ? err.message : String(err));
  return new TunnelError('config', `cannot listen on ${address}: ${reason}; choose another with ${flag}`, {
    cause: err,
  });
}
