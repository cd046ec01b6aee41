// Settings as given, before validation: a value per snake_case key with where it came from, the shape
// checks every validator shares, and the error messages that name a value where the user wrote it
// (`client.toml: rules[3].action: …` for a file, `--forward #2: …` for a flag).

import { TunnelError } from '../errors.js';
import type { Target } from '../wire/address.js';

/**
 * Where one value came from: a config file (path as the user gave it) or a command-line flag (`flag`:
 * its kebab-case name when it differs from the key's, as `--forward` for `forwards`).
 */
export type Origin =
  { readonly kind: 'file'; readonly file: string } | { readonly kind: 'flag'; readonly flag?: string };

export interface Given {
  readonly value: unknown;
  readonly origin: Origin;
}

/** Settings as given, keyed by their config-file (snake_case) name. */
export type Inputs = ReadonlyMap<string, Given>;

// ---- shapes -------------------------------------------------------------------------------------

export function optionalString(inputs: Inputs, key: string): string | undefined {
  const g = inputs.get(key);
  if (g === undefined) return undefined;
  if (typeof g.value !== 'string') throw bad(g, key, undefined, 'must be a string');
  return g.value;
}

export function optionalBoolean(inputs: Inputs, key: string): boolean | undefined {
  const g = inputs.get(key);
  if (g === undefined) return undefined;
  if (typeof g.value !== 'boolean') throw bad(g, key, undefined, 'must be true or false');
  return g.value;
}

/** A list value as [given, element, index]; a single value counts as a list of one (index undefined). */
export function optionalList(inputs: Inputs, key: string): [Given, unknown, number | undefined][] {
  const g = inputs.get(key);
  if (g === undefined) return [];
  if (Array.isArray(g.value)) return g.value.map((v, i) => [g, v, i]);
  return [[g, g.value, undefined]];
}

/** A TOML table (not an array, a date or a scalar). */
export function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/**
 * HOST:PORT or [IPv6]:PORT for a listening socket; port 0 asks the system for a free port. Parsed
 * here, not with wire's parseTarget, because a listen address allows port 0 and no domain syntax
 * checks matter (the OS resolves the host once, at bind). Returns the reason as a string on failure.
 */
export function parseListen(text: string): Target | string {
  let host: string;
  let portText: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (v6 !== null) {
    host = v6[1]!;
    portText = v6[2]!;
  } else {
    const at = text.lastIndexOf(':');
    if (at < 0) return 'expected HOST:PORT';
    host = text.slice(0, at);
    portText = text.slice(at + 1);
    if (host.includes(':')) return 'an IPv6 address needs brackets: [ADDR]:PORT';
  }
  if (host === '' || /[\s/@[\]]/.test(host)) return 'bad host';
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) return 'port must be 0..65535';
  return { host, port: Number(portText) };
}

// ---- errors -------------------------------------------------------------------------------------

/**
 * The name of a setting where the user wrote it: `file: exit[2]` or `file: rules[3].action` for a
 * file; `--exit`, or `--exit #3` when the flag was given more than once.
 */
export function where(g: Given, keyPath: string, index?: number): string {
  if (g.origin.kind === 'file')
    return `${g.origin.file}: ${keyPath}${index === undefined ? '' : `[${index}]`}`;
  const flag = '--' + (g.origin.flag ?? keyPath.split(/[.[]/)[0]!.replace(/_/g, '-'));
  const many = Array.isArray(g.value) && g.value.length > 1;
  return many && index !== undefined ? `${flag} #${index + 1}` : flag;
}

/** TunnelError('config'): `<where>: <reason>`. */
export function bad(g: Given, keyPath: string, index: number | undefined, reason: string): TunnelError {
  return new TunnelError('config', `${where(g, keyPath, index)}: ${reason}`);
}

/** TunnelError('config') for a required setting given nowhere. */
export function missing(key: string, metavar: string, role?: string): TunnelError {
  const flag = '--' + key.replace(/_/g, '-');
  const forRole = role === undefined ? '' : ` for ${role}`;
  return new TunnelError('config', `missing ${flag} ${metavar}${forRole} (or \`${key}\` in the config file)`);
}

export function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
