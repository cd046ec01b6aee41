// The effective configuration as TOML, for `ett check-config`: every setting as it will take effect
// (defaults filled in, flags applied, names resolved), in the file's own syntax so that it can be read
// back. Secrets are redacted: SOCKS passwords print as "<redacted>". Share strings and pins are not
// secrets (a pin is a hash of a public key) and print in full. Pure.

import { describeAction, type Action, type Route } from '../client/rules.js';
import { DEFAULT_ISOLATE } from '../client/isolation.js';
import { LIMIT_NAMES, type Limits } from '../limits.js';
import { formatTarget } from '../wire/address.js';
import { formatShareString, type ShareString } from '../wire/share-string.js';
import { showObserve } from './observe.js';
import { formatCidr, formatHostPattern, formatPortRange } from './values.js';
import type { ClientSettings, RelaySettings } from './schema.js';

export const REDACTED = '<redacted>';

/** A client's settings as TOML; `pin` is the key's, when it was loaded. Never throws. */
export function showClient(s: ClientSettings, pin?: string): string {
  const r = s.routing;
  const names = new Map<ShareString, string>([...r.relays].map(([name, relay]) => [relay, name]));
  const relayList = (route: Route): string =>
    array(route.relays.map((relay) => names.get(relay) ?? formatShareString(relay)));
  const out = [
    '# ett client: the effective configuration (defaults filled in, secrets redacted)',
    `key = ${str(s.keyPath)}${pin === undefined ? '' : `  # pin ${pin}`}`,
    `listen = ${str(formatTarget(s.listen))}`,
    `pac = ${s.pac}${s.pac ? '  # GET /proxy.pac on the listen port' : ''}`,
    ...(s.transparent === undefined ? [] : [`transparent = ${str(formatTarget(s.transparent))}`]),
    ...(s.dns === undefined ? [] : [`dns = ${str(formatTarget(s.dns))}`]),
    `log_level = ${str(s.logLevel)}`,
    ...showObserve(s.observe),
  ];
  if (r.via !== undefined) out.push(`via = ${relayList(r.via)}  # the default: ${describeAction(r.default)}`);
  else out.push(`default = ${str(actionName(r.default))}${comment(r.default)}`);
  out.push(
    `isolate = ${array(r.isolate ?? DEFAULT_ISOLATE)}${r.isolate === undefined ? '  # the default' : ''}`,
    `isolate_per_host = ${r.isolatePerHost}`,
  );
  if (r.relays.size > 0) {
    out.push('', '[relays]');
    for (const [name, relay] of r.relays) {
      const share = str(formatShareString(relay));
      const file = r.hopKeyFiles.get(relay);
      const own = file ?? (relay.clientKey === 'ephemeral' ? 'ephemeral' : undefined);
      out.push(`${key(name)} = ${own === undefined ? share : `{ share = ${share}, key = ${str(own)} }`}`);
    }
  }
  if (r.routes.size > 0) {
    out.push('', '[routes]');
    for (const [name, route] of r.routes) {
      const relays = relayList(route);
      const value = route.isolate ? `{ relays = ${relays}, isolate = ${array(route.isolate)} }` : relays;
      out.push(`${key(name)} = ${value}  # ${describeAction({ kind: 'route', route })}`);
    }
  }
  if (r.groups.size > 0) {
    out.push('', '[groups]');
    for (const [name, group] of r.groups) {
      const members = array(group.members.map((m) => m.name));
      out.push(
        `${key(name)} = ${group.isolate ? `{ members = ${members}, isolate = ${array(group.isolate)} }` : members}`,
      );
    }
  }
  for (const rule of r.rules) {
    out.push('', `[[rules]]  # ${rule.text}`);
    if (rule.hosts) out.push(`host = ${oneOrArray(rule.hosts.map(formatHostPattern))}`);
    if (rule.cidrs) out.push(`cidr = ${oneOrArray(rule.cidrs.map(formatCidr))}`);
    if (rule.ports) {
      const ports = rule.ports.map((p) => (p.low === p.high ? `${p.low}` : str(formatPortRange(p))));
      out.push(`port = ${ports.length === 1 ? ports[0] : `[${ports.join(', ')}]`}`);
    }
    out.push(`action = ${str(actionName(rule.action))}${comment(rule.action)}`);
    if (rule.isolate) out.push(`isolate = ${array(rule.isolate)}`);
  }
  for (const f of r.forwards) {
    out.push(
      '',
      '[[forwards]]',
      `listen = ${str(formatTarget(f.listen))}`,
      `to = ${str(formatTarget(f.to))}`,
    );
    // The `via` route has no name to write: a forward left to it says so in a comment.
    if (f.action.kind === 'route' && f.action.route === r.via)
      out.push(`# via: the default, ${describeAction(f.action)}`);
    else out.push(`via = ${str(actionName(f.action))}${comment(f.action)}`);
  }
  for (const p of r.publish) {
    out.push('', '[[publish]]', `remote = ${str(formatTarget(p.remote))}`, `to = ${str(formatTarget(p.to))}`);
    const action = { kind: 'route' as const, route: p.route };
    if (p.route === r.via) out.push(`# via: the default, ${describeAction(action)}`);
    else out.push(`via = ${str(actionName(action))}${comment(action)}`);
  }
  if (s.socksUsers !== undefined) {
    out.push('', '[socks_users]');
    for (const user of s.socksUsers.keys()) out.push(`${key(user)} = ${str(REDACTED)}`);
  }
  out.push('', ...limitsTable(s.limits));
  return out.join('\n') + '\n';
}

/** A relay's settings as TOML; `pin` is the key's, when it was loaded. Never throws. */
export function showRelay(s: RelaySettings, pin?: string): string {
  const out = [
    '# ett relay: the effective configuration (defaults filled in)',
    `key = ${str(s.keyPath)}${pin === undefined ? '' : `  # pin ${pin}`}`,
    `listen = ${str(formatTarget(s.listen))}`,
  ];
  if (s.advertise !== undefined) out.push(`advertise = ${str(s.advertise)}`);
  out.push(`allow = ${array(s.allow)}`, `allow_any = ${s.allowAny}`);
  if (s.allowFile !== undefined)
    out.push(`allow_file = ${str(s.allowFile)}  # ${s.joined.length} key(s) joined`);
  if (s.exitRules.length === 0) out.push('exit = []  # only the defaults (see README, "The exit policy")');
  else out.push('exit = [', ...s.exitRules.map((e) => `  ${str(e.text)},`), ']  # then the defaults');
  if (s.publish.length === 0) out.push('publish = []  # no client key may publish a port');
  else out.push('publish = [', ...s.publish.map((p) => `  ${str(p.text)},`), ']');
  out.push(`log_level = ${str(s.logLevel)}`, ...showObserve(s.observe), '', ...limitsTable(s.limits));
  return out.join('\n') + '\n';
}

function limitsTable(limits: Limits): string[] {
  return [
    '[limits]',
    ...LIMIT_NAMES.map((n) => `${n.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())} = ${limits[n]}`),
  ];
}

/** The path an action names, hop by hop, as a trailing comment (none for direct and block). */
function comment(a: Action): string {
  return a.kind === 'direct' || a.kind === 'block' ? '' : `  # ${describeAction(a)}`;
}

/** The name an action is written as in a config file. */
function actionName(a: Action): string {
  switch (a.kind) {
    case 'direct':
    case 'block':
      return a.kind;
    case 'route':
      return a.route.name;
    case 'group':
      return a.name;
  }
}

/** A TOML basic string: JSON's escapes are TOML's, except that TOML also refuses a raw DEL. */
function str(text: string): string {
  return JSON.stringify(text).replace(/\x7f/g, '\\u007F');
}

function key(name: string): string {
  return /^[A-Za-z0-9_-]+$/.test(name) ? name : str(name);
}

function array(items: readonly string[]): string {
  return `[${items.map(str).join(', ')}]`;
}

function oneOrArray(items: readonly string[]): string {
  return items.length === 1 ? str(items[0]!) : array(items);
}
