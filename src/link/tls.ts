// Pinned TLS 1.3, both ways, no certificate authority. Certificates are only carriers of public keys:
// OpenSSL's chain verification is off (rejectUnauthorized: false) and we compare the SHA-256 of the
// peer's SubjectPublicKeyInfo with the pin we expect, by hand, before one byte of application data is
// sent (client, on secureConnect) or read (relay, on secureConnection).
//
// Works over any Duplex: a TCP socket for the first hop, a multiplexed stream for the next ones.

import { createHash, timingSafeEqual, type X509Certificate } from 'node:crypto';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { toTunnelError, TunnelError } from '../errors.js';
import type { Identity } from '../identity/identity.js';
import { pinBytes, shortPin } from '../wire/share-string.js';

export const ALPN_MUX = 'ett/1';
export const ALPN_HTTP = 'http/1.1';
/** The join step (`ett join`): one request with an invite's token, one answer, then the end. */
export const ALPN_JOIN = 'ett-join/1';

/** Pin (canonical base64) of a certificate's public key. */
export function pinOfCertificate(cert: X509Certificate): string {
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/** The peer's pin, or null when it presented no certificate. */
export function peerPin(socket: tls.TLSSocket): string | null {
  const cert = socket.getPeerX509Certificate();
  return cert ? pinOfCertificate(cert) : null;
}

/** Constant-time comparison of two pins (any accepted spelling). */
export function pinMatches(actual: string, expected: string): boolean {
  const a = pinBytes(actual);
  const b = pinBytes(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** TLS options shared by both sides: TLS 1.3 only, our certificate, no CA verification. */
function baseOptions(identity: Identity): tls.SecureContextOptions {
  return { key: identity.keyPem, cert: identity.certPem, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' };
}

/** Options for the relay's tls.Server: client certificates requested, verified by pin afterwards. */
export function serverTlsOptions(
  identity: Identity,
  handshakeTimeoutMs: number,
  joins = false,
): tls.TlsOptions {
  return {
    ...baseOptions(identity),
    requestCert: true,
    rejectUnauthorized: false,
    ALPNProtocols: joins ? [ALPN_MUX, ALPN_HTTP, ALPN_JOIN] : [ALPN_MUX, ALPN_HTTP],
    handshakeTimeout: handshakeTimeoutMs,
  };
}

export interface ConnectOptions {
  readonly identity: Identity;
  /** The pin the server must have. */
  readonly pin: string;
  /** An existing transport (TCP socket or a stream of an outer link)... */
  readonly socket?: Duplex;
  /** ...or an address to dial. */
  readonly host?: string;
  readonly port?: number;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** The one protocol to offer and require; default ett/1. */
  readonly alpn?: string;
}

/**
 * Runs a TLS 1.3 client handshake with ALPN ett/1 and checks the server's pin before returning. Rejects
 * with TunnelError: 'link-auth' (pin mismatch, no certificate, ALPN refused), 'timeout', or the network
 * error's code; on failure the TLS socket is destroyed and nothing was sent past the handshake.
 */
export function connectPinned(opts: ConnectOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({
      ...baseOptions(opts.identity),
      ...(opts.socket ? { socket: opts.socket } : { host: opts.host, port: opts.port }),
      rejectUnauthorized: false,
      ALPNProtocols: [opts.alpn ?? ALPN_MUX],
      servername: '', // no SNI: the relay's name need not be sent in clear
    });
    let settled = false;
    const done = (err: TunnelError | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      sock.off('error', onError);
      sock.off('close', onClose);
      if (err) {
        sock.destroy();
        reject(err);
      } else {
        resolve(sock);
      }
    };
    // An outer stream's TunnelError (e.g. the previous hop's exit policy refused) keeps its code.
    const onError = (err: Error): void =>
      done(err instanceof TunnelError ? err : toTunnelError(err, 'link-down'));
    const onClose = (): void =>
      done(new TunnelError('link-down', 'relay closed the connection during the handshake'));
    const onAbort = (): void => done(new TunnelError('timeout', 'link setup aborted'));
    const timer = setTimeout(
      () => done(new TunnelError('timeout', `TLS handshake took over ${opts.timeoutMs} ms`)),
      opts.timeoutMs,
    );
    timer.unref();
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    sock.on('error', onError);
    sock.on('close', onClose);
    sock.once('secureConnect', () => {
      // The pin check comes first: until it passes we have not written a byte of our own.
      const actual = peerPin(sock);
      if (actual === null) return done(new TunnelError('link-auth', 'relay presented no certificate'));
      if (!pinMatches(actual, opts.pin)) {
        return done(
          new TunnelError(
            'link-auth',
            `relay key ${shortPin(actual)} is not the pinned ${shortPin(opts.pin)}`,
          ),
        );
      }
      if (sock.alpnProtocol !== (opts.alpn ?? ALPN_MUX))
        return done(new TunnelError('link-auth', `relay does not speak ${opts.alpn ?? ALPN_MUX}`));
      if (opts.socket === undefined) sock.setNoDelay(true);
      done(null);
    });
  });
}
