// The relay's side of publishing (ssh -R; DESIGN.md §20): a client's PUBLISH stream asks for a port,
// the owner's `publish` rules decide, the relay listens, and every connection accepted there is sent back
// to that client as an INCOMING stream on the same link. The PUBLISH stream is the publication: it
// stays open, and when it ends (the client's FIN or RST, the link going down, a reload's rules or the
// relay shutting down) the listener closes at once, so connections to the port are refused.
//
// Bounds: publishPortsPerClient publications per client key, publishConnectionsPerPort connections per
// port at once (more are reset at accept), and the link's own streamsPerLink.

import * as net from 'node:net';
import type { ErrorCode } from '../errors.js';
import type { Census } from '../link/census.js';
import { OPEN_INCOMING, type Open } from '../link/open.js';
import type { Session } from '../link/session.js';
import { resetSocket, splice } from '../link/splice.js';
import { whenConnected, type MuxStream } from '../link/stream.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import { formatTarget, type Target } from '../wire/address.js';
import { formatIp, parseIp, type IpAddress } from '../wire/ip.js';
import { shortPin } from '../wire/share-string.js';
import { evaluatePublish, type PublishRule } from './publish-policy.js';

export interface PublisherOptions {
  /** The owner's rules now (a reload swaps them). */
  readonly rules: () => readonly PublishRule[];
  readonly limits: Limits;
  readonly log: Logger;
  readonly census: Census;
}

interface Publication {
  readonly pin: string;
  readonly key: string;
  readonly bind: IpAddress;
  readonly port: number;
  readonly control: MuxStream;
  /** The link it was asked on (INCOMING streams go there). */
  readonly session: Session;
  readonly server: net.Server;
  readonly conns: Set<net.Socket>;
  ended: boolean;
}

/** How many times a listen that found the port still held by the same key's old publication is tried. */
const TAKEOVER_TRIES = 5;
const TAKEOVER_WAIT_MS = 50;

export class Publisher {
  private readonly byKey = new Map<string, Publication>();
  private readonly perPin = new Map<string, number>();
  private closed = false;

  constructor(private readonly opts: PublisherOptions) {}

  /** Publications held now, all keys together. */
  get count(): number {
    return this.byKey.size;
  }

  /** One PUBLISH stream from the client `pin` on `session`. Answers it; never throws. */
  serve(stream: MuxStream, open: Open, pin: string, session: Session): void {
    void this.publish(stream, open, pin, session).catch((err: unknown) => {
      this.opts.log.warn(`publish: ${err instanceof Error ? err.message : String(err)}`);
      stream.reject('general');
    });
  }

  private async publish(stream: MuxStream, open: Open, pin: string, session: Session): Promise<void> {
    const { log } = this.opts;
    const peer = shortPin(pin);
    const refuse = (code: ErrorCode, reason: string): void => {
      log.info(`publish: client ${peer}: ${formatTarget(open.target)}: ${reason}`);
      this.opts.census.refused(code);
      stream.reject(code, reason);
    };
    const bind = parseIp(open.target.host);
    const port = open.target.port;
    if (bind === null) return refuse('address-type', `bind "${open.target.host}" is not an IP address`);
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      return refuse('address-type', `port ${port} is not 1..65535`);
    if (this.closed) return refuse('link-down', 'the relay is shutting down');
    const verdict = evaluatePublish(this.opts.rules(), pin, bind, port);
    if (!verdict.accept) return refuse('policy', verdict.reason);
    const key = `${formatIp(bind)}|${port}`;
    const label = formatTarget({ host: formatIp(bind), port });
    const held = this.byKey.get(key);
    if (held !== undefined && held.pin !== pin)
      return refuse('in-use', `${label} is already published by another client`);
    // The same key asking again over another link: its old link may be dead and not yet known so
    // (the client saw it die first), or alive (the same key running twice). A PING on the old link
    // tells which: alive keeps the port (no two processes taking it from each other for ever), silent
    // for ping_timeout_ms hands it over.
    if (held !== undefined && held.session !== session) {
      const alive = await held.session.probe(this.opts.limits.pingTimeoutMs);
      if (alive && !held.ended)
        return refuse(
          'in-use',
          `${label} is already published by this key over another link, which is alive`,
        );
      if (stream.destroyed || this.closed) return;
      const now = this.byKey.get(key);
      if (now !== undefined && now !== held)
        return refuse('in-use', `${label} was published meanwhile over another link`);
    }
    if (held !== undefined) this.end(held, 'taken over by a new publication of the same key');
    const mine = this.perPin.get(pin) ?? 0;
    if (mine >= this.opts.limits.publishPortsPerClient) {
      return refuse(
        'limit',
        `publish_ports_per_client (${this.opts.limits.publishPortsPerClient}) reached for this key`,
      );
    }
    this.perPin.set(pin, mine + 1); // counted from here, so two requests at once cannot both pass
    let server: net.Server;
    try {
      server = await this.listen(bind, port, held !== undefined);
    } catch (err) {
      this.release(pin);
      const errno = (err as { code?: string }).code ?? '';
      if (errno === 'EADDRINUSE')
        return refuse('in-use', `${label} is in use on the relay (another program)`);
      if (errno === 'EADDRNOTAVAIL')
        return refuse('address-type', `the relay has no address ${formatIp(bind)}`);
      if (errno === 'EACCES')
        return refuse('policy', `the relay may not listen on port ${port} (privileged)`);
      return refuse(
        'general',
        `cannot listen on ${label}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    if (stream.destroyed || this.closed || this.byKey.has(key)) {
      this.release(pin);
      server.close();
      if (this.byKey.has(key)) refuse('in-use', `${label} is already published by another client`);
      return;
    }
    const pub: Publication = {
      pin,
      key,
      bind,
      port,
      control: stream,
      session,
      server,
      conns: new Set(),
      ended: false,
    };
    this.byKey.set(key, pub);
    server.on('connection', (socket) => this.incoming(pub, socket, session, open.target));
    server.on('error', (err) => log.warn(`publish ${label}: ${err.message}`));
    stream.keepWhenIdle = true;
    stream.accept();
    stream.resume(); // nothing is expected on it; its end is the client's unpublish
    stream.once('end', () => this.end(pub, 'unpublished by the client'));
    stream.once('close', () => this.end(pub, 'its link or stream closed'));
    this.opts.census.listening.push({ kind: 'published', address: label });
    log.info(`publish: client ${peer} published ${label}`);
  }

  private async listen(bind: IpAddress, port: number, takeover: boolean): Promise<net.Server> {
    for (let attempt = 1; ; attempt++) {
      const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host: formatIp(bind), port, exclusive: true, backlog: 511 }, () => {
            server.off('error', reject);
            resolve();
          });
        });
        return server;
      } catch (err) {
        server.close();
        const inUse = (err as { code?: string }).code === 'EADDRINUSE';
        if (!takeover || !inUse || attempt >= TAKEOVER_TRIES) throw err;
        await new Promise((r) => setTimeout(r, TAKEOVER_WAIT_MS));
      }
    }
  }

  private incoming(pub: Publication, socket: net.Socket, session: Session, target: Target): void {
    const { limits, log, census } = this.opts;
    socket.on('error', () => {});
    if (pub.ended || pub.conns.size >= limits.publishConnectionsPerPort) {
      if (!pub.ended) {
        log.debug(
          `publish ${pub.key}: publish_connections_per_port (${limits.publishConnectionsPerPort}) reached`,
        );
        census.refused('limit');
      }
      resetSocket(socket);
      return;
    }
    pub.conns.add(socket);
    socket.once('close', () => pub.conns.delete(socket));
    socket.setNoDelay(true);
    let stream: MuxStream;
    try {
      stream = session.open(target, OPEN_INCOMING);
    } catch (err) {
      log.debug(`publish ${pub.key}: ${err instanceof Error ? err.message : String(err)}`);
      resetSocket(socket);
      return;
    }
    const from = formatTarget({ host: socket.remoteAddress ?? '?', port: socket.remotePort ?? 0 });
    census.stream(stream, `published ${formatTarget(target)} from ${from}`, shortPin(pub.pin));
    socket.once('close', () => {
      if (!stream.connected) stream.destroy();
    });
    whenConnected(stream, limits.openTimeoutMs).then(
      () => {
        if (socket.destroyed) stream.destroy();
        else splice(socket, stream);
      },
      (err: unknown) => {
        log.debug(
          `publish ${pub.key}: connection from ${from}: ${err instanceof Error ? err.message : String(err)}`,
        );
        resetSocket(socket);
      },
    );
  }

  /** Ends a publication: the listener closes at once (running connections go on). Never throws. */
  private end(pub: Publication, why: string): void {
    if (pub.ended) return;
    pub.ended = true;
    pub.server.close();
    if (this.byKey.get(pub.key) === pub) this.byKey.delete(pub.key);
    this.release(pub.pin);
    const label = formatTarget({ host: formatIp(pub.bind), port: pub.port });
    const at = this.opts.census.listening.findIndex((l) => l.kind === 'published' && l.address === label);
    if (at >= 0) this.opts.census.listening.splice(at, 1);
    this.opts.log.info(`publish: ${label} of client ${shortPin(pub.pin)} closed: ${why}`);
    if (!pub.control.destroyed) pub.control.end();
  }

  private release(pin: string): void {
    const n = (this.perPin.get(pin) ?? 1) - 1;
    if (n <= 0) this.perPin.delete(pin);
    else this.perPin.set(pin, n);
  }

  /** A reload: publications the new rules no longer allow end. Never throws. */
  recheck(): void {
    for (const pub of [...this.byKey.values()]) {
      if (!evaluatePublish(this.opts.rules(), pub.pin, pub.bind, pub.port).accept)
        this.end(pub, 'no longer allowed by the publish rules (reload)');
    }
  }

  /** Relay shutdown: every listener closes. Never throws. */
  close(): void {
    this.closed = true;
    for (const pub of [...this.byKey.values()]) this.end(pub, 'relay shutting down');
  }
}
