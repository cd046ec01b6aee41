// The warnings a daemon prints once at start, for settings that are valid but probably not what the
// user wants (config/warnings.ts decides; this prints). Not through the logger: a log level of `error`
// or `silent` must not hide them. With --log-format json each is one object on its line.

import { readFileSync } from 'node:fs';

import type { ClientSettings, RelaySettings } from '../config/schema.js';
import {
  advertiseWarning,
  openFilesWarning,
  openProxyWarning,
  openRelayWarning,
  parseOpenFilesLimit,
} from '../config/warnings.js';
import { openFilesNeeded } from '../limits.js';
import type { LogFormat } from '../log.js';

/** Writes one warning (several lines in text form) to stderr. Never throws. */
export function printWarning(format: LogFormat, text: string): void {
  const line =
    format === 'json' ? JSON.stringify({ time: new Date().toISOString(), level: 'warn', msg: text }) : text;
  process.stderr.write(line + '\n');
}

/**
 * This process's soft open-files limit, read from /proc/self/limits (Node has no getrlimit; it raises
 * the soft limit to the hard one at start, so this is what ett may open). null where that file cannot
 * be read or parsed (not Linux): then no warning is given.
 */
export function openFilesLimit(): number | null {
  try {
    return parseOpenFilesLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return null;
  }
}

/** The relay's start-up warnings, in order: open relay, unreachable share string, open files. */
export function relayWarnings(s: RelaySettings): string[] {
  const all = [
    openRelayWarning(s),
    advertiseWarning(s),
    openFilesWarning(openFilesLimit(), openFilesNeeded(s.limits, 'relay'), 'relay'),
  ];
  return all.filter((w): w is string => w !== null);
}

/** The client's start-up warnings, in order: open proxy, open files. */
export function clientWarnings(s: ClientSettings): string[] {
  const all = [
    openProxyWarning(s),
    openFilesWarning(openFilesLimit(), openFilesNeeded(s.limits, 'client'), 'client'),
  ];
  return all.filter((w): w is string => w !== null);
}

/**
 * What a reload says (at warn): each warning the new settings raise that the running ones did not (a
 * login removed, an exit policy emptied, limits raised past the open-files limit).
 */
export function reloadWarnings<S>(warnings: (s: S) => string[], running: S, next: S): string[] {
  const was = new Set(warnings(running));
  return warnings(next).filter((w) => !was.has(w));
}
