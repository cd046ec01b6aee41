// The join step (ALPN ett-join/1, DESIGN §19): on a TLS connection whose client key is not allowed,
// the relay reads one line, {"token":"…"}, and answers one line, then ends the connection. Nothing
// else is ever read on it: no multiplexer, no HTTP. The connection stays counted as a handshake (its
// slot in handshakes_in_flight and handshakes_per_source) and has handshake_timeout_ms to finish.
//
// Failed joins are counted per source address (JoinFailures): past join_failures_per_source within
// join_failure_window_ms, a source's joins are refused before its token is looked at, valid or not.
// The token never reaches a log line: lines name the client by short pin, the source and the label.

import type * as tls from 'node:tls';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import { shortPin } from '../wire/share-string.js';
import type { JoinOutcome } from './state.js';

/** Longest join request line, bytes (a token is 43 characters). */
export const JOIN_LINE_MAX = 512;
/** Sources whose failures are remembered at once; past it the oldest is forgotten. */
export const JOIN_SOURCES_MAX = 65_536;

/** Failed joins per source address, forgotten a window after the first of them. */
export class JoinFailures {
  private readonly bySource = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly limits: Pick<Limits, 'joinFailuresPerSource' | 'joinFailureWindowMs'>,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when `source` may not try again yet. Never throws. */
  blocked(source: string): boolean {
    const e = this.current(source);
    return e !== undefined && e.count >= this.limits.joinFailuresPerSource;
  }

  /** Counts one failed join from `source`. Never throws. */
  fail(source: string): void {
    const e = this.current(source);
    if (e !== undefined) {
      e.count++;
      return;
    }
    if (this.bySource.size >= JOIN_SOURCES_MAX) {
      const oldest = this.bySource.keys().next().value;
      if (oldest !== undefined) this.bySource.delete(oldest);
    }
    this.bySource.set(source, { count: 1, since: this.now() });
  }

  private current(source: string): { count: number; since: number } | undefined {
    const e = this.bySource.get(source);
    if (e !== undefined && this.now() - e.since >= this.limits.joinFailureWindowMs) {
      this.bySource.delete(source);
      return undefined;
    }
    return e;
  }
}

export interface JoinDeps {
  readonly limits: Limits;
  readonly log: Logger;
  readonly failures: JoinFailures;
  /** Redeems the token for the pin (state.ts RelayState.join). */
  readonly redeem: (pin: string, token: string) => Promise<JoinOutcome>;
  /** The pin joined: it is allowed from now on, before the answer is sent. */
  readonly joined: (pin: string) => void;
  /** Called once when the connection is done with (releases its handshake slot). */
  readonly done: () => void;
}

const REASONS: Readonly<Record<'unknown' | 'spent' | 'expired', string>> = {
  unknown: 'invite not known to this relay (mistyped, or removed)',
  spent: 'invite already used',
  expired: 'invite expired',
};

/** Serves one join connection from `pin`; ends it either way. Never throws. */
export function serveJoin(sock: tls.TLSSocket, pin: string, deps: JoinDeps): void {
  const { limits, log, failures } = deps;
  const source = sock.remoteAddress ?? '?';
  const who = `client ${shortPin(pin)} from ${source}`;
  let finished = false;
  const finish = (answer: object | null): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    sock.removeAllListeners('data');
    deps.done();
    if (answer === null) sock.destroy();
    else {
      sock.end(JSON.stringify(answer) + '\n');
      setTimeout(() => sock.destroy(), 2000).unref();
    }
  };
  const refuse = (code: string, error: string, counts: boolean): void => {
    if (counts) failures.fail(source);
    log.info(`join refused: ${who}: ${error}`);
    finish({ ok: false, code, error });
  };
  const timer = setTimeout(() => {
    log.info(`join refused: ${who}: no request within ${limits.handshakeTimeoutMs} ms`);
    finish(null);
  }, limits.handshakeTimeoutMs);
  timer.unref();
  sock.once('close', () => {
    if (!finished) {
      finished = true;
      clearTimeout(timer);
      deps.done();
    }
  });
  if (failures.blocked(source)) {
    refuse('limit', `too many failed joins from ${source}; try again later`, false);
    return;
  }
  let buffered = Buffer.alloc(0);
  sock.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    const nl = buffered.indexOf(0x0a);
    if (nl < 0) {
      if (buffered.length > JOIN_LINE_MAX) refuse('bad-request', 'join request too long', true);
      return;
    }
    if (nl > JOIN_LINE_MAX) return refuse('bad-request', 'join request too long', true);
    sock.pause();
    let token: unknown;
    try {
      token = (JSON.parse(buffered.subarray(0, nl).toString('utf8')) as { token?: unknown }).token;
    } catch {
      token = undefined;
    }
    if (typeof token !== 'string') return refuse('bad-request', 'join request is not {"token": "..."}', true);
    deps.redeem(pin, token).then(
      (r) => {
        if (finished) return;
        if (!r.ok) return refuse('link-auth', REASONS[r.reason], true);
        deps.joined(pin);
        log.info(`join: ${who} ${r.already ? 'was already allowed' : 'joined'} as ${JSON.stringify(r.name)}`);
        finish({ ok: true, name: r.name, already: r.already });
      },
      (err: unknown) => {
        log.error(`join: ${who}: ${(err as Error).message}`);
        finish({ ok: false, code: 'general', error: 'the relay could not record the join' });
      },
    );
  });
}
