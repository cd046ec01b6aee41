// A process's identity on links: its private key, a fresh self-signed certificate made from it at start
// (certificates carry no trust; only the key's pin is checked), and the pin.

import type { KeyObject } from 'node:crypto';

import { selfSignedCertificate } from './certificate.js';
import { checkKeyType, generateKey, keyToPem, loadKeyFile } from './keys.js';
import { pinOfKey } from './pin.js';

export interface Identity {
  /** PKCS#8 PEM of the private key (never logged). */
  readonly keyPem: string;
  /** Self-signed X.509 certificate, PEM. */
  readonly certPem: string;
  /** Canonical pin (standard base64 of SHA-256 over the DER SubjectPublicKeyInfo). */
  readonly pin: string;
}

/**
 * The identity of a private key: its PEM, a fresh self-signed certificate and its pin.
 * Rejects with TunnelError('config') if the key is not an Ed25519 or P-256 private key.
 */
export async function identityFromKey(key: KeyObject): Promise<Identity> {
  checkKeyType(key, 'key');
  const certPem = await selfSignedCertificate(key);
  return Object.freeze({ keyPem: keyToPem(key), certPem, pin: pinOfKey(key) });
}

/**
 * Loads a key file (see keys.ts loadKeyFile for the checks) and makes an identity.
 * Rejects with TunnelError('config') naming the file and the reason.
 */
export async function loadIdentity(path: string): Promise<Identity> {
  return identityFromKey(await loadKeyFile(path));
}

/**
 * A throwaway Ed25519 identity that never touches disk (quick start, tests).
 * Never rejects in practice.
 */
export async function ephemeralIdentity(): Promise<Identity> {
  return identityFromKey(generateKey());
}
