// What every daemon (`ett relay`, `ett client`, `ett up`) starts beside its work so its owner can see
// it: the control socket (on by default, in the runtime directory) and, if asked, the metrics
// listener. Their addresses are printed on stdout at start, one line each.

import { readFileSync } from 'node:fs';
import type { ObserveSettings } from '../config/observe.js';
import type { Census } from '../link/census.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import { startControl, type ControlHandle, type ControlOptions } from '../observe/control.js';
import { startMetrics, type MetricsHandle } from '../observe/metrics.js';
import { defaultControlPath, ensureRuntimeDir, runtimeDir } from '../observe/runtime.js';
import { formatTarget } from '../wire/address.js';
import { say } from './common.js';

export interface SeeingOptions {
  readonly census: Census;
  readonly observe: ObserveSettings;
  readonly limits: Limits;
  readonly log: Logger;
  /** The daemon's config reload (answers the control socket's `reload`), when it has one. */
  readonly reload?: () => Promise<string[]>;
  /** The daemon's own control commands (a relay's invites), when it has any. */
  readonly commands?: ControlOptions['commands'];
}

export interface Seeing {
  /** The control socket's path, or null with `--control off`. */
  readonly controlPath: string | null;
  close(): Promise<void>;
}

/** ett's version, from its package.json. Never throws ('unknown' if unreadable). */
export function ettVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Starts the control socket and the metrics listener as the settings say, and prints where.
 * Rejects with TunnelError('config') if a --control PATH or --metrics address cannot be listened on
 * (nothing is left open then); the default control socket failing is only a warning.
 */
export async function startSeeing(o: SeeingOptions): Promise<Seeing> {
  const who = o.census.daemon;
  let control: ControlHandle | null = null;
  if (o.observe.control !== 'off') {
    const given = o.observe.control;
    const listen = (path: string): Promise<ControlHandle> =>
      startControl({
        path,
        census: o.census,
        limits: o.limits,
        log: o.log,
        ...(o.reload ? { reload: o.reload } : {}),
        ...(o.commands ? { commands: o.commands } : {}),
      });
    if (given !== undefined)
      control = await listen(given); // asked for: a failure stops the start
    else {
      // The default place: a daemon does not refuse to run for want of a status socket it was not asked for.
      try {
        ensureRuntimeDir(runtimeDir());
        control = await listen(defaultControlPath(who));
      } catch (err) {
        o.log.warn(`${(err as Error).message}; running without a control socket`);
      }
    }
    if (control) say(`ett ${who} control: ${control.path}`);
  }
  let metrics: MetricsHandle | null = null;
  if (o.observe.metrics !== undefined) {
    try {
      metrics = await startMetrics(o.observe.metrics, o.census, o.log, ettVersion());
    } catch (err) {
      await control?.close();
      throw err;
    }
    say(`ett ${who} metrics: http://${formatTarget(metrics.address)}/metrics`);
  }
  return {
    controlPath: control?.path ?? null,
    close: async () => {
      await Promise.all([control?.close(), metrics?.close()]);
    },
  };
}
