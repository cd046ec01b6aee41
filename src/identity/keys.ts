// Private keys on disk: Ed25519 (or P-256) in PKCS#8 PEM, mode 0600. Like sshd, a key file that group or
// others may read is refused: a key that others could have copied is no identity.

import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { open, readFile, stat, unlink } from 'node:fs/promises';

import { TunnelError } from '../errors.js';
import { pinOfKey } from './pin.js';

/**
 * A fresh Ed25519 private key, in memory only.
 * Never throws in practice (key generation failing would be a broken Node).
 */
export function generateKey(): KeyObject {
  return generateKeyPairSync('ed25519').privateKey;
}

/**
 * The PKCS#8 PEM text of a private key.
 * Throws if the key is not a private key.
 */
export function keyToPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/**
 * Checks that a key is one ett accepts: Ed25519 or ECDSA P-256, private.
 * Throws TunnelError('config') naming `label` and the key type found.
 */
export function checkKeyType(key: KeyObject, label: string): void {
  if (key.type !== 'private') throw new TunnelError('config', `${label}: not a private key`);
  const kind = key.asymmetricKeyType;
  if (kind === 'ed25519') return;
  if (kind === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return;
  const curve = kind === 'ec' ? ` (curve ${key.asymmetricKeyDetails?.namedCurve ?? 'unknown'})` : '';
  throw new TunnelError(
    'config',
    `${label}: unsupported key type ${kind ?? 'unknown'}${curve}; use Ed25519 or P-256`,
  );
}

/**
 * Writes a new Ed25519 key to `path` with mode 0600 and returns its pin. The file is created with
 * O_EXCL ('wx'), so an existing file — perhaps someone's only copy of a key — is never overwritten.
 * Throws TunnelError('config') naming the path if it exists or cannot be written.
 */
export async function writeNewKeyFile(path: string): Promise<string> {
  const key = generateKey();
  let handle;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (err) {
    throw fileError(path, err, 'cannot create key file');
  }
  try {
    await handle.writeFile(keyToPem(key));
    // The umask can only remove bits, but a mode set explicitly leaves no doubt.
    await handle.chmod(0o600);
  } catch (err) {
    // Leave no half-written key behind: the next keygen would refuse to replace it.
    await handle.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw fileError(path, err, 'cannot write key file');
  }
  await handle.close();
  return pinOfKey(key);
}

/**
 * Loads a private key file after checking its permissions (stat first, so a too-open key is refused
 * before it is even read). Accepts Ed25519 and P-256 keys in PKCS#8 (or any PEM Node reads).
 * Throws TunnelError('config') naming the file and the reason: missing, unreadable, readable by group
 * or others (with the chmod that fixes it), not a key, encrypted, or of an unsupported type.
 */
export async function loadKeyFile(path: string): Promise<KeyObject> {
  let mode: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new TunnelError('config', `${path}: not a regular file`);
    mode = st.mode;
  } catch (err) {
    throw fileError(path, err, 'cannot read key file');
  }
  if ((mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    throw new TunnelError(
      'config',
      `${path}: key file is readable by group or others (mode ${octal}); run: chmod 600 ${path}`,
    );
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw fileError(path, err, 'cannot read key file');
  }
  return parseKeyPem(text, path);
}

/**
 * Parses PEM text into a private key and checks its type.
 * Throws TunnelError('config') naming `label`; the text itself never appears in the message.
 */
export function parseKeyPem(text: string, label: string): KeyObject {
  if (!text.includes('-----BEGIN')) throw new TunnelError('config', `${label}: not a PEM private key`);
  if (text.includes('ENCRYPTED')) {
    throw new TunnelError(
      'config',
      `${label}: encrypted keys are not supported; store it unencrypted, mode 0600`,
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: 'pem' });
  } catch (err) {
    // Node's message names the decoder failure, not the key bytes, so it is safe to pass on.
    const why = err instanceof Error ? err.message : String(err);
    throw new TunnelError('config', `${label}: not a usable private key (${why})`, { cause: err });
  }
  checkKeyType(key, label);
  return key;
}

/** A file-system failure as a config error naming the file and the errno in words. Never throws. */
function fileError(path: string, err: unknown, what: string): TunnelError {
  if (err instanceof TunnelError) return err;
  const errno = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  const reason: Record<string, string> = {
    EEXIST: 'already exists; refusing to overwrite',
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EISDIR: 'is a directory',
    ENOTDIR: 'a parent is not a directory',
  };
  const text = reason[errno] ?? `${what}: ${err instanceof Error ? err.message : String(err)}`;
  return new TunnelError('config', `${path}: ${text}`, { cause: err });
}
