// `ett cert FILE`: a self-signed certificate for a key, so stock tools (curl --proxy-cert) can present
// the key to a relay. The certificate carries no trust; only the key's pin is checked.

import { selfSignedCertificate } from '../identity/certificate.js';
import { loadKeyFile } from '../identity/keys.js';
import { parseFlags } from './common.js';

/** Runs the command; returns the exit status. Rejects with TunnelError('config') (exit 2) on any failure. */
export async function cert(args: string[]): Promise<number> {
  const { positionals } = parseFlags('cert', args, {}, ['FILE']);
  process.stdout.write(await selfSignedCertificate(await loadKeyFile(positionals[0]!)));
  return 0;
}
