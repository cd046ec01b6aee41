// `ett client`: the local mixed SOCKS5/SOCKS4a/HTTP proxy port, reaching destinations through relays.

import { clientOptionsFrom, flagInputs, loadClientSettings } from '../config/load.js';
import { startClient } from '../client/client.js';
import { formatTarget } from '../wire/address.js';
import { shortPin } from '../wire/share-string.js';
import { parseFlags, say, waitForShutdown } from './common.js';

const OPTIONS = {
  key: { type: 'string' },
  listen: { type: 'string' },
  via: { type: 'string', multiple: true },
  config: { type: 'string' },
  'log-level': { type: 'string' },
} as const;

/**
 * Runs the client until a signal, then closes it and returns 0.
 * Rejects with TunnelError('config') (exit 2) for bad flags, config or key; with startClient's error
 * if the port cannot be opened.
 */
export async function client(args: string[]): Promise<number> {
  const { values } = parseFlags('client', args, OPTIONS);
  const settings = await loadClientSettings(flagInputs(values), values.config as string | undefined);
  const opts = await clientOptionsFrom(settings);
  const handle = await startClient(opts);
  const route = settings.via.map((s) => `${shortPin(s.pin)}@${formatTarget(s.target)}`).join(' -> ');
  opts.log.info(`client ${shortPin(opts.identity.pin)} via ${route}`);
  say(`ett client listening on ${formatTarget(handle.address)} (SOCKS5, SOCKS4a, HTTP proxy)`);
  const signal = await waitForShutdown();
  opts.log.info(`${signal}: closing`);
  await handle.close();
  return 0;
}
