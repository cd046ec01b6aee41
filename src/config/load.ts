// Reading settings: a TOML config file and command-line flags each become `Inputs`; flags override the
// file key by key; schema.ts validates the merge; then the key file is loaded into an identity. The
// order matters: every setting is validated before the key file is touched, so a typo is reported as
// a typo, not as whatever the key loading would have said.

import { readFile } from 'node:fs/promises';
import { parse as parseToml, TomlError } from 'smol-toml';

import type { ClientOptions } from '../client/options.js';
import type { Limits } from '../limits.js';
import { TunnelError } from '../errors.js';
import { loadIdentity, type Identity } from '../identity/identity.js';
import { createLogger, logWriter, type Logger } from '../log.js';
import type { RelayOptions } from '../relay/options.js';
import type { AllowEntry } from '../relay/allow-file.js';
import { RelayState } from '../relay/state.js';
import type { Given, Inputs } from './inputs.js';
import { routingTable } from './routing.js';
import {
  KEYS,
  mergeInputs,
  validateClient,
  validateClientExceptKey,
  validateRelay,
  type ClientSettings,
  type RelaySettings,
  type Role,
} from './schema.js';

/**
 * Parses TOML text into Inputs whose origin is `file` (used in every error message). Integers are
 * read as bigint so that the validator can tell `3` from `3.0`; keys such as `__proto__` are refused.
 * Throws TunnelError('config') naming the file, line and column. The offending line itself is not
 * quoted: it may hold a password.
 */
export function parseConfigText(text: string, file: string): Inputs {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text, { integersAsBigInt: true, unsafeKeyBehaviour: 'throw' });
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = (err.message.split('\n')[0] ?? '').replace(/^Invalid TOML document: /, '');
      throw new TunnelError(
        'config',
        `${file}: line ${err.line}, column ${err.column}: invalid TOML: ${reason}`,
      );
    }
    throw new TunnelError('config', `${file}: invalid TOML`, { cause: err });
  }
  const inputs = new Map<string, Given>();
  for (const [key, value] of Object.entries(doc)) inputs.set(key, { value, origin: { kind: 'file', file } });
  return inputs;
}

/**
 * Reads and parses a config file.
 * Rejects with TunnelError('config') naming the file: missing, unreadable, or not valid TOML.
 */
export async function readConfigFile(file: string): Promise<Inputs> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const errno = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
    const reason =
      errno === 'ENOENT' ? 'no such file' : errno === 'EACCES' ? 'permission denied' : String(err);
    throw new TunnelError('config', `${file}: cannot read config file: ${reason}`, { cause: err });
  }
  return parseConfigText(text, file);
}

// Flags whose config-file key is not their snake_case name: `--forward` (one) fills `forwards`.
const FLAG_KEYS: Readonly<Record<string, string>> = { forward: 'forwards' };

/**
 * Command-line values (as node:util parseArgs returns them, flag names in kebab-case) as Inputs in
 * config-file names. Flags left out are absent, so the file's value (or the default) stands. `skip`
 * names flags that are not settings (`config`, `help`). Never throws.
 */
export function flagInputs(
  values: Record<string, unknown>,
  skip: readonly string[] = ['config', 'help', 'role'],
): Inputs {
  const inputs = new Map<string, Given>();
  for (const [flag, value] of Object.entries(values)) {
    if (value === undefined || skip.includes(flag)) continue;
    const renamed = Object.hasOwn(FLAG_KEYS, flag) ? FLAG_KEYS[flag] : undefined;
    if (renamed === undefined) inputs.set(flag.replace(/-/g, '_'), { value, origin: { kind: 'flag' } });
    else inputs.set(renamed, { value, origin: { kind: 'flag', flag } });
  }
  return inputs;
}

// Keys only a relay takes; a file holding one is a relay's. Every other file is read as a client's.
const RELAY_ONLY = KEYS.relay.filter((k) => !KEYS.client.includes(k));

/** The role a config file is for, by its keys (see RELAY_ONLY). Never throws. */
export function inferRole(inputs: Inputs): Exclude<Role, 'up'> {
  return [...inputs.keys()].some((k) => RELAY_ONLY.includes(k)) ? 'relay' : 'client';
}

/** Flags merged over the config file (if any), merged over defaults. Rejects as readConfigFile does. */
async function gather(flags: Inputs, configFile: string | undefined, defaults?: Inputs): Promise<Inputs> {
  const file = configFile === undefined ? new Map<string, Given>() : await readConfigFile(configFile);
  return mergeInputs(defaults === undefined ? file : mergeInputs(defaults, file), flags);
}

/**
 * Relay settings from flags and an optional config file.
 * Rejects with TunnelError('config') naming the file/flag, key and reason.
 */
export async function loadRelaySettings(flags: Inputs, configFile?: string): Promise<RelaySettings> {
  const s = validateRelay(await gather(flags, configFile));
  if (s.allowFile === undefined) return s;
  const where = configFile === undefined ? '--allow-file' : `${configFile}: allow_file`;
  let joined: AllowEntry[];
  try {
    joined = await new RelayState(s.allowFile).allowed();
  } catch (err) {
    throw new TunnelError('config', `${where}: ${(err as Error).message}`, { cause: err });
  }
  return { ...s, joined: joined.map((e) => e.pin) };
}

/**
 * Client settings from flags and an optional config file; `defaults` stand where neither gives a key
 * (`ett run` is quieter than a client of its own). Rejects with TunnelError('config') naming the
 * file/flag, key and reason.
 */
export async function loadClientSettings(
  flags: Inputs,
  configFile?: string,
  defaults?: Inputs,
): Promise<ClientSettings> {
  return validateClient(await gather(flags, configFile, defaults));
}

/**
 * Client settings for a dry run (`ett explain`): as loadClientSettings, but no key is needed.
 * Rejects with TunnelError('config') naming the file/flag, key and reason.
 */
export async function loadClientRouting(
  flags: Inputs,
  configFile?: string,
): Promise<Omit<ClientSettings, 'keyPath'>> {
  return validateClientExceptKey(await gather(flags, configFile));
}

/**
 * A mutable copy of limits: the one object a daemon's parts share, so that a reload can change the live
 * limits in place (config/changes.ts). Never throws.
 */
export function liveLimits(limits: Limits): Limits {
  return { ...limits };
}

/**
 * The options `startRelay` takes: loads the key file named by the settings.
 * Rejects with TunnelError('config') if the key file is missing, too open, or not a usable key.
 */
export async function relayOptionsFrom(
  s: RelaySettings,
  log: Logger = createLogger(s.logLevel, logWriter(s.observe.logFormat)),
): Promise<RelayOptions> {
  const identity = await keyOf(s);
  return {
    identity,
    listen: s.listen,
    ...(s.advertise === undefined ? {} : { advertise: s.advertise }),
    allow: [...new Set([...s.allow, ...s.joined])],
    allowAny: s.allowAny,
    exitRules: s.exitRules,
    publish: s.publish,
    limits: s.limits,
    log,
  };
}

/**
 * Loads the key files of relays given their own (`relays.NAME.key`) into their hops: at start, so a
 * missing or too-open file stops the start (exit 2) rather than the first connection, and at a reload,
 * which it refuses. The hop objects are shared by every route that names the relay.
 * Rejects with TunnelError('config') naming the file.
 */
export async function loadHopKeys(s: Pick<ClientSettings, 'routing'>): Promise<void> {
  const loaded = new Map<string, Identity>();
  for (const [hop, file] of s.routing.hopKeyFiles) {
    let id = loaded.get(file);
    if (id === undefined) {
      id = await loadIdentity(file);
      loaded.set(file, id);
    }
    (hop as { clientKey?: Identity }).clientKey = id;
  }
}

/**
 * The options `startClient` takes: loads the key file named by the settings.
 * Rejects with TunnelError('config') if the key file is missing, too open, or not a usable key.
 */
export async function clientOptionsFrom(
  s: ClientSettings,
  log: Logger = createLogger(s.logLevel, logWriter(s.observe.logFormat)),
): Promise<ClientOptions> {
  const identity = await keyOf(s);
  await loadHopKeys(s);
  return {
    identity,
    listen: s.listen,
    routing: routingTable(s.routing),
    forwards: s.routing.forwards,
    publish: s.routing.publish,
    ...(s.socksUsers === undefined ? {} : { socksUsers: s.socksUsers }),
    pac: s.pac,
    limits: s.limits,
    log,
  };
}

/**
 * The key file of the settings, its failure prefixed by where it was named (`client.toml: key: FILE:
 * no such file or directory`), as README says of every configuration error. Rejects with that
 * TunnelError('config').
 */
export async function keyOf(s: { keyPath: string; keyWhere?: string }): Promise<Identity> {
  try {
    return await loadIdentity(s.keyPath);
  } catch (err) {
    if (s.keyWhere === undefined || !(err instanceof TunnelError)) throw err;
    throw new TunnelError(err.code, `${s.keyWhere}: ${err.message}`, { cause: err });
  }
}
