// The settings that let a daemon's owner see it: the control socket (`control`), the metrics listener
// (`metrics`) and the log format (`log_format`). Validated here, for the relay, the client and `ett up`
// alike; errors are TunnelError('config') naming where the value was given.

import { dirname, isAbsolute, join } from 'node:path';
import type { LogFormat } from '../log.js';
import type { Target } from '../wire/address.js';
import { formatTarget } from '../wire/address.js';
import { bad, optionalString, parseListen, type Inputs } from './inputs.js';

export const OBSERVE_KEYS = ['control', 'metrics', 'log_format'] as const;
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

export interface ObserveSettings {
  /** The control socket's path; undefined: the default in the runtime directory; 'off': none. */
  readonly control?: string;
  /** Where to serve Prometheus metrics (/metrics); undefined: nowhere. */
  readonly metrics?: Target;
  readonly logFormat: LogFormat;
}

/** Throws TunnelError('config') naming the origin: a control path that is empty, a bad HOST:PORT, an unknown format. */
export function observeValue(inputs: Inputs): ObserveSettings {
  const out: { control?: string; metrics?: Target; logFormat: LogFormat } = { logFormat: 'text' };
  const control = optionalString(inputs, 'control');
  if (control !== undefined) {
    const g = inputs.get('control')!;
    if (control === '') throw bad(g, 'control', undefined, 'must be a socket path or "off"');
    // As for `key`: a relative path in a config file is relative to that file's directory.
    out.control =
      control === 'off' || g.origin.kind === 'flag' || isAbsolute(control)
        ? control
        : join(dirname(g.origin.file), control);
  }
  const metrics = optionalString(inputs, 'metrics');
  if (metrics !== undefined) {
    const t = parseListen(metrics);
    if (typeof t === 'string') {
      throw bad(inputs.get('metrics')!, 'metrics', undefined, `${JSON.stringify(metrics)}: ${t}`);
    }
    out.metrics = t;
  }
  const format = optionalString(inputs, 'log_format');
  if (format !== undefined) {
    if (!(LOG_FORMATS as readonly string[]).includes(format)) {
      throw bad(
        inputs.get('log_format')!,
        'log_format',
        undefined,
        `${JSON.stringify(format)}: must be one of ${LOG_FORMATS.join(', ')}`,
      );
    }
    out.logFormat = format as LogFormat;
  }
  return out;
}

/** The settings as TOML lines for `ett check-config` (only what differs from the defaults). Never throws. */
export function showObserve(o: ObserveSettings): string[] {
  const out: string[] = [];
  if (o.control !== undefined) out.push(`control = ${JSON.stringify(o.control)}`);
  if (o.metrics !== undefined) out.push(`metrics = ${JSON.stringify(formatTarget(o.metrics))}`);
  if (o.logFormat !== 'text') out.push(`log_format = ${JSON.stringify(o.logFormat)}`);
  return out;
}
