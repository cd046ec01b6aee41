// What a reload changes: the running settings against the ones just read from the config file. Pure: no
// I/O. The result is the settings to run with from now on (what a reload cannot change in a running
// daemon is kept from the running settings) and one line per change for the log and `ett reload`,
// those that need a restart saying so. Lines name relays, routes and users, never a password or a key.

import type { Forward, Publish } from '../client/options.js';
import type { Action, Route, Rule } from '../client/rules.js';
import type { Hop } from '../circuit/circuit.js';
import type { Limits } from '../limits.js';
import type { PublishRule } from '../relay/publish-policy.js';
import { formatTarget, type Target } from '../wire/address.js';
import { shortPin } from '../wire/share-string.js';
import type { ObserveSettings } from './observe.js';
import type { ClientSettings, RelaySettings } from './schema.js';

/**
 * Limits a running daemon reads each time it uses them, so a new value applies from the next use. The
 * others are built into objects made at start (TLS server options, stream windows, timers, the HTTP
 * parser's header limit): changing them needs a restart.
 */
export const LIVE_LIMITS: readonly (keyof Limits)[] = [
  'handshakesInFlight',
  'handshakesPerSource',
  'linksMax',
  'linksPerClient',
  'exitSocketsPerClient',
  'streamsPerLink',
  'connectTimeoutMs',
  'openTimeoutMs',
  'requestHeadTimeoutMs',
  'shutdownGraceMs',
  'pathLengthMax',
  'reconnectAttemptsMax',
  'healthCheckIntervalMs',
  'controlConnectionsMax',
  'controlLineMax',
  'controlIdleTimeoutMs',
  'statusStreamsMax',
  'udpDatagramsPerSecond',
  'udpBytesInFlight',
  'udpAssociationsPerClient',
  'joinFailuresPerSource',
  'joinFailureWindowMs',
  'publishPortsPerClient',
  'publishConnectionsPerPort',
];

export interface Changes<S> {
  /** The settings to run with: the new ones, except what needs a restart, kept from the running ones. */
  readonly settings: S;
  /** One line per change, in the order of the config file's sections. Empty: nothing changed. */
  readonly lines: string[];
}

/** Relay settings: allow list, allow_any, exit policy, log level and live limits apply. Never throws. */
export function relayChanges(old: RelaySettings, next: RelaySettings): Changes<RelaySettings> {
  const lines: string[] = [];
  const restart = restartOnly(old, next, lines);
  if (old.advertise !== next.advertise) {
    lines.push(
      `advertise: ${old.advertise ?? '(none)'} -> ${next.advertise ?? '(none)'} needs a restart (kept)`,
    );
  }
  setLines(
    lines,
    old.allow.map((p) => shortPin(p)),
    next.allow.map((p) => shortPin(p)),
    'allow: added client',
    'allow: removed client',
  );
  setLines(
    lines,
    old.joined.map((p) => shortPin(p)),
    next.joined.map((p) => shortPin(p)),
    'allow_file: added client',
    'allow_file: removed client',
  );
  if (old.allowFile !== next.allowFile) {
    lines.push(
      `allow_file: ${old.allowFile ?? '(none)'} -> ${next.allowFile ?? '(none)'} needs a restart (kept)`,
    );
  }
  if (old.allowAny !== next.allowAny) lines.push(`allow_any: ${old.allowAny} -> ${next.allowAny}`);
  listLines(
    lines,
    old.exitRules.map((r) => r.text),
    next.exitRules.map((r) => r.text),
    'exit policy',
  );
  listLines(
    lines,
    old.publish.map(describePublishRule),
    next.publish.map(describePublishRule),
    'publish rules',
  );
  const limits = limitLines(old.limits, next.limits, lines);
  if (old.logLevel !== next.logLevel) lines.push(`log_level: ${old.logLevel} -> ${next.logLevel}`);
  // The share string was printed at start: `advertise` stays as it was (absent stays absent).
  // The allow file's path too (the invites store is opened at start); its contents apply.
  const { advertise: _ignored, allowFile: _kept, ...rest } = next;
  const advertise = old.advertise === undefined ? {} : { advertise: old.advertise };
  const allowFile = old.allowFile === undefined ? {} : { allowFile: old.allowFile };
  return { settings: { ...rest, ...restart, limits, ...advertise, ...allowFile }, lines };
}

/**
 * Client settings: relays, routes, groups, rules, the default, forwards, SOCKS users, log level and live
 * limits apply. Never throws.
 */
export function clientChanges(old: ClientSettings, next: ClientSettings): Changes<ClientSettings> {
  const lines: string[] = [];
  const restart = restartOnly(old, next, lines);
  const o = old.routing;
  const n = next.routing;
  mapLines(lines, 'relay', describeRelays(o.relays, o.hopKeyFiles), describeRelays(n.relays, n.hopKeyFiles));
  mapLines(lines, 'route', describeRoutes(o.routes), describeRoutes(n.routes));
  mapLines(
    lines,
    'group',
    new Map([...o.groups].map(([k, g]) => [k, g.members.map((m) => m.name).join(', ')])),
    new Map([...n.groups].map(([k, g]) => [k, g.members.map((m) => m.name).join(', ')])),
  );
  listLines(lines, o.rules.map(describeRule), n.rules.map(describeRule), 'rules');
  if (actionLabel(o.default) !== actionLabel(n.default)) {
    lines.push(`default: ${actionLabel(o.default)} -> ${actionLabel(n.default)}`);
  }
  mapLines(lines, 'forward', describeForwards(o.forwards), describeForwards(n.forwards));
  mapLines(lines, 'publish', describePublications(o.publish), describePublications(n.publish));
  const isolate = (r: typeof o): string =>
    r.isolate === undefined ? '(default)' : `[${r.isolate.join(', ')}]`;
  if (isolate(o) !== isolate(n)) lines.push(`isolate: ${isolate(o)} -> ${isolate(n)}`);
  if (o.isolatePerHost !== n.isolatePerHost)
    lines.push(`isolate_per_host: ${o.isolatePerHost} -> ${n.isolatePerHost}`);
  socksLines(lines, old.socksUsers, next.socksUsers);
  // The PAC file's rules follow a reload; serving it or not is decided at start.
  if (old.pac !== next.pac) lines.push(`pac: ${old.pac} -> ${next.pac} needs a restart (kept)`);
  // The transparent and DNS ports are bound at start, as listen is.
  for (const key of ['transparent', 'dns'] as const) {
    const [o, n] = [old[key], next[key]].map((t) => (t === undefined ? '(none)' : formatTarget(t)));
    if (o !== n) lines.push(`${key}: ${o} -> ${n} needs a restart (kept)`);
  }
  const limits = limitLines(old.limits, next.limits, lines);
  if (old.logLevel !== next.logLevel) lines.push(`log_level: ${old.logLevel} -> ${next.logLevel}`);
  const ports = {
    ...(old.transparent === undefined ? {} : { transparent: old.transparent }),
    ...(old.dns === undefined ? {} : { dns: old.dns }),
  };
  const { transparent: _t, dns: _d, ...rest } = next;
  return { settings: { ...rest, ...restart, pac: old.pac, ...ports, limits }, lines };
}

/** `direct`, `block`, `route NAME`, `group NAME`. */
export function actionLabel(a: Action): string {
  switch (a.kind) {
    case 'direct':
    case 'block':
      return a.kind;
    case 'route':
      return `route ${a.route.name}`;
    case 'group':
      return `group ${a.name}`;
  }
}

// ---- what only a restart changes ----------------------------------------------------------------

interface RestartOnly {
  readonly keyPath: string;
  readonly listen: Target;
  readonly observe: ObserveSettings;
}

function restartOnly(old: RestartOnly, next: RestartOnly, lines: string[]): RestartOnly {
  if (old.keyPath !== next.keyPath)
    lines.push(`key: ${old.keyPath} -> ${next.keyPath} needs a restart (kept)`);
  const ol = formatTarget(old.listen);
  const nl = formatTarget(next.listen);
  if (ol !== nl) lines.push(`listen: ${ol} -> ${nl} needs a restart (kept)`);
  const oc = old.observe.control ?? '(default)';
  const nc = next.observe.control ?? '(default)';
  if (oc !== nc) lines.push(`control: ${oc} -> ${nc} needs a restart (kept)`);
  const om = old.observe.metrics ? formatTarget(old.observe.metrics) : '(none)';
  const nm = next.observe.metrics ? formatTarget(next.observe.metrics) : '(none)';
  if (om !== nm) lines.push(`metrics: ${om} -> ${nm} needs a restart (kept)`);
  if (old.observe.logFormat !== next.observe.logFormat) {
    lines.push(`log_format: ${old.observe.logFormat} -> ${next.observe.logFormat} needs a restart (kept)`);
  }
  return { keyPath: old.keyPath, listen: old.listen, observe: old.observe };
}

/** The limits to run with: live ones from next, the rest from old; a line for each that differs. */
function limitLines(old: Limits, next: Limits, lines: string[]): Limits {
  const out: Record<string, number> = { ...old };
  for (const key of Object.keys(old) as (keyof Limits)[]) {
    if (old[key] === next[key]) continue;
    const name = `limits.${snake(key)}`;
    if (LIVE_LIMITS.includes(key)) {
      out[key] = next[key];
      lines.push(`${name}: ${old[key]} -> ${next[key]}`);
    } else {
      lines.push(`${name}: ${old[key]} -> ${next[key]} needs a restart (kept ${old[key]})`);
    }
  }
  return Object.freeze(out) as unknown as Limits;
}

function snake(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

// ---- descriptions -------------------------------------------------------------------------------

function describeRelays(
  relays: ReadonlyMap<string, Hop>,
  keyFiles: ReadonlyMap<Hop, string>,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, hop] of relays) {
    const file = keyFiles.get(hop);
    const key = file !== undefined ? `, key ${file}` : hop.clientKey === 'ephemeral' ? ', ephemeral key' : '';
    out.set(name, `${shortPin(hop.pin)} at ${formatTarget(hop.target)}${key}`);
  }
  return out;
}

function describeRoutes(routes: ReadonlyMap<string, Route>): Map<string, string> {
  return new Map([...routes].map(([name, r]) => [name, r.relays.map((h) => shortPin(h.pin)).join(' > ')]));
}

function describeRule(rule: Rule): string {
  return `${rule.text.replace(/^rules\[\d+\] /, '')} -> ${actionLabel(rule.action)}`;
}

function describeForwards(forwards: readonly Forward[]): Map<string, string> {
  return new Map(
    forwards.map((f) => [formatTarget(f.listen), `-> ${formatTarget(f.to)} via ${actionLabel(f.action)}`]),
  );
}

/** A publication by where the relay listens and through which route; its local end is the value. */
function describePublications(publish: readonly Publish[]): Map<string, string> {
  return new Map(
    publish.map((p) => [`${formatTarget(p.remote)} on route ${p.route.name}`, `-> ${formatTarget(p.to)}`]),
  );
}

/** A publish rule with its pin short, as logs show peers. */
function describePublishRule(r: PublishRule): string {
  return r.text.replace(r.pin, shortPin(r.pin));
}

// ---- diffs ---------------------------------------------------------------------------------------

/** Named things: added, removed, changed (old -> new). */
function mapLines(
  lines: string[],
  what: string,
  old: ReadonlyMap<string, string>,
  next: ReadonlyMap<string, string>,
): void {
  for (const [name, d] of next) {
    const was = old.get(name);
    if (was === undefined) lines.push(`${what} ${name} added: ${d}`);
    else if (was !== d) lines.push(`${what} ${name} changed: ${was} => ${d}`);
  }
  for (const [name, d] of old) if (!next.has(name)) lines.push(`${what} ${name} removed (was ${d})`);
}

/** A set of words: each added or removed one. */
function setLines(lines: string[], old: string[], next: string[], added: string, removed: string): void {
  for (const x of next) if (!old.includes(x)) lines.push(`${added} ${x}`);
  for (const x of old) if (!next.includes(x)) lines.push(`${removed} ${x}`);
}

/** An ordered list (first match wins): each added or removed entry, or that only the order changed. */
function listLines(lines: string[], old: string[], next: string[], what: string): void {
  const before = lines.length;
  for (const x of next) if (!old.includes(x)) lines.push(`${what}: added "${x}"`);
  for (const x of old) if (!next.includes(x)) lines.push(`${what}: removed "${x}"`);
  if (lines.length === before && old.join('\n') !== next.join('\n')) lines.push(`${what}: order changed`);
}

function socksLines(
  lines: string[],
  old: ReadonlyMap<string, string> | undefined,
  next: ReadonlyMap<string, string> | undefined,
): void {
  if (old === undefined && next !== undefined) lines.push('socks_users: a SOCKS login is now required');
  if (old !== undefined && next === undefined) lines.push('socks_users: no SOCKS login required any more');
  const o = old ?? new Map<string, string>();
  const n = next ?? new Map<string, string>();
  for (const [user, pass] of n) {
    if (!o.has(user)) lines.push(`socks user ${user} added`);
    else if (o.get(user) !== pass) lines.push(`socks user ${user}: password changed`);
  }
  for (const user of o.keys()) if (!n.has(user)) lines.push(`socks user ${user} removed`);
}
