// A fresh self-signed certificate for a key, made at every start. It carries no trust — peers check only
// the pin of the key inside — so it needs nothing but to be accepted by OpenSSL (node:tls, curl's
// --proxy-cert). Built with @peculiar/x509 on Node's own WebCrypto rather than by hand-written DER.

// @peculiar/x509 uses decorators that need reflect-metadata loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPublicKey, randomBytes, webcrypto } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

import { TunnelError } from '../errors.js';

// The library types its provider as the DOM's Crypto, which this Node-only project does not declare.
type WebCryptoProvider = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1];

const DAY_MS = 24 * 60 * 60 * 1000;
/** Backdated a day so a peer whose clock is a little behind still sees a valid certificate. */
const NOT_BEFORE_SLACK_MS = DAY_MS;
const VALIDITY_MS = 3650 * DAY_MS;

interface Algorithms {
  readonly importParams: webcrypto.EcKeyImportParams | webcrypto.Algorithm;
  readonly signing: webcrypto.EcdsaParams | webcrypto.Algorithm;
}

/** The WebCrypto algorithms for a key ett accepts; throws TunnelError('config') for any other key. */
function algorithmsOf(key: KeyObject): Algorithms {
  if (key.asymmetricKeyType === 'ed25519') {
    return { importParams: { name: 'Ed25519' }, signing: { name: 'Ed25519' } };
  }
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    return {
      importParams: { name: 'ECDSA', namedCurve: 'P-256' },
      signing: { name: 'ECDSA', hash: 'SHA-256' },
    };
  }
  throw new TunnelError(
    'config',
    `cannot make a certificate for a ${key.asymmetricKeyType ?? 'unknown'} key`,
  );
}

/** A positive, non-zero 16-byte serial in hex (RFC 5280 §4.1.2.2: positive, at most 20 octets). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}

/**
 * A self-signed X.509 certificate (PEM) for a private key: CN "ett", random serial, valid from a day
 * ago for ten years. Accepts Ed25519 and P-256 keys.
 * Throws TunnelError('config') for any other key type; rejects with WebCrypto's error if the key
 * cannot be imported (not expected for a key that passed keys.ts checks).
 */
export async function selfSignedCertificate(key: KeyObject, now: Date = new Date()): Promise<string> {
  const alg = algorithmsOf(key);
  const subtle = webcrypto.subtle;
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const privateKey = await subtle.importKey('pkcs8', pkcs8, alg.importParams, false, ['sign']);
  const publicKey = await subtle.importKey('spki', spki, alg.importParams, true, ['verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerial(),
      name: 'CN=ett',
      notBefore: new Date(now.getTime() - NOT_BEFORE_SLACK_MS),
      notAfter: new Date(now.getTime() + VALIDITY_MS),
      signingAlgorithm: alg.signing,
      keys: { privateKey, publicKey },
    },
    // Pass the provider explicitly instead of setting the library's global one: nothing else in the
    // process is affected.
    webcrypto as unknown as WebCryptoProvider,
  );
  return cert.toString('pem') + '\n';
}
