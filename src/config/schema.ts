// The one validator for relay and client settings. Command-line flags and config files both become
// `Inputs` (a value per snake_case key, with where it came from), are merged with flags winning, and
// only then validated here — so a value is checked the same way whichever way it was given, and every
// error names its origin: `relay.toml: exit[2]: …` for a file, `--exit: …` for a flag.
//
// Errors are TunnelError('config'). They never echo a password, a key, or more of a pin than the wire
// helpers do (8 characters).

import { dirname, isAbsolute, join } from 'node:path';

import { TunnelError } from '../errors.js';
import { DEFAULT_LIMITS, LIMIT_NAMES, type Limits } from '../limits.js';
import type { LogLevel } from '../log.js';
import { parseExitRule, type ExitRule } from '../relay/exit-policy.js';
import type { Target } from '../wire/address.js';
import { normalizePin, parseShareString, type ShareString } from '../wire/share-string.js';

/** Where one value came from: a config file (path as the user gave it) or a command-line flag. */
export type Origin = { readonly kind: 'file'; readonly file: string } | { readonly kind: 'flag' };

export interface Given {
  readonly value: unknown;
  readonly origin: Origin;
}

/** Settings as given, keyed by their config-file (snake_case) name. */
export type Inputs = ReadonlyMap<string, Given>;

export type Role = 'relay' | 'client' | 'up';

/** Top-level keys each role accepts; anything else in a file is an error. */
export const KEYS: Readonly<Record<Role, readonly string[]>> = {
  relay: ['key', 'listen', 'advertise', 'allow', 'allow_any', 'exit', 'log_level', 'limits'],
  client: ['key', 'listen', 'via', 'log_level', 'limits', 'socks_users'],
  up: ['listen', 'log_level'],
};

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

/** The client's mixed port when none is given (design.md §6). */
export const DEFAULT_CLIENT_LISTEN: Target = { host: '127.0.0.1', port: 1080 };

export interface RelaySettings {
  /** The key file: as given for a flag; for a config file, relative to that file's directory. */
  readonly keyPath: string;
  readonly listen: Target;
  readonly advertise?: string;
  readonly allow: readonly string[];
  readonly allowAny: boolean;
  readonly exitRules: readonly ExitRule[];
  readonly logLevel: LogLevel;
  readonly limits: Limits;
}

export interface ClientSettings {
  readonly keyPath: string;
  readonly listen: Target;
  readonly via: readonly ShareString[];
  readonly socksUsers?: ReadonlyMap<string, string>;
  readonly logLevel: LogLevel;
  readonly limits: Limits;
}

/**
 * Flags override the file key by key (a flag given replaces the file's whole value, lists included:
 * `--allow X` means "exactly X", as with ssh's command-line options). Never throws.
 */
export function mergeInputs(file: Inputs, flags: Inputs): Inputs {
  return new Map([...file, ...flags]);
}

/**
 * Validates relay inputs into settings.
 * Throws TunnelError('config') naming the origin (file and key path, or flag) and the reason: unknown
 * key, missing key/listen, a bad value, or neither an allow list nor allow_any (it would serve nobody).
 */
export function validateRelay(inputs: Inputs): RelaySettings {
  checkKnownKeys(inputs, 'relay');
  // Required settings first: "missing --key" is the more useful message when both apply.
  const keyPath = keyPathValue(inputs, 'relay');
  const listen = listenValue(inputs, 'relay', undefined);
  const allow = optionalList(inputs, 'allow').map(([g, v, i]) => pinValue(g, 'allow', v, i));
  const allowAny = optionalBoolean(inputs, 'allow_any') ?? false;
  if (allow.length === 0 && !allowAny) {
    throw new TunnelError(
      'config',
      'relay would serve nobody: give client pins with --allow PIN (or `allow` in the config file), ' +
        'or --allow-any to serve every key',
    );
  }
  const advertise = optionalString(inputs, 'advertise');
  return {
    keyPath,
    listen,
    ...(advertise === undefined ? {} : { advertise: hostValue(inputs.get('advertise')!, advertise) }),
    allow: [...new Set(allow)],
    allowAny,
    exitRules: optionalList(inputs, 'exit').map(([g, v, i]) => exitRuleValue(g, v, i)),
    logLevel: logLevelValue(inputs),
    limits: limitsValue(inputs),
  };
}

/**
 * Validates client inputs into settings. `listen` defaults to 127.0.0.1:1080.
 * Throws TunnelError('config') naming the origin and the reason: unknown key, missing key/via, a bad
 * value, or a route longer than limits.path_length_max.
 */
export function validateClient(inputs: Inputs): ClientSettings {
  checkKnownKeys(inputs, 'client');
  const keyPath = keyPathValue(inputs, 'client');
  const limits = limitsValue(inputs);
  const via: ShareString[] = [];
  for (const [g, v, i] of optionalList(inputs, 'via')) {
    if (typeof v !== 'string') throw bad(g, 'via', i, 'must be a share string (ett://PIN@HOST:PORT)');
    // One string may hold a whole route, comma-separated, as --via does.
    for (const part of v.split(',')) {
      try {
        via.push(parseShareString(part.trim()));
      } catch (err) {
        throw bad(g, 'via', i, reasonOf(err));
      }
    }
  }
  if (via.length === 0) throw missing('via', 'SHARE-STRING');
  if (via.length > limits.pathLengthMax) {
    const g = inputs.get('via')!;
    throw bad(
      g,
      'via',
      undefined,
      `${via.length} relays; at most ${limits.pathLengthMax} (limits.path_length_max)`,
    );
  }
  const socksUsers = socksUsersValue(inputs);
  return {
    keyPath,
    listen: listenValue(inputs, 'client', DEFAULT_CLIENT_LISTEN),
    via,
    ...(socksUsers === undefined ? {} : { socksUsers }),
    logLevel: logLevelValue(inputs),
    limits,
  };
}

/**
 * Validates the quick start's few settings (`ett up` takes flags only). `listen` defaults to
 * 127.0.0.1:1080. Throws TunnelError('config') naming the flag and the reason.
 */
export function validateUp(inputs: Inputs): { readonly listen: Target; readonly logLevel: LogLevel } {
  checkKnownKeys(inputs, 'up');
  return { listen: listenValue(inputs, 'up', DEFAULT_CLIENT_LISTEN), logLevel: logLevelValue(inputs) };
}

// ---- per-key validation -------------------------------------------------------------------------

function checkKnownKeys(inputs: Inputs, role: Role): void {
  for (const [key, g] of inputs) {
    if (!KEYS[role].includes(key))
      throw bad(g, key, undefined, `unknown key for ${role} (known: ${KEYS[role].join(', ')})`);
  }
}

/** The key file path; a relative path in a config file is relative to that file's directory. */
function keyPathValue(inputs: Inputs, role: Role): string {
  const g = inputs.get('key');
  if (g === undefined) throw missing('key', 'FILE', role);
  if (typeof g.value !== 'string' || g.value === '') throw bad(g, 'key', undefined, 'must be a file path');
  // Kept relative where it was relative (joined, not resolved), so messages show a path the user can
  // type from where they ran ett.
  if (g.origin.kind === 'flag' || isAbsolute(g.value)) return g.value;
  return join(dirname(g.origin.file), g.value);
}

function listenValue(inputs: Inputs, role: Role, fallback: Target | undefined): Target {
  const g = inputs.get('listen');
  if (g === undefined) {
    if (fallback !== undefined) return fallback;
    throw missing('listen', 'HOST:PORT', role);
  }
  if (typeof g.value !== 'string') throw bad(g, 'listen', undefined, 'must be a string "HOST:PORT"');
  const t = parseListen(g.value);
  if (typeof t === 'string') throw bad(g, 'listen', undefined, `${JSON.stringify(g.value)}: ${t}`);
  return t;
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

/** A host to advertise in the share string: a name or an address (IPv6 bare or in []), no port. */
function hostValue(g: Given, text: string): string {
  const host = /^\[[^\]]+\]$/.test(text) ? text.slice(1, -1) : text;
  if (host === '' || /[\s/@[\]]/.test(host))
    throw bad(g, 'advertise', undefined, 'must be a host name or address');
  // A colon is fine only inside an IPv6 address (at least two colons, hex digits and dots only).
  const v6 = /^[0-9a-fA-F:.]+$/.test(host) && host.split(':').length > 2;
  if (host.includes(':') && !v6) {
    throw bad(g, 'advertise', undefined, 'must be a host without a port (the listen port is advertised)');
  }
  return host;
}

function pinValue(g: Given, key: string, v: unknown, i: number | undefined): string {
  if (typeof v !== 'string') throw bad(g, key, i, 'must be a pin (base64 of SHA-256, as `ett pin` prints)');
  try {
    return normalizePin(v);
  } catch (err) {
    throw bad(g, key, i, reasonOf(err));
  }
}

function exitRuleValue(g: Given, v: unknown, i: number | undefined): ExitRule {
  if (typeof v !== 'string') throw bad(g, 'exit', i, 'must be a rule string such as "accept 10.0.0.0/8:443"');
  try {
    return parseExitRule(v);
  } catch (err) {
    // A rule is no secret; echo it so the user sees which one, whatever its position. The parser's
    // message may already start with the rule; keep only its reason so the rule appears once.
    const prefix = `exit policy rule ${JSON.stringify(v)}: `;
    const message = reasonOf(err);
    const reason = message.startsWith(prefix) ? message.slice(prefix.length) : message;
    throw bad(g, 'exit', i, `${JSON.stringify(v)}: ${reason}`);
  }
}

function logLevelValue(inputs: Inputs): LogLevel {
  const v = optionalString(inputs, 'log_level');
  if (v === undefined) return 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(v)) {
    throw bad(
      inputs.get('log_level')!,
      'log_level',
      undefined,
      `${JSON.stringify(v)}: must be one of ${LOG_LEVELS.join(', ')}`,
    );
  }
  return v as LogLevel;
}

const SNAKE_TO_LIMIT = new Map(
  LIMIT_NAMES.map((n) => [n.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase()), n]),
);
/** Limits whose 0 has a meaning ("disabled"); every other limit must be positive. */
const ZERO_ALLOWED = new Set<keyof Limits>(['streamIdleTimeoutMs']);

/** The `[limits]` table: integers only (TOML floats refused), known names only. */
function limitsValue(inputs: Inputs): Limits {
  const g = inputs.get('limits');
  if (g === undefined) return DEFAULT_LIMITS;
  if (!isTable(g.value)) throw bad(g, 'limits', undefined, 'must be a table');
  const out: Record<string, number> = { ...DEFAULT_LIMITS };
  for (const [snake, v] of Object.entries(g.value)) {
    const name = SNAKE_TO_LIMIT.get(snake);
    const path = `limits.${snake}`;
    if (name === undefined)
      throw bad(g, path, undefined, `unknown limit (known: ${[...SNAKE_TO_LIMIT.keys()].join(', ')})`);
    // The file loader reads TOML integers as bigint, so a float such as 1.5 or 1e3 fails here.
    const n = typeof v === 'bigint' ? v : undefined;
    const min = ZERO_ALLOWED.has(name) ? 0n : 1n;
    if (n === undefined || n < min || n > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw bad(g, path, undefined, `must be ${min === 0n ? 'a non-negative' : 'a positive'} integer`);
    }
    out[name] = Number(n);
  }
  return Object.freeze(out as unknown as Limits);
}

/** `[socks_users]`: username = "password", both 1..255 bytes (RFC 1929). Passwords are never echoed. */
function socksUsersValue(inputs: Inputs): ReadonlyMap<string, string> | undefined {
  const g = inputs.get('socks_users');
  if (g === undefined) return undefined;
  if (!isTable(g.value)) throw bad(g, 'socks_users', undefined, 'must be a table of username = "password"');
  const users = new Map<string, string>();
  for (const [name, pw] of Object.entries(g.value)) {
    const path = `socks_users.${name}`;
    const nameLen = Buffer.byteLength(name);
    if (nameLen < 1 || nameLen > 255)
      throw bad(g, 'socks_users', undefined, 'usernames must be 1..255 bytes');
    if (typeof pw !== 'string') throw bad(g, path, undefined, 'password must be a string');
    const pwLen = Buffer.byteLength(pw);
    if (pwLen < 1 || pwLen > 255) throw bad(g, path, undefined, 'password must be 1..255 bytes');
    users.set(name, pw);
  }
  return users.size === 0 ? undefined : users;
}

// ---- shapes -------------------------------------------------------------------------------------

function optionalString(inputs: Inputs, key: string): string | undefined {
  const g = inputs.get(key);
  if (g === undefined) return undefined;
  if (typeof g.value !== 'string') throw bad(g, key, undefined, 'must be a string');
  return g.value;
}

function optionalBoolean(inputs: Inputs, key: string): boolean | undefined {
  const g = inputs.get(key);
  if (g === undefined) return undefined;
  if (typeof g.value !== 'boolean') throw bad(g, key, undefined, 'must be true or false');
  return g.value;
}

/** A list value as [given, element, index]; a single value counts as a list of one (index undefined). */
function optionalList(inputs: Inputs, key: string): [Given, unknown, number | undefined][] {
  const g = inputs.get(key);
  if (g === undefined) return [];
  if (Array.isArray(g.value)) return g.value.map((v, i) => [g, v, i]);
  return [[g, g.value, undefined]];
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

// ---- errors -------------------------------------------------------------------------------------

/** The name of a setting where the user wrote it: `file: exit[2]`, or `--exit #3` for a flag. */
export function where(g: Given, keyPath: string, index?: number): string {
  if (g.origin.kind === 'file')
    return `${g.origin.file}: ${keyPath}${index === undefined ? '' : `[${index}]`}`;
  const flag = '--' + keyPath.split('.')[0]!.replace(/_/g, '-');
  const many = Array.isArray(g.value) && g.value.length > 1;
  return many && index !== undefined ? `${flag} #${index + 1}` : flag;
}

function bad(g: Given, keyPath: string, index: number | undefined, reason: string): TunnelError {
  return new TunnelError('config', `${where(g, keyPath, index)}: ${reason}`);
}

function missing(key: string, metavar: string, role?: Role): TunnelError {
  const flag = '--' + key.replace(/_/g, '-');
  const forRole = role === undefined ? '' : ` for ${role}`;
  return new TunnelError('config', `missing ${flag} ${metavar}${forRole} (or \`${key}\` in the config file)`);
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
