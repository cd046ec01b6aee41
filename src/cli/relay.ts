// `ett relay`: serve allow-listed clients until SIGINT/SIGTERM. Prints one line with the share string,
// the only thing a client needs to reach and authenticate this relay.

import { relayChanges } from '../config/changes.js';
import { flagInputs, liveLimits, loadRelaySettings, relayOptionsFrom } from '../config/load.js';
import { createLogger, logWriter } from '../log.js';
import { startRelay } from '../relay/relay.js';
import { shortPin } from '../wire/share-string.js';
import { parseFlags, say, waitForShutdown } from './common.js';
import { logIgnoredSignals } from './signals.js';
import { NO_FILE, startReloader } from './reloader.js';
import { startSeeing } from './seeing.js';
import { printWarning, relayWarnings, reloadWarnings } from './startup-warnings.js';

export const OPTIONS = {
  key: { type: 'string' },
  listen: { type: 'string' },
  advertise: { type: 'string' },
  allow: { type: 'string', multiple: true },
  'allow-any': { type: 'boolean' },
  exit: { type: 'string', multiple: true },
  config: { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  control: { type: 'string' },
  metrics: { type: 'string' },
} as const;

/**
 * Runs the relay until a signal, then closes it and returns 0.
 * Rejects with TunnelError('config') (exit 2) for bad flags, config or key; with startRelay's error
 * if the relay cannot start (e.g. the address is in use).
 */
export async function relay(args: string[]): Promise<number> {
  const { values } = parseFlags('relay', args, OPTIONS);
  const flags = flagInputs(values);
  const file = values.config as string | undefined;
  const settings = await loadRelaySettings(flags, file);
  // One limits object for the whole relay, changed in place by a reload (config/changes.ts LIVE_LIMITS).
  const limits = liveLimits(settings.limits);
  const log = createLogger(settings.logLevel, logWriter(settings.observe.logFormat));
  const opts = { ...(await relayOptionsFrom(settings, log)), limits };
  // Open relay, unreachable share string, open-files limit: on stderr whatever the log level.
  for (const w of relayWarnings(settings)) printWarning(settings.observe.logFormat, w);
  const handle = await startRelay(opts);
  const who = settings.allowAny ? 'any client key' : `${settings.allow.length} allowed client key(s)`;
  opts.log.info(`relay ${shortPin(opts.identity.pin)} serving ${who}`);
  logIgnoredSignals(opts.log);
  say(`ett relay listening: ${handle.shareString}`);
  let running = settings;
  const reloader = startReloader({
    log,
    apply: async () => {
      if (file === undefined) return [NO_FILE];
      const { settings: next, lines } = relayChanges(running, await loadRelaySettings(flags, file));
      handle.reconfigure(next);
      for (const w of reloadWarnings(relayWarnings, running, next)) log.warn(w);
      Object.assign(limits, next.limits);
      log.setLevel(next.logLevel);
      running = next;
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
    await handle.close();
    throw err;
  });
  const signal = await waitForShutdown();
  opts.log.info(`${signal}: closing`);
  reloader.close();
  await seeing.close();
  await handle.close();
  return 0;
}
