// The signals a daemon has no use for. bin/ett gives SIGUSR1 and SIGUSR2 listeners before anything else
// loads (so Node never opens its inspector on SIGUSR1, and SIGUSR2 does not end the process); a daemon
// also says it received them, at most once a second, so that a stray signal is seen and does nothing.

import { PerSecond, type Logger } from '../log.js';

export const IGNORED_SIGNALS: readonly NodeJS.Signals[] = ['SIGUSR1', 'SIGUSR2'];

/** Logs each ignored signal (rate-limited) until the process ends. Never throws. */
export function logIgnoredSignals(log: Logger): void {
  const report = new PerSecond((n, signal) =>
    log.info(`${signal}: ignored${n > 1 ? ` (${n} received)` : ''}; ett has no use for it`),
  );
  for (const signal of IGNORED_SIGNALS) process.on(signal, () => report.add(signal));
}
