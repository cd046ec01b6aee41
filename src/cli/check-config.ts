// `ett check-config FILE [--role relay|client]`: validates a config file exactly as `ett relay` or
// `ett client` would at start, key file included, and prints the effective configuration (secrets
// redacted). Starts nothing and opens no socket.

import { TunnelError } from '../errors.js';
import { clientOptionsFrom, inferRole, keyOf, readConfigFile } from '../config/load.js';
import { validateClient, validateRelay } from '../config/schema.js';
import { showClient, showRelay } from '../config/show.js';
import { advertiseWarning, openProxyWarning, openRelayWarning } from '../config/warnings.js';
import { parseFlags } from './common.js';

export const OPTIONS = { role: { type: 'string' } } as const;

/**
 * Prints the effective configuration and returns 0.
 * Rejects with TunnelError('config') (exit 2) naming the file, key path and reason, or the key file's
 * problem (missing, readable by others, not a key).
 */
export async function checkConfig(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags('check-config', args, OPTIONS, ['FILE']);
  const role = values.role as string | undefined;
  if (role !== undefined && role !== 'relay' && role !== 'client') {
    throw new TunnelError('config', `--role: ${JSON.stringify(role)}: must be relay or client`);
  }
  const inputs = await readConfigFile(positionals[0]!);
  if ((role ?? inferRole(inputs)) === 'relay') {
    const settings = validateRelay(inputs);
    const identity = await keyOf(settings);
    // As at start, but for the open-files limit: that is the running daemon's, not this shell's.
    for (const w of [openRelayWarning(settings), advertiseWarning(settings)]) {
      if (w !== null) process.stderr.write(w + '\n');
    }
    process.stdout.write(showRelay(settings, identity.pin));
  } else {
    const settings = validateClient(inputs);
    // The same loading as at start (the client's key, and every relay's own key file).
    const options = await clientOptionsFrom(settings);
    const warning = openProxyWarning(settings);
    if (warning !== null) process.stderr.write(warning + '\n');
    process.stdout.write(showClient(settings, options.identity.pin));
  }
  return 0;
}
