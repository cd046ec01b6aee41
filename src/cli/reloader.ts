// SIGHUP and `ett reload`: a daemon re-reads its config file. bin/ett keeps a hangup that arrives while
// ett is starting (instead of dying of it); a daemon takes such hangups over once it runs, and every
// other command gets the default action back, so a terminal's hangup still ends `ett status --watch`.
//
// Reloads never overlap: a request while one runs waits for one more run after it (requests that come
// meanwhile share that run), so a storm of signals costs at most two reloads in a row and every request
// is answered by a reload that read the file after it was made. A refused reload changes nothing.

import { toTunnelError } from '../errors.js';
import { PerSecond, type Logger } from '../log.js';

/** A reload's one line for a daemon started without --config. */
export const NO_FILE = 'no config file (started without --config): nothing to re-read';

interface EarlyHangups {
  pending: number;
  readonly listener: () => void;
}

const EARLY = Symbol.for('ett.hangups');

function early(): EarlyHangups | undefined {
  return (globalThis as { [EARLY]?: EarlyHangups })[EARLY];
}

/** For commands that are not daemons: SIGHUP's default action again (a kept hangup is delivered now). */
export function restoreHangup(): void {
  const e = early();
  if (e === undefined) return;
  process.off('SIGHUP', e.listener);
  (globalThis as { [EARLY]?: EarlyHangups })[EARLY] = undefined;
  if (e.pending > 0) process.kill(process.pid, 'SIGHUP');
}

export interface ReloaderOptions {
  readonly log: Logger;
  /**
   * Re-reads and applies the configuration; resolves with one line per change. Rejects (with a
   * TunnelError('config') naming file, key and reason) when the new configuration is refused, having
   * changed nothing.
   */
  readonly apply: () => Promise<string[]>;
}

export interface Reloader {
  /** A reload (the control socket's `reload`): resolves with its lines, rejects as apply does. */
  reload(): Promise<string[]>;
  /** Stops reloading; a SIGHUP from now on is ignored (the daemon is ending, it must not die of one). */
  close(): void;
}

/** Listens for SIGHUP (taking over the hangups bin/ett kept) and serves reloads. Never throws. */
export function startReloader(o: ReloaderOptions): Reloader {
  let active: Promise<string[]> | null = null;
  let queued: Promise<string[]> | null = null;
  // A storm must not bury the log: repeated outcomes that change nothing are counted, once a second.
  const unchanged = new PerSecond((n) => o.log.info(`reload: no changes${n > 1 ? ` (${n} reloads)` : ''}`));
  const refused = new PerSecond((n, why) =>
    o.log.error(`reload refused, the running configuration stays${n > 1 ? ` (${n} times)` : ''}: ${why}`),
  );

  // A change that needs a restart is reported by every reload until the restart; logged only the first
  // time (each reload's answer to `ett reload` still lists it).
  let kept = new Set<string>();
  const run = (): Promise<string[]> => {
    const p = o.apply().then(
      (lines) => {
        const fresh = lines.filter((l) => !kept.has(l));
        kept = new Set(lines.filter((l) => l.includes('needs a restart')));
        if (fresh.length === 0) unchanged.add('');
        for (const line of fresh) o.log.info(`reload: ${line}`);
        return lines;
      },
      (err: unknown) => {
        const e = toTunnelError(err, 'config');
        refused.add(e.message);
        throw e;
      },
    );
    const settled = p.finally(() => {
      if (active === settled) active = null;
    });
    active = settled;
    return settled;
  };

  const request = (): Promise<string[]> => {
    if (queued !== null) return queued;
    if (active === null) return run();
    const after = active.then(
      () => undefined,
      () => undefined,
    );
    const next = after.then(() => {
      queued = null;
      return run();
    });
    queued = next;
    return next;
  };

  const onHangup = (): void => {
    request().catch(() => undefined); // logged above
  };
  process.on('SIGHUP', onHangup);
  const e = early();
  if (e !== undefined) {
    process.off('SIGHUP', e.listener);
    (globalThis as { [EARLY]?: EarlyHangups })[EARLY] = undefined;
    if (e.pending > 0) onHangup(); // a hangup while starting: the file may have changed since it was read
  }
  return {
    reload: request,
    close: () => {
      process.on('SIGHUP', ignore);
      process.off('SIGHUP', onHangup);
    },
  };
}

function ignore(): void {}
