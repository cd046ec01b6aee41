// The relay: a TLS listener that authorizes clients by pin, then serves OPENs on multiplexed links
// (ALPN ett/1) or, for stock clients, HTTP proxy requests (ALPN http/1.1 or none: CONNECT and
// absolute-form http:// requests, parsed by node:http), connecting under its exit policy.
// A relay that only forwards to other relays is one whose policy accepts only their addresses.
//
// Order of events for one connection: TCP accept (handshake limits checked) → TLS 1.3 handshake
// (deadline) → client pin checked against the allow-list (silent close if not allowed: the client
// learns nothing) → ALPN dispatch. A misbehaving peer costs only its own connection.

import { linkDownReason } from '../circuit/reason.js';
import * as net from 'node:net';
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';
import * as tls from 'node:tls';
import { listenFailed, outOfDescriptors, toTunnelError } from '../errors.js';
import { descriptorShortage, PerSecond } from '../log.js';
import { encodeHeader, GO_AWAY_INTERNAL_ERROR, TYPE_GO_AWAY } from '../link/frame.js';
import { Census, linkMeter } from '../link/census.js';
import { Session } from '../link/session.js';
import { splice } from '../link/splice.js';
import type { MuxStream } from '../link/stream.js';
import { OPEN_INCOMING, OPEN_PUBLISH, OPEN_UDP, type Open } from '../link/open.js';
import { createPortConnection } from '../proxy/connection.js';
import type { Dialer } from '../proxy/dialer.js';
import { createHttpProxy } from '../proxy/http-proxy.js';
import { ALPN_JOIN, ALPN_MUX, peerPin, pinMatches, serverTlsOptions } from '../link/tls.js';
import { formatTarget, type Target } from '../wire/address.js';
import { parseIpLoose, type IpAddress } from '../wire/ip.js';
import { formatShareString, shortPin } from '../wire/share-string.js';
import { ClientBook, type Dial } from './clients.js';
import { buildExitPolicy, type ExitRule } from './exit-policy.js';
import { dialExit } from './exit.js';
import { JoinFailures, serveJoin } from './join.js';
import { Publisher } from './publisher.js';
import { serveUdpAssociation } from './udp-exit.js';
import type { RelayOptions } from './options.js';

export interface RelayHandle {
  /** The address actually listened on (port resolved when 0 was asked). */
  readonly address: Target;
  /** ett://<pin>@host:port for clients. */
  readonly shareString: string;
  /** The effective exit policy, owner's rules then defaults. */
  readonly policy: readonly ExitRule[];
  /** What the relay holds now (links, streams, refusals). */
  readonly census: Census;
  /**
   * A reload: new links are checked against the new allow list and new streams against the new exit
   * policy. Links of keys no longer allowed get GO_AWAY and are closed at once (one log line each);
   * every other link and stream goes on. Returns the effective policy. Never throws.
   */
  reconfigure(next: Reconfigurable): readonly ExitRule[];
  close(): Promise<void>;
}

/** What a reload may change in a running relay (limits change in place: see config/changes.ts). */
export type Reconfigurable = Pick<RelayOptions, 'allow' | 'allowAny' | 'exitRules' | 'publish'>;

/** Starts listening. Rejects if the address cannot be bound; after that, no peer can stop it. */
export async function startRelay(opts: RelayOptions): Promise<RelayHandle> {
  const { limits, log } = opts;
  const census = opts.census ?? new Census('relay');
  let policy = buildExitPolicy(opts.exitRules, ownAddresses(opts.listen.host));
  let ownerRules = new Set(opts.exitRules.map((r) => r.text));
  // Streams the exit policy refused, at info and at most a line a second, naming the rule (the
  // destination stays at debug): a user trying ett on one machine learns why loopback is refused.
  const policyRefusals = new PerSecond((n, detail) =>
    log.info(n === 1 ? `exit: ${detail}` : `exit: ${n} streams refused in a second, latest ${detail}`),
  );
  const refusalLogged =
    (dial: Dial, peer: string): Dial =>
    (target, signal) =>
      dial(target, signal).catch((err: unknown) => {
        const e = toTunnelError(err);
        if (e.code === 'policy') {
          const rule = /rule "([^"]*)"/.exec(e.message)?.[1];
          const hint =
            rule === undefined || ownerRules.has(rule)
              ? ''
              : ' (a default rule; an --exit "accept …" rule of your own comes before the defaults)';
          policyRefusals.add(`client ${peer}: stream ${e.message}${hint}`);
        }
        throw err;
      });
  let allow = opts.allow;
  let allowAny = opts.allowAny;
  // Running out of file descriptors fails exit connects ('limit') and accepts alike; the operator needs
  // to hear of it (once a second, with a count), since only a higher open-files limit cures it.
  const descriptors = descriptorShortage(log, 'relay');
  const dial = (target: Target, signal: AbortSignal): Promise<net.Socket> =>
    dialExit(target, { policy, connectTimeoutMs: limits.connectTimeoutMs, signal }).catch((err: unknown) => {
      const errno = outOfDescriptors(err);
      if (errno) descriptors.add(`${errno} on exit connect`);
      throw err;
    });
  const exitDialer: Dialer = { dial: (target, o) => dial(target, o?.signal ?? new AbortController().signal) };
  const frontEnd = { dialer: exitDialer, limits, log };
  const httpProxy = createHttpProxy(frontEnd);
  const clients = new ClientBook(limits);
  let publishRules = opts.publish ?? [];
  const publisher = new Publisher({ rules: () => publishRules, limits, log, census });
  const sessions = new Set<Session>();
  // Every authorized TLS connection and its client's pin (and session in mux mode), so close() ends them
  // all and a reload finds the links of removed keys.
  const sockets = new Map<tls.TLSSocket, { readonly pin: string; session?: Session }>();
  const handshaking = new Map<string, number>();
  let inFlight = 0;

  // Not half-open during the handshake: a peer that sends FIN there has left, and its handshake slot
  // must come back at once (with allowHalfOpen the socket lingered until the handshake deadline).
  // Authorized sockets are made half-open below: a stock client's half-close (HTTP mode) must leave our
  // direction open.
  const server = tls.createServer(
    serverTlsOptions(opts.identity, limits.handshakeTimeoutMs, opts.join !== undefined),
  );
  const joinFailures = new JoinFailures(limits);

  // Handshake limits, counted on raw TCP connections until their TLS handshake ends either way.
  // Connections dropped at the handshake limits: a flood shows up in the log without the log becoming it.
  const drops = new PerSecond((n, why) =>
    log.info(`handshake limit: closed ${n} new connection(s) at ${why}`),
  );
  server.on('connection', (raw: net.Socket) => {
    const source = raw.remoteAddress ?? '?';
    const fromSource = handshaking.get(source) ?? 0;
    if (inFlight >= limits.handshakesInFlight || fromSource >= limits.handshakesPerSource) {
      drops.add(
        inFlight >= limits.handshakesInFlight
          ? `handshakes_in_flight (${limits.handshakesInFlight})`
          : `handshakes_per_source (${limits.handshakesPerSource}) from ${source}`,
      );
      census.refused('limit');
      raw.destroy();
      return;
    }
    inFlight++;
    handshaking.set(source, fromSource + 1);
    let counted = true;
    const release = (): void => {
      if (!counted) return;
      counted = false;
      inFlight--;
      const n = (handshaking.get(source) ?? 1) - 1;
      if (n <= 0) handshaking.delete(source);
      else handshaking.set(source, n);
    };
    raw.once('close', release);
    raw.setNoDelay(true);
    (raw as net.Socket & { releaseHandshake?: () => void }).releaseHandshake = release;
  });

  server.on('tlsClientError', (err, sock) => {
    // A handshake that did not finish in time is a slowloris or a dead peer: worth an info line.
    const line = `TLS handshake failed from ${sock.remoteAddress ?? '?'}: ${err.message}`;
    if (/timeout/i.test(err.message)) log.info(line);
    else log.debug(line);
    census.handshake(false);
    sock.destroy();
  });

  server.on('secureConnection', (sock: tls.TLSSocket) => {
    const raw = (sock as unknown as { _parent?: net.Socket })._parent;
    const release = (raw as (net.Socket & { releaseHandshake?: () => void }) | undefined)?.releaseHandshake;
    census.handshake(true);
    sock.on('error', () => sock.destroy());
    // Authorization before any application byte is read. Refused clients get a bare close.
    const pin = peerPin(sock);
    // The join step (ALPN ett-join/1, offered only with an allow file): one token line read, one answer,
    // still counted as a handshake until it ends. Every other protocol goes on to the same check as ever.
    if (pin !== null && opts.join !== undefined && sock.alpnProtocol === ALPN_JOIN) {
      serveJoin(sock, pin, {
        limits,
        log,
        failures: joinFailures,
        redeem: opts.join,
        joined: (p) => {
          if (!isAllowed(p)) allow = [...allow, p];
        },
        done: () => release?.(),
      });
      return;
    }
    release?.();
    (sock as { allowHalfOpen: boolean }).allowHalfOpen = true; // read by node at the peer's FIN
    const allowed = pin !== null && isAllowed(pin) && sock.alpnProtocol !== ALPN_JOIN;
    if (!allowed) {
      log.info(
        `refused client ${pin ? shortPin(pin) : '(no certificate)'} from ${sock.remoteAddress ?? '?'}`,
      );
      census.refused('link-auth');
      sock.destroy();
      return;
    }
    const peer = shortPin(pin);
    const refusal = clients.admitLink(pin);
    if (refusal !== null) {
      log.info(`refused link from client ${peer}: ${refusal}`);
      census.refused('limit');
      refuseLink(sock);
      return;
    }
    const held: { readonly pin: string; session?: Session } = { pin };
    sockets.set(sock, held);
    sock.once('close', () => {
      sockets.delete(sock);
      clients.releaseLink(pin);
    });
    const dialAsClient = refusalLogged(clients.dialerFor(pin, dial), peer);
    const remote = formatTarget({ host: sock.remoteAddress ?? '?', port: sock.remotePort ?? 0 });
    if (sock.alpnProtocol !== ALPN_MUX) {
      log.debug(`client ${peer}: HTTP proxy mode`);
      census.link(linkMeter(sock, peer), remote, 'in');
      const dialer: Dialer = {
        dial: (target, o) =>
          dialAsClient(target, o?.signal ?? new AbortController().signal).then(
            (exit) => {
              census.stream(exit, formatTarget(target), peer);
              return exit;
            },
            (err: unknown) => {
              census.refused(toTunnelError(err).code);
              throw err;
            },
          ),
      };
      httpProxy.serve(createPortConnection(sock, { ...frontEnd, dialer }, `client ${peer}`));
      return;
    }
    const session = new Session(sock, {
      role: 'server',
      limits,
      log,
      peer,
      onStream: (stream, open) => {
        if (open.command === OPEN_PUBLISH) {
          publisher.serve(stream, open, pin, session);
          return;
        }
        if (open.command === OPEN_INCOMING) {
          stream.reject('command-unsupported', 'a relay takes no INCOMING stream');
          return;
        }
        if (open.command !== OPEN_UDP) {
          serveOpen(stream, open, dialAsClient, { log, census, peer });
          return;
        }
        const refusal = clients.admitUdp(pin);
        if (refusal !== null) {
          log.debug(`client ${peer}: udp association refused: ${refusal.message}`);
          census.refused('limit');
          stream.reject('limit');
          return;
        }
        serveUdpAssociation(stream, {
          policy: () => policy,
          limits,
          log,
          census,
          peer,
          onEnd: () => clients.releaseUdp(pin),
        });
      },
    });
    sessions.add(session);
    held.session = session;
    census.link(session, remote, 'in');
    log.info(`link up: client ${peer}`);
    let peerGoAway = false;
    session.once('goaway', () => (peerGoAway = true));
    session.once('close', (err?: Error) => {
      sessions.delete(session);
      // The same stable reason words as the client's log (ping-timeout, closed, reset, protocol-error…).
      const reason = linkDownReason(err, peerGoAway);
      log.info(`link down: client ${peer}: ${reason}${err ? ` (${err.message})` : ''}`);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.listen.host, port: opts.listen.port, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: unknown) => {
    throw listenFailed(formatTarget(opts.listen), err, '--listen');
  });
  server.on('error', (err) => {
    const errno = outOfDescriptors(err);
    if (errno) descriptors.add(`${errno} on accept`);
    else log.error(`listener: ${err.message}`);
  });
  const bound = server.address() as net.AddressInfo;
  const address: Target = { host: bound.address, port: bound.port };
  const shareString = formatShareString({
    pin: opts.identity.pin,
    target: { host: opts.advertise ?? address.host, port: address.port },
  });
  log.info(`relay ${shortPin(opts.identity.pin)} listening on ${formatTarget(address)}`);
  census.listening.push({ kind: 'relay', address: formatTarget(address) });

  function isAllowed(pin: string): boolean {
    return allowAny || allow.some((p) => pinMatches(pin, p));
  }

  return {
    address,
    shareString,
    get policy() {
      return policy;
    },
    census,
    reconfigure: (next) => {
      policy = buildExitPolicy(next.exitRules, ownAddresses(opts.listen.host));
      ownerRules = new Set(next.exitRules.map((r) => r.text));
      allow = next.allow;
      allowAny = next.allowAny;
      publishRules = next.publish ?? [];
      publisher.recheck();
      for (const [sock, held] of sockets) {
        if (isAllowed(held.pin)) continue;
        log.info(`link closed: client ${shortPin(held.pin)}: its key is no longer allowed (reload)`);
        if (held.session) held.session.revoke('client key removed from the allow list');
        else sock.destroy();
      }
      return policy;
    },
    // Stops accepting, sends GO_AWAY on every link, gives running streams shutdownGraceMs to finish,
    // then ends whatever is left. Never rejects.
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      publisher.close();
      await Promise.all([...sessions].map((s) => s.shutdown(limits.shutdownGraceMs)));
      for (const s of sockets.keys()) s.destroy();
      await closed;
    },
  };
}

/** One OPEN: dial under the policy, answer the result, then join the stream to the destination. */
function serveOpen(
  stream: MuxStream,
  open: Open,
  dial: Dial,
  { log, census, peer }: { log: RelayOptions['log']; census: Census; peer: string },
): void {
  census.stream(stream, formatTarget(open.target), peer);
  const startedAt = performance.now();
  const abort = new AbortController();
  const onClose = (): void => abort.abort();
  stream.on('close', onClose);
  dial(open.target, abort.signal).then(
    (exit) => {
      stream.off('close', onClose); // the controller is done with: not kept for the stream's life
      if (stream.destroyed) {
        exit.destroy();
        return;
      }
      stream.accept();
      census.streamOpened(performance.now() - startedAt);
      splice(exit, stream);
    },
    (err: unknown) => {
      stream.off('close', onClose);
      const e = toTunnelError(err);
      log.debug(`stream ${stream.id}: ${e.code}: ${e.message}`);
      census.refused(e.code);
      stream.reject(e.code);
    },
  );
}

/**
 * Closes an authorized link the relay will not hold (a links limit): a mux client gets GO_AWAY (internal
 * error) so it does not mistake this for a refused key; an HTTP-mode client gets 503. Then the socket ends.
 */
function refuseLink(sock: tls.TLSSocket): void {
  if (sock.alpnProtocol === ALPN_MUX) sock.end(encodeHeader(TYPE_GO_AWAY, 0, 0, GO_AWAY_INTERNAL_ERROR));
  else sock.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  setTimeout(() => sock.destroy(), 2000).unref();
}

/** The relay's own addresses, refused by the default exit policy: every interface, and the listen host. */
function ownAddresses(listenHost: string): IpAddress[] {
  const out: IpAddress[] = [];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const ifa of list ?? []) {
      const ip = parseIpLoose(ifa.address);
      if (ip) out.push(ip);
    }
  }
  const listen = parseIpLoose(listenHost);
  if (listen) out.push(listen);
  return out;
}
