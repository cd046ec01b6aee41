// A process's identity on links: its private key, a fresh self-signed certificate made from it at start
// (certificates carry no trust; only the key's pin is checked), and the pin.
// OWNER: helper "identity-config" — implement; keep signatures.

import type { KeyObject } from 'node:crypto';

export interface Identity {
  /** PKCS#8 PEM of the private key (never logged). */
  readonly keyPem: string;
  /** Self-signed X.509 certificate, PEM. */
  readonly certPem: string;
  /** Canonical pin (standard base64 of SHA-256 over the DER SubjectPublicKeyInfo). */
  readonly pin: string;
}

export async function identityFromKey(_key: KeyObject): Promise<Identity> {
  throw new Error('unimplemented');
}

/** Loads a key file (see keys.ts loadKeyFile for the checks) and makes an identity. */
export async function loadIdentity(_path: string): Promise<Identity> {
  throw new Error('unimplemented');
}

/** A throwaway Ed25519 identity that never touches disk (quick start, tests). */
export async function ephemeralIdentity(): Promise<Identity> {
  throw new Error('unimplemented');
}
