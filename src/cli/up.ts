// `ett up` (npm start): the quick start. A relay and a client in one process with throwaway keys; the
// relay's exit reaches loopback only, so trying ett out opens nothing to the network.

import { startClient } from '../client/client.js';
import { flagInputs } from '../config/load.js';
import { validateUp } from '../config/schema.js';
import { ephemeralIdentity } from '../identity/identity.js';
import { DEFAULT_LIMITS } from '../limits.js';
import { Census } from '../link/census.js';
import { createLogger, logWriter } from '../log.js';
import { parseExitRule } from '../relay/exit-policy.js';
import { startRelay } from '../relay/relay.js';
import { formatTarget } from '../wire/address.js';
import { parseShareString } from '../wire/share-string.js';
import { parseFlags, say, waitForShutdown } from './common.js';
import { logIgnoredSignals } from './signals.js';
import { startGivingBack } from './memory.js';
import { startReloader } from './reloader.js';
import { startSeeing } from './seeing.js';

const UP_NO_FILE = 'ett up has no config file: nothing to re-read';

export const OPTIONS = {
  listen: { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  control: { type: 'string' },
  metrics: { type: 'string' },
} as const;

// The explicit `reject *:*` matters: without it the defaults after these rules would accept every public
// address, and the quick start would be an open door to the internet rather than a loopback demo.
const EXIT_RULES = [
  'accept 127.0.0.0/8:*',
  'accept [::1]:*',
  'accept udp 127.0.0.0/8:*',
  'accept udp [::1]:*',
  'reject *:*',
];

/**
 * Runs relay and client until a signal, then closes both and returns 0.
 * Rejects with TunnelError('config') (exit 2) for bad flags; with startRelay's/startClient's error if
 * either cannot start (e.g. port 1080 in use: pass --listen).
 */
export async function up(args: string[]): Promise<number> {
  const { values } = parseFlags('up', args, OPTIONS);
  const { listen, logLevel, observe } = validateUp(flagInputs(values));
  const log = createLogger(logLevel, logWriter(observe.logFormat));
  const census = new Census('up'); // relay and client in one process: one status

  const [relayId, clientId] = await Promise.all([ephemeralIdentity(), ephemeralIdentity()]);
  const relay = await startRelay({
    identity: relayId,
    listen: { host: '127.0.0.1', port: 0 },
    allow: [clientId.pin],
    allowAny: false,
    exitRules: EXIT_RULES.map(parseExitRule),
    limits: DEFAULT_LIMITS,
    log,
    census,
  });
  let client;
  try {
    client = await startClient({
      identity: clientId,
      listen,
      routing: {
        rules: [],
        default: {
          kind: 'route',
          route: { name: 'quickstart', relays: [parseShareString(relay.shareString)] },
        },
      },
      forwards: [],
      limits: DEFAULT_LIMITS,
      log,
      census,
    });
  } catch (err) {
    await relay.close();
    throw err;
  }
  logIgnoredSignals(log);
  startGivingBack(log);
  const proxy = formatTarget(client.address);
  say(`ett relay listening: ${relay.shareString}`);
  say(`ett client listening on ${proxy} (SOCKS5, SOCKS4a, HTTP proxy)`);
  say('');
  say('Try it (start a local web server first, e.g. python3 -m http.server 8000):');
  say(`  curl --socks5-hostname ${proxy} http://127.0.0.1:8000/`);
  say(`  curl -x http://${proxy} http://127.0.0.1:8000/`);
  say('');
  say('Note: this relay exits to loopback only (127.0.0.0/8 and [::1]); other destinations are refused.');
  say('For real use run `ett relay` on a server and `ett client` at home (see README). Ctrl-C stops.');
  const closeAll = (): Promise<unknown> => Promise.allSettled([client.close(), relay.close()]);
  // SIGHUP and `ett reload` are answered, not fatal: the quick start has no file to re-read.
  const reloader = startReloader({ log, apply: async () => [UP_NO_FILE] });
  const seeing = await startSeeing({
    census,
    observe,
    limits: DEFAULT_LIMITS,
    log,
    reload: reloader.reload,
  }).catch(async (err: unknown) => {
    reloader.close();
    await closeAll();
    throw err;
  });

  const signal = await waitForShutdown();
  log.info(`${signal}: closing`);
  reloader.close();
  await seeing.close();
  await closeAll();
  return 0;
}
