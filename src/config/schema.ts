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
import { parsePublishRule, type PublishRule } from '../relay/publish-policy.js';
import type { Target } from '../wire/address.js';
import { normalizePin } from '../wire/share-string.js';
import {
  bad,
  isTable,
  missing,
  optionalBoolean,
  optionalList,
  optionalString,
  parseListen,
  reasonOf,
  where,
  type Given,
  type Inputs,
} from './inputs.js';
import { OBSERVE_KEYS, observeValue, type ObserveSettings } from './observe.js';
import { validateRouting, type RoutingSettings } from './routing.js';

export { parseListen, where, type Given, type Inputs, type Origin } from './inputs.js';

export type Role = 'relay' | 'client' | 'up';

/** Top-level keys each role accepts; anything else in a file is an error. */
export const KEYS: Readonly<Record<Role, readonly string[]>> = {
  relay: [
    'key',
    'listen',
    'advertise',
    'allow',
    'allow_any',
    'allow_file',
    'exit',
    'publish',
    'log_level',
    'limits',
    ...OBSERVE_KEYS,
  ],
  client: [
    'key',
    'listen',
    'via',
    'default',
    'relays',
    'routes',
    'groups',
    'rules',
    'forwards',
    'publish',
    'log_level',
    'limits',
    'socks_users',
    'pac',
    'transparent',
    'dns',
    'isolate',
    'isolate_per_host',
    ...OBSERVE_KEYS,
  ],
  up: ['listen', 'log_level', ...OBSERVE_KEYS],
};

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

/** The client's mixed port when none is given (design.md §6). */
export const DEFAULT_CLIENT_LISTEN: Target = { host: '127.0.0.1', port: 1080 };

export interface RelaySettings {
  /** The key file: as given for a flag; for a config file, relative to that file's directory. */
  readonly keyPath: string;
  /** Where the key was given, for a key file's error: `relay.toml: key` or `--key`. */
  readonly keyWhere?: string;
  readonly listen: Target;
  readonly advertise?: string;
  readonly allow: readonly string[];
  readonly allowAny: boolean;
  /** The allow file of keys that joined with an invite (its invites store beside it); invites on. */
  readonly allowFile?: string;
  /** The pins in the allow file when it was read (load.ts fills it in; validateRelay leaves it empty). */
  readonly joined: readonly string[];
  readonly exitRules: readonly ExitRule[];
  /** Who may publish which ports here (`publish = ["PIN ports LOW-HIGH [on ADDR]"]`, §20); default none. */
  readonly publish: readonly PublishRule[];
  readonly logLevel: LogLevel;
  readonly limits: Limits;
  /** control, metrics, log_format (config/observe.ts). */
  readonly observe: ObserveSettings;
}

export interface ClientSettings {
  readonly keyPath: string;
  /** Where the key was given, for a key file's error: `client.toml: key` or `--key`. */
  readonly keyWhere?: string;
  readonly listen: Target;
  /** Rules and default (a RoutingTable), the forwards, and the names they were built from. */
  readonly routing: RoutingSettings;
  readonly socksUsers?: ReadonlyMap<string, string>;
  /** Serve the PAC file (GET /proxy.pac) on the listen port; default true. */
  readonly pac: boolean;
  /** The transparent port (connections the kernel redirected; host `localhost`: both loopbacks). */
  readonly transparent?: Target;
  /** The DNS port (UDP and TCP), answering from the name table the transparent port reads. */
  readonly dns?: Target;
  readonly logLevel: LogLevel;
  readonly limits: Limits;
  /** control, metrics, log_format (config/observe.ts). */
  readonly observe: ObserveSettings;
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
  const allowFile = filePathValue(inputs, 'allow_file');
  if (allow.length === 0 && !allowAny && allowFile === undefined) {
    throw new TunnelError(
      'config',
      'relay would serve nobody: give client pins with --allow PIN (or `allow` in the config file), ' +
        '--allow-file FILE for keys that join with an invite, or --allow-any to serve every key',
    );
  }
  const advertise = optionalString(inputs, 'advertise');
  return {
    keyPath,
    keyWhere: where(inputs.get('key')!, 'key'),
    listen,
    ...(advertise === undefined ? {} : { advertise: hostValue(inputs.get('advertise')!, advertise) }),
    allow: [...new Set(allow)],
    allowAny,
    ...(allowFile === undefined ? {} : { allowFile }),
    joined: [],
    exitRules: optionalList(inputs, 'exit').map(([g, v, i]) => exitRuleValue(g, v, i)),
    publish: optionalList(inputs, 'publish').map(([g, v, i]) => publishRuleValue(g, v, i)),
    logLevel: logLevelValue(inputs),
    limits: limitsValue(inputs),
    observe: observeValue(inputs),
  };
}

/**
 * Validates client inputs into settings. `listen` defaults to 127.0.0.1:1080.
 * Throws TunnelError('config') naming the origin and the reason: unknown key, missing key, a bad
 * value, or a routing mistake (see routing.ts validateRouting).
 */
export function validateClient(inputs: Inputs): ClientSettings {
  checkKnownKeys(inputs, 'client');
  const keyPath = keyPathValue(inputs, 'client');
  return { keyPath, keyWhere: where(inputs.get('key')!, 'key'), ...validateClientExceptKey(inputs) };
}

/**
 * As validateClient, but the key is neither required nor checked: for `ett explain`, a dry run that
 * needs no identity. Throws as validateClient does.
 */
export function validateClientExceptKey(inputs: Inputs): Omit<ClientSettings, 'keyPath'> {
  checkKnownKeys(inputs, 'client');
  const limits = limitsValue(inputs);
  const listen = listenValue(inputs, 'client', DEFAULT_CLIENT_LISTEN);
  const routing = validateRouting(inputs, limits, listen);
  const socksUsers = socksUsersValue(inputs);
  const transparent = optionalListen(inputs, 'transparent');
  const dns = optionalListen(inputs, 'dns');
  return {
    listen,
    routing,
    ...(socksUsers === undefined ? {} : { socksUsers }),
    pac: optionalBoolean(inputs, 'pac') ?? true,
    ...(transparent === undefined ? {} : { transparent }),
    ...(dns === undefined ? {} : { dns }),
    logLevel: logLevelValue(inputs),
    limits,
    observe: observeValue(inputs),
  };
}

/**
 * Validates the quick start's few settings (`ett up` takes flags only). `listen` defaults to
 * 127.0.0.1:1080. Throws TunnelError('config') naming the flag and the reason.
 */
export function validateUp(inputs: Inputs): {
  readonly listen: Target;
  readonly logLevel: LogLevel;
  readonly observe: ObserveSettings;
} {
  checkKnownKeys(inputs, 'up');
  return {
    listen: listenValue(inputs, 'up', DEFAULT_CLIENT_LISTEN),
    logLevel: logLevelValue(inputs),
    observe: observeValue(inputs),
  };
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

/** An optional file path; relative in a config file means relative to that file's directory. */
function filePathValue(inputs: Inputs, key: string): string | undefined {
  const g = inputs.get(key);
  if (g === undefined) return undefined;
  if (typeof g.value !== 'string' || g.value === '') throw bad(g, key, undefined, 'must be a file path');
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

/** An optional HOST:PORT to listen on (the transparent and DNS ports). */
function optionalListen(inputs: Inputs, key: string): Target | undefined {
  const g = inputs.get(key);
  if (g === undefined) return undefined;
  if (typeof g.value !== 'string') throw bad(g, key, undefined, 'must be a string "HOST:PORT"');
  const t = parseListen(g.value);
  if (typeof t === 'string') throw bad(g, key, undefined, `${JSON.stringify(g.value)}: ${t}`);
  return t;
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

function publishRuleValue(g: Given, v: unknown, i: number | undefined): PublishRule {
  if (typeof v !== 'string')
    throw bad(g, 'publish', i, 'must be a rule string such as "PIN ports 8000-8100 [on ADDR]"');
  try {
    return parsePublishRule(v);
  } catch (err) {
    // Not echoed: the rule holds a pin.
    throw bad(g, 'publish', i, reasonOf(err));
  }
}

/** log_level from the inputs (default info). Throws TunnelError('config') naming its origin if unknown. */
export function logLevelValue(inputs: Inputs): LogLevel {
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
