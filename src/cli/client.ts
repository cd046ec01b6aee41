// `ett client`: the local mixed SOCKS5/SOCKS4a/HTTP proxy port, reaching destinations by the routing
// rules (through relays, directly, or not at all), plus ssh -L style port forwards.

import { describeAction } from '../client/rules.js';
import { startClient } from '../client/client.js';
import { clientChanges } from '../config/changes.js';
import { routingTable } from '../config/routing.js';
import {
  clientOptionsFrom,
  flagInputs,
  liveLimits,
  loadClientSettings,
  loadHopKeys,
} from '../config/load.js';
import { createLogger, logWriter } from '../log.js';
import { startRedirectPorts, type RedirectPorts } from '../run/ports.js';
import { formatTarget } from '../wire/address.js';
import { shortPin } from '../wire/share-string.js';
import { parseFlags, say, waitForShutdown } from './common.js';
import { logIgnoredSignals } from './signals.js';
import { startGivingBack } from './memory.js';
import { NO_FILE, startReloader } from './reloader.js';
import { startSeeing } from './seeing.js';
import { clientWarnings, printWarning, reloadWarnings } from './startup-warnings.js';

export const OPTIONS = {
  key: { type: 'string' },
  listen: { type: 'string' },
  via: { type: 'string', multiple: true },
  default: { type: 'string' },
  forward: { type: 'string', multiple: true },
  publish: { type: 'string', multiple: true },
  config: { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  control: { type: 'string' },
  metrics: { type: 'string' },
  transparent: { type: 'string' },
  dns: { type: 'string' },
  'isolate-per-host': { type: 'boolean' },
} as const;

/**
 * Runs the client until a signal, then closes it and returns 0.
 * Rejects with TunnelError('config') (exit 2) for bad flags, config or key, or a forward port that
 * cannot be opened; with startClient's error if the proxy port cannot be opened.
 */
export async function client(args: string[]): Promise<number> {
  const { values } = parseFlags('client', args, OPTIONS);
  const flags = flagInputs(values);
  const file = values.config as string | undefined;
  const settings = await loadClientSettings(flags, file);
  // One limits object for the whole client, changed in place by a reload (config/changes.ts LIVE_LIMITS).
  const limits = liveLimits(settings.limits);
  const log = createLogger(settings.logLevel, logWriter(settings.observe.logFormat));
  const opts = { ...(await clientOptionsFrom(settings, log)), limits };
  // Open proxy, open-files limit: on stderr whatever the log level.
  for (const w of clientWarnings(settings)) printWarning(settings.observe.logFormat, w);
  const handle = await startClient(opts);
  let ports: RedirectPorts | undefined;
  if (settings.transparent !== undefined || settings.dns !== undefined) {
    ports = await startRedirectPorts({
      ...(settings.transparent === undefined ? {} : { transparent: settings.transparent }),
      ...(settings.dns === undefined ? {} : { dns: settings.dns }),
      router: handle.router,
      limits,
      log,
    }).catch(async (err: unknown) => {
      await handle.close();
      throw err;
    });
  }
  const { rules, forwards } = settings.routing;
  opts.log.info(
    `client ${shortPin(opts.identity.pin)}: ${rules.length} rule(s), default ${describeAction(opts.routing.default)}`,
  );
  logIgnoredSignals(opts.log);
  startGivingBack(opts.log);
  say(`ett client listening on ${formatTarget(handle.address)} (SOCKS5, SOCKS4a, HTTP proxy)`);
  for (const at of ports?.transparent ?? []) say(`ett client transparent port on ${formatTarget(at)}`);
  for (const at of ports?.dns ?? []) say(`ett client DNS port on ${formatTarget(at)} (UDP, TCP)`);
  // One line per forward with the port actually bound (an LPORT of 0 picks one).
  handle.forwards.forEach((bound, i) => {
    const f = forwards[i]!;
    say(
      `ett client forwarding ${formatTarget(bound)} -> ${formatTarget(f.to)} via ${describeAction(f.action)}`,
    );
  });
  let running = settings;
  const reloader = startReloader({
    log,
    apply: async () => {
      if (file === undefined) return [NO_FILE];
      const { settings: next, lines } = clientChanges(running, await loadClientSettings(flags, file));
      await loadHopKeys(next);
      const forwards = next.routing.forwards;
      const bound = await handle.reconfigure({
        routing: routingTable(next.routing),
        forwards,
        publish: next.routing.publish,
        ...(next.socksUsers === undefined ? {} : { socksUsers: next.socksUsers }),
      });
      // A reload that drops the last SOCKS login opens the port, or raises limits past the open-files
      // limit: say so (the listen address is kept).
      for (const w of reloadWarnings(clientWarnings, running, next)) log.warn(w);
      Object.assign(limits, next.limits);
      log.setLevel(next.logLevel);
      running = next;
      // Where each forward listens now (a port of 0 was picked at bind), as at start.
      forwards.forEach((f, i) => {
        const was = formatTarget(f.listen);
        const at = formatTarget(bound[i]!);
        if (at !== was && lines.some((l) => l.startsWith(`forward ${was} added`))) {
          lines.push(`forward ${was} listening on ${at}`);
        }
      });
      return lines;
    },
  });
  const seeing = await startSeeing({
    census: handle.census,
    ...settings,
    limits,
    log,
    reload: reloader.reload,
  }).catch(async (err: unknown) => {
    reloader.close();
    await ports?.close();
    await handle.close();
    throw err;
  });
  const signal = await waitForShutdown();
  opts.log.info(`${signal}: closing`);
  reloader.close();
  await seeing.close();
  await ports?.close();
  await handle.close();
  return 0;
}
