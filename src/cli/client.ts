// `ett client`: the local mixed SOCKS5/SOCKS4a/HTTP proxy port, reaching destinations by the routing
// rules (through relays, directly, or not at all), plus ssh -L style port forwards.

import { describeAction } from '../client/rules.js';
import { startClient } from '../client/client.js';
import { clientOptionsFrom, flagInputs, loadClientSettings } from '../config/load.js';
import { formatTarget } from '../wire/address.js';
import { shortPin } from '../wire/share-string.js';
import { parseFlags, say, waitForShutdown } from './common.js';
import { logIgnoredSignals } from './signals.js';
import { startSeeing } from './seeing.js';

const OPTIONS = {
  key: { type: 'string' },
  listen: { type: 'string' },
  via: { type: 'string', multiple: true },
  default: { type: 'string' },
  forward: { type: 'string', multiple: true },
  config: { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  control: { type: 'string' },
  metrics: { type: 'string' },
} as const;

/**
 * Runs the client until a signal, then closes it and returns 0.
 * Rejects with TunnelError('config') (exit 2) for bad flags, config or key, or a forward port that
 * cannot be opened; with startClient's error if the proxy port cannot be opened.
 */
export async function client(args: string[]): Promise<number> {
  const { values } = parseFlags('client', args, OPTIONS);
  const settings = await loadClientSettings(flagInputs(values), values.config as string | undefined);
  const opts = await clientOptionsFrom(settings);
  const handle = await startClient(opts);
  const { rules, forwards } = settings.routing;
  opts.log.info(
    `client ${shortPin(opts.identity.pin)}: ${rules.length} rule(s), default ${describeAction(opts.routing.default)}`,
  );
  logIgnoredSignals(opts.log);
  say(`ett client listening on ${formatTarget(handle.address)} (SOCKS5, SOCKS4a, HTTP proxy)`);
  // One line per forward with the port actually bound (an LPORT of 0 picks one).
  handle.forwards.forEach((bound, i) => {
    const f = forwards[i]!;
    say(
      `ett client forwarding ${formatTarget(bound)} -> ${formatTarget(f.to)} via ${describeAction(f.action)}`,
    );
  });
  const seeing = await startSeeing({ census: handle.census, ...settings, log: opts.log }).catch(
    async (err: unknown) => {
      await handle.close();
      throw err;
    },
  );
  const signal = await waitForShutdown();
  opts.log.info(`${signal}: closing`);
  await seeing.close();
  await handle.close();
  return 0;
}
