// Pins: base64 of SHA-256 over a key's DER SubjectPublicKeyInfo — exactly the text curl takes as
// `--pinnedpubkey sha256//<pin>`. A pin is the whole of a peer's identity: certificates carry no trust.

import { createHash, createPublicKey, timingSafeEqual } from 'node:crypto';
import type { KeyObject, X509Certificate } from 'node:crypto';

import { pinBytes } from '../wire/share-string.js';

/**
 * The canonical pin (standard base64, 44 chars) of a private or public key.
 * Throws whatever node:crypto throws if the key cannot be exported as SPKI (not expected for
 * asymmetric keys).
 */
export function pinOfKey(key: KeyObject): string {
  // createPublicKey derives the public half of a private KeyObject (it refuses a public one).
  const pub = key.type === 'public' ? key : createPublicKey(key);
  const spki = pub.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/**
 * The pin of the key a certificate carries (what a TLS peer's certificate is checked against).
 * Throws if node:crypto cannot read the certificate's public key.
 */
export function pinOfCertificate(cert: X509Certificate): string {
  return pinOfKey(cert.publicKey);
}

/**
 * Compares two pins in either spelling (base64 or base64url, padded or not, `sha256//` prefix) in
 * constant time over their 32 raw bytes, so a peer cannot learn a pin byte by byte from timing.
 * Never throws: a text that is not a pin compares unequal.
 */
export function pinsEqual(a: string, b: string): boolean {
  let x: Uint8Array;
  let y: Uint8Array;
  try {
    x = pinBytes(a);
    y = pinBytes(b);
  } catch {
    return false;
  }
  if (x.length !== 32 || y.length !== 32) return false;
  return timingSafeEqual(x, y);
}
