// The client's side of publishing (ssh -R; DESIGN.md §20): for each `[[publish]]` the client asks the
// last relay of the route, over the innermost link, to listen on RBIND:RPORT (a PUBLISH stream), and
// connects every INCOMING stream the relay sends back for it to LHOST:LPORT itself, and to nothing else.
//
// Self-healing: a publication lives as long as its PUBLISH stream. When that ends (link lost, relay
// restarted, refused) the client asks again through the pool (which rebuilds the circuit), after the
// pool's backoff (1 s doubling to 30 s, jittered), without end: a published service is meant to stay up.
// A refusal is logged at warn the first time and whenever its reason changes, else at debug.

import type { CircuitPool } from '../circuit/pool.js';
import { routeKey } from '../circuit/pool.js';
import { backoffDelay, Retrier } from '../circuit/retry.js';
import { toTunnelError } from '../errors.js';
import type { Census } from '../link/census.js';
import { OPEN_INCOMING, OPEN_PUBLISH, type Open } from '../link/open.js';
import type { Session } from '../link/session.js';
import { splice } from '../link/splice.js';
import { whenConnected, type MuxStream } from '../link/stream.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import { formatTarget } from '../wire/address.js';
import type { Publish } from './options.js';
import { dialDirect } from './router.js';

interface Running {
  spec: Publish;
  label: string;
  readonly retrier: Retrier;
  control: MuxStream | null;
  lastFailure: string | null;
  /** Removed by a reload (or the client closing): no more tries, its stream ended. */
  stopped: boolean;
}

export interface PublisherOptions {
  readonly pool: CircuitPool;
  readonly limits: Limits;
  readonly log: Logger;
  readonly census: Census;
}

/** What identifies one publication across a reload: where the relay listens, and through which relays. */
function publicationKey(p: Publish): string {
  return `${formatTarget(p.remote)} via ${routeKey(p.route.relays)}`;
}

const labelOf = (p: Publish): string =>
  `${formatTarget(p.remote)} on route ${p.route.name} -> ${formatTarget(p.to)}`;

export class ClientPublisher {
  /** Per link, its publications by the RBIND:RPORT they asked for (what INCOMING streams name). */
  private readonly bySession = new Map<Session, Map<string, Running>>();
  private running = new Map<string, Running>();
  private closed = false;

  constructor(private readonly opts: PublisherOptions) {}

  /** Starts publishing each spec (at once, then healing). Never throws. */
  start(specs: readonly Publish[]): void {
    this.update(specs);
  }

  /**
   * A reload: publications still configured (same RBIND:RPORT through the same relays) go on
   * untouched, a changed LHOST:LPORT applies to the next connection; removed ones end (the relay stops
   * listening); new ones start. Never throws.
   */
  update(specs: readonly Publish[]): void {
    if (this.closed) return;
    const next = new Map<string, Running>();
    for (const spec of specs) {
      const key = publicationKey(spec);
      const held = this.running.get(key);
      if (held !== undefined) {
        if (held.control !== null) this.unlist(held);
        held.spec = spec;
        held.label = labelOf(spec);
        if (held.control !== null) this.list(held);
        next.set(key, held);
        continue;
      }
      const r: Running = {
        spec,
        label: labelOf(spec),
        control: null,
        lastFailure: null,
        stopped: false,
        retrier: new Retrier({
          delay: (n, random) => (n === 1 ? 0 : backoffDelay(n - 1, random)),
          maxAttempts: Infinity,
          keepGoing: () => !this.closed && !r.stopped,
          attempt: () => this.attempt(r),
        }),
      };
      next.set(key, r);
      r.retrier.start();
    }
    for (const [key, r] of this.running) if (!next.has(key)) this.stop(r, 'removed from the configuration');
    this.running = next;
  }

  /** The routes publications use, so a reload's pool does not close their circuits. */
  routes(): Publish['route'][] {
    return [...this.running.values()].map((r) => r.spec.route);
  }

  private stop(r: Running, why: string): void {
    if (r.stopped) return;
    r.stopped = true;
    r.retrier.stop();
    if (r.control !== null) this.opts.log.info(`publish ${r.label}: unpublished (${why})`);
    r.control?.end();
  }

  /** One try: resolves true once the relay listens (its end restarts the retries), false to try again. */
  private async attempt(r: Running): Promise<boolean> {
    const { pool, limits, log } = this.opts;
    const key = formatTarget(r.spec.remote);
    let session: Session | undefined;
    let control: MuxStream | undefined;
    try {
      session = await pool.get(r.spec.route.relays);
      if (this.closed || r.stopped) return true;
      // Registered before the request goes out: the relay's first INCOMING may follow its answer in the
      // same read, before a promise could resolve.
      this.register(session, key, r);
      control = session.open(r.spec.remote, OPEN_PUBLISH);
      control.keepWhenIdle = true;
      await whenConnected(control, limits.openTimeoutMs);
    } catch (err) {
      if (session) this.unregister(session, key, r);
      const e = toTunnelError(err, 'link-down');
      const line = `publish ${r.label}: ${e.code}: ${e.message}`;
      if (e.message !== r.lastFailure) log.warn(`${line}; trying again`);
      else log.debug(line);
      r.lastFailure = e.message;
      return this.closed || r.stopped;
    }
    if (this.closed || r.stopped) {
      // Removed (a reload) or closing while the relay was answering: unpublish at once.
      this.unregister(session, key, r);
      control.end();
      control.resume();
      return true;
    }
    r.control = control;
    r.lastFailure = null;
    control.resume(); // carries no data; its end is the relay unpublishing
    this.list(r);
    log.info(`published ${r.label}`);
    const s = session;
    const c = control;
    c.once('end', () => c.end());
    c.once('close', () => {
      this.unregister(s, key, r);
      r.control = null;
      this.unlist(r);
      if (this.closed || r.stopped) return;
      const why = c.errored ? toTunnelError(c.errored).message : 'the relay ended it';
      log.info(`publish ${r.label}: lost (${why}); publishing again`);
      // After the current turn: the try that set this publication up may still be finishing.
      setImmediate(() => {
        if (!this.closed && !r.stopped) r.retrier.start();
      });
    });
    return true;
  }

  /** `ett status` lists a publication while the relay holds its port. */
  private list(r: Running): void {
    this.unlist(r);
    this.opts.census.listening.push({
      kind: 'published',
      address: formatTarget(r.spec.remote),
      to: formatTarget(r.spec.to),
      via: `route ${r.spec.route.name}`,
    });
  }

  private unlist(r: Running): void {
    const address = formatTarget(r.spec.remote);
    const via = `route ${r.spec.route.name}`;
    const at = this.opts.census.listening.findIndex(
      (l) => l.kind === 'published' && l.address === address && l.via === via,
    );
    if (at >= 0) this.opts.census.listening.splice(at, 1);
  }

  private register(session: Session, key: string, r: Running): void {
    let m = this.bySession.get(session);
    if (m === undefined) {
      m = new Map();
      this.bySession.set(session, m);
      session.once('close', () => this.bySession.delete(session));
    }
    m.set(key, r);
  }

  private unregister(session: Session, key: string, r: Running): void {
    const m = this.bySession.get(session);
    if (m?.get(key) === r) m.delete(key);
  }

  /**
   * A stream the relay opened on one of our links: only an INCOMING for a port this link published is
   * served, by connecting that publication's LHOST:LPORT directly (never by the routing rules, never
   * anywhere else). Never throws.
   */
  incoming(session: Session, stream: MuxStream, open: Open): void {
    const { log, limits } = this.opts;
    if (open.command !== OPEN_INCOMING) {
      stream.reject('command-unsupported', 'a client serves no OPEN but INCOMING');
      return;
    }
    const r = this.bySession.get(session)?.get(formatTarget(open.target));
    if (r === undefined || this.closed) {
      stream.reject('policy', `nothing is published at ${formatTarget(open.target)} on this link`);
      return;
    }
    this.opts.census.stream(
      stream,
      `published ${formatTarget(open.target)} -> ${formatTarget(r.spec.to)}`,
      r.spec.route.name,
    );
    const abort = new AbortController();
    const onClose = (): void => abort.abort();
    stream.once('close', onClose);
    dialDirect(r.spec.to, limits.connectTimeoutMs, abort.signal).then(
      (socket) => {
        stream.off('close', onClose);
        if (stream.destroyed) {
          socket.destroy();
          return;
        }
        stream.accept();
        splice(socket, stream);
      },
      (err: unknown) => {
        stream.off('close', onClose);
        const e = toTunnelError(err);
        log.info(`publish ${r.label}: local service: ${e.code} (${e.message})`);
        stream.reject(e.code);
      },
    );
  }

  /** Stops healing and unpublishes (FIN on every PUBLISH stream). Never throws. */
  close(): void {
    for (const r of this.running.values()) this.stop(r, 'the client is closing');
    this.closed = true;
  }
}
