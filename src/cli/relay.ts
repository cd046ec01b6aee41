// `ett relay`: serve allow-listed clients until SIGINT/SIGTERM. Prints one line with the share string,
// the only thing a client needs to reach and authenticate this relay.

import { relayChanges } from '../config/changes.js';
import { flagInputs, liveLimits, loadRelaySettings, relayOptionsFrom } from '../config/load.js';
import { createLogger, logWriter } from '../log.js';
import { startRelay } from '../relay/relay.js';
import { RelayState, type JoinOutcome } from '../relay/state.js';
import type { RelaySettings } from '../config/schema.js';
import { relayCommands } from './relay-commands.js';
import { shortPin } from '../wire/share-string.js';
import { parseFlags, say, waitForShutdown } from './common.js';
import { logIgnoredSignals } from './signals.js';
import { startGivingBack } from './memory.js';
import { NO_FILE, startReloader } from './reloader.js';
import { startSeeing } from './seeing.js';
import { printWarning, relayWarnings, reloadWarnings } from './startup-warnings.js';

export const OPTIONS = {
  key: { type: 'string' },
  listen: { type: 'string' },
  advertise: { type: 'string' },
  allow: { type: 'string', multiple: true },
  'allow-any': { type: 'boolean' },
  'allow-file': { type: 'string' },
  exit: { type: 'string', multiple: true },
  publish: { type: 'string', multiple: true },
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
  // Invites on: the allow file and its store, written by joins and `ett invite`/`ett allow`.
  const state = settings.allowFile === undefined ? undefined : new RelayState(settings.allowFile);
  let running = settings;
  // A key that joins is in the running settings too, so the next reload's lines compare with it.
  const join = async (pin: string, token: string): Promise<JoinOutcome> => {
    const r = await state!.join(pin, token);
    if (r.ok && !r.already) running = { ...running, joined: [...running.joined, pin] };
    return r;
  };
  const opts = {
    ...(await relayOptionsFrom(settings, log)),
    limits,
    ...(state === undefined ? {} : { join }),
  };
  // Open relay, unreachable share string, open-files limit: on stderr whatever the log level.
  for (const w of relayWarnings(settings)) printWarning(settings.observe.logFormat, w);
  const handle = await startRelay(opts);
  const who = settings.allowAny
    ? 'any client key'
    : `${settings.allow.length} allowed client key(s)` +
      (state === undefined ? '' : `, ${settings.joined.length} joined (allow file ${state.allowFile})`);
  opts.log.info(`relay ${shortPin(opts.identity.pin)} serving ${who}`);
  logIgnoredSignals(opts.log);
  startGivingBack(opts.log);
  say(`ett relay listening: ${handle.shareString}`);
  const reloader = startReloader({
    log,
    apply: async () => {
      // Without a config file, the allow file (named by --allow-file) is still re-read.
      if (file === undefined && state === undefined) return [NO_FILE];
      const { settings: next, lines } = relayChanges(running, await loadRelaySettings(flags, file));
      handle.reconfigure(allowing(next));
      for (const w of reloadWarnings(relayWarnings, running, next)) log.warn(w);
      Object.assign(limits, next.limits);
      log.setLevel(next.logLevel);
      running = next;
      return lines;
    },
  });
  // `ett allow remove`: the reload's path (links of a removed key close); should the config file be
  // refused just now, the allow file alone is applied through the same reconfigure.
  const reapply = async (): Promise<void> => {
    await reloader.reload().catch(async () => {
      if (state === undefined) return;
      running = { ...running, joined: (await state.allowed()).map((e) => e.pin) };
      handle.reconfigure(allowing(running));
    });
  };
  const commands =
    state === undefined ? undefined : relayCommands({ state, shareString: handle.shareString, log, reapply });
  const seeing = await startSeeing({
    census: handle.census,
    ...settings,
    limits,
    log,
    reload: reloader.reload,
    ...(commands === undefined ? {} : { commands }),
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

/** The settings as the relay takes them: the config's allow list and the allow file's keys together. */
function allowing(s: RelaySettings): RelaySettings {
  return { ...s, allow: [...new Set([...s.allow, ...s.joined])] };
}
