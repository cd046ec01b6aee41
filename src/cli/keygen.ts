// `ett keygen FILE`: a new Ed25519 key, mode 0600, never over an existing file; prints the pin.

import { writeNewKeyFile } from '../identity/keys.js';
import { parseFlags, say } from './common.js';

/** Runs the command; returns the exit status. Rejects with TunnelError('config') (exit 2) on any failure. */
export async function keygen(args: string[]): Promise<number> {
  const { positionals } = parseFlags('keygen', args, {}, ['FILE']);
  say(await writeNewKeyFile(positionals[0]!));
  return 0;
}
