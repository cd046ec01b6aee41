// `ett pin FILE`: the pin of a key file (the same checks as any command that loads a key).

import { loadKeyFile } from '../identity/keys.js';
import { pinOfKey } from '../identity/pin.js';
import { parseFlags, say } from './common.js';

/** Runs the command; returns the exit status. Rejects with TunnelError('config') (exit 2) on any failure. */
export async function pin(args: string[]): Promise<number> {
  const { positionals } = parseFlags('pin', args, {}, ['FILE']);
  say(pinOfKey(await loadKeyFile(positionals[0]!)));
  return 0;
}
