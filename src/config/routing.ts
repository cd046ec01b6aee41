// The client's paths, validated: `[relays]`, `[routes]`, `[groups]`, `[[rules]]`, `default` (or its
// shorthand `via`) and `[[forwards]]` become one RoutingTable and a list of forwards. Relays, routes and
// groups share one namespace, and `direct` and `block` are not names.
//
// Every error names where the value was written (`client.toml: routes.chain[1]: …`, `--forward #2: …`)
// and why. A share string is never echoed in an error (it holds a pin); names, patterns and addresses
// are the user's own and are quoted.

import type { Forward, Publish } from '../client/options.js';
import type { Action, Route, Rule, RoutingTable } from '../client/rules.js';
import { TunnelError } from '../errors.js';
import type { Limits } from '../limits.js';
import { formatTarget, parseTarget, type Target } from '../wire/address.js';
import type { Hop } from '../circuit/circuit.js';
import { bad, isTable, parseListen, reasonOf, where, type Given, type Inputs } from './inputs.js';
import type { IsolateBy } from '../client/isolation.js';
import { ANY_ACTION, elements, isolateValue, Names, type GroupAction } from './names.js';
import {
  formatCidr,
  formatHostPattern,
  formatPortRange,
  hostValue,
  parseCidr,
  checkPublish,
  parseForwardSpec,
  parsePortRange,
  parsePublishSpec,
} from './values.js';

export type { GroupAction } from './names.js';

export interface RoutingSettings {
  /** The rules in order, then the default (from `default`, else the `via` route). */
  readonly rules: readonly Rule[];
  readonly default: Action;
  readonly forwards: readonly Forward[];
  /** `[[publish]]` / `--publish`: local services the last relay of a route listens for (§20). */
  readonly publish: readonly Publish[];
  /** What the configuration named, in the order written (for `ett check-config`). */
  readonly relays: ReadonlyMap<string, Hop>;
  /** Relays given their own key file, and the file (loaded at start by load.ts). */
  readonly hopKeyFiles: ReadonlyMap<Hop, string>;
  readonly routes: ReadonlyMap<string, Route>;
  readonly groups: ReadonlyMap<string, GroupAction>;
  /** The `via` route (named "via"), when it is the default. */
  readonly via?: Route;
  /** Top-level `isolate` (stream isolation where nothing more specific says), if given. */
  readonly isolate?: readonly IsolateBy[];
  /** `isolate_per_host` / `--isolate-per-host`. */
  readonly isolatePerHost: boolean;
}

const RULE_KEYS = ['host', 'cidr', 'port', 'action', 'isolate'];
const FORWARD_KEYS = ['listen', 'to', 'via'];
const PUBLISH_KEYS = ['remote', 'to', 'via'];

/**
 * Validates the routing keys of client inputs (`limits` gives path_length_max; `listen` is the mixed
 * port, which no forward may reuse).
 * Throws TunnelError('config') naming the file and key path (or the flag) and the reason: a bad or
 * reserved name, a name used twice, an unknown name, a group inside a group, an empty or too long route
 * or group, a rule without criteria or action, a bad pattern, CIDR or port, a bad forward, or neither
 * `via` nor `default`.
 */
export function validateRouting(inputs: Inputs, limits: Limits, listen: Target): RoutingSettings {
  const names = new Names(limits);
  const relaysGiven = inputs.get('relays');
  if (relaysGiven) names.addRelays(relaysGiven);
  const routesGiven = inputs.get('routes');
  if (routesGiven) names.addRoutes(routesGiven);
  const groupsGiven = inputs.get('groups');
  if (groupsGiven) names.addGroups(groupsGiven);

  const { action: defaultAction, via } = defaultValue(inputs, names);
  const rulesGiven = inputs.get('rules');
  const rules = rulesGiven ? rulesValue(rulesGiven, names) : [];
  const forwardsGiven = inputs.get('forwards');
  const forwards = forwardsGiven ? forwardsValue(forwardsGiven, names, defaultAction, listen) : [];
  const isolateGiven = inputs.get('isolate');
  const isolate = isolateGiven ? isolateValue(isolateGiven, 'isolate', isolateGiven.value) : undefined;
  const perHost = inputs.get('isolate_per_host');
  if (perHost !== undefined && typeof perHost.value !== 'boolean')
    throw bad(perHost, 'isolate_per_host', undefined, 'must be true or false');
  const publishGiven = inputs.get('publish');
  const publish = publishGiven ? publishValue(publishGiven, names, defaultAction) : [];
  return {
    ...(isolate && { isolate }),
    isolatePerHost: perHost?.value === true,
    rules,
    default: defaultAction,
    forwards,
    publish,
    relays: names.relays,
    hopKeyFiles: names.hopKeyFiles,
    routes: names.routes,
    groups: names.groups,
    ...(via === undefined ? {} : { via }),
  };
}

/** The RoutingTable the router follows (rules, default and stream isolation). Never throws. */
export function routingTable(r: RoutingSettings): RoutingTable {
  return {
    rules: r.rules,
    default: r.default,
    ...(r.isolate && { isolate: r.isolate }),
    ...(r.isolatePerHost && { isolatePerHost: true }),
  };
}

// ---- the default --------------------------------------------------------------------------------

/**
 * `default` (an action) or `via` (the relays of the default route). A flag beats the file; both from
 * the same place is an error, since one would silently be unused.
 */
function defaultValue(inputs: Inputs, names: Names): { action: Action; via?: Route } {
  const d = inputs.get('default');
  const v = inputs.get('via');
  if (d !== undefined && v !== undefined && d.origin.kind === v.origin.kind) {
    const reason =
      d.origin.kind === 'flag'
        ? 'give --default or --via, not both'
        : '`default` and `via` both set the default path; keep one (name the relays in [relays] to use them elsewhere)';
    throw bad(d, 'default', undefined, reason);
  }
  // Both are validated even when one is overridden, so check-config reports every mistake.
  const viaRoute = v === undefined ? undefined : { name: 'via', relays: names.relayList(v, 'via', v.value) };
  const defaultAction = d === undefined ? undefined : names.action(d, 'default', undefined, d.value);
  const useVia = viaRoute !== undefined && (defaultAction === undefined || v!.origin.kind === 'flag');
  if (useVia) {
    const route = Object.freeze(viaRoute);
    return { action: Object.freeze({ kind: 'route', route }), via: route };
  }
  if (defaultAction === undefined) {
    // Named by the config file when there is one: that is where the user will add it.
    const file = [...inputs.values()].find((g) => g.origin.kind === 'file')?.origin;
    throw new TunnelError(
      'config',
      file?.kind === 'file'
        ? `${file.file}: missing \`via\` or \`default\` (the path for targets no rule matches), or give --via SHARE[,SHARE...] or --default ACTION`
        : 'missing --via SHARE[,SHARE...] or --default ACTION (or `via` or `default` in the config file)',
    );
  }
  return { action: defaultAction };
}

// ---- rules --------------------------------------------------------------------------------------

function rulesValue(g: Given, names: Names): Rule[] {
  if (!Array.isArray(g.value)) throw bad(g, 'rules', undefined, 'must be an array of tables ([[rules]])');
  return g.value.map((r: unknown, i) => {
    const path = `rules[${i}]`;
    if (!isTable(r)) throw bad(g, path, undefined, 'must be a table with host, cidr or port, and action');
    onlyKeys(g, path, r, RULE_KEYS);
    const hosts = r.host === undefined ? undefined : criterion(g, `${path}.host`, r.host, hostValue);
    const cidrs = r.cidr === undefined ? undefined : criterion(g, `${path}.cidr`, r.cidr, parseCidr);
    const ports = r.port === undefined ? undefined : criterion(g, `${path}.port`, r.port, parsePortRange);
    if (!hosts && !cidrs && !ports) throw bad(g, path, undefined, 'needs at least one of host, cidr, port');
    if (r.action === undefined) throw bad(g, path, undefined, `needs an action: ${ANY_ACTION}`);
    const action = names.action(g, `${path}.action`, undefined, r.action);
    const isolate = r.isolate === undefined ? undefined : isolateValue(g, `${path}.isolate`, r.isolate);
    const text = [
      path,
      ...(hosts ? [`host=${hosts.map(formatHostPattern).join(',')}`] : []),
      ...(cidrs ? [`cidr=${cidrs.map(formatCidr).join(',')}`] : []),
      ...(ports ? [`port=${ports.map(formatPortRange).join(',')}`] : []),
    ].join(' ');
    return Object.freeze({
      text,
      ...(hosts && { hosts }),
      ...(cidrs && { cidrs }),
      ...(ports && { ports }),
      action,
      ...(isolate && { isolate }),
    });
  });
}

/** A criterion's entries (one value or an array), each parsed; a parser returns its reason as a string. */
function criterion<T>(g: Given, path: string, value: unknown, parse: (v: unknown) => T | string): T[] {
  if (Array.isArray(value) && value.length === 0) throw bad(g, path, undefined, 'empty list');
  return elements(value).map(([v, i]) => {
    const out = parse(v);
    if (typeof out === 'string') throw bad(g, path, i, out);
    return out;
  });
}

// ---- forwards -----------------------------------------------------------------------------------

function forwardsValue(g: Given, names: Names, defaultAction: Action, listen: Target): Forward[] {
  if (!Array.isArray(g.value))
    throw bad(g, 'forwards', undefined, 'must be an array of tables ([[forwards]])');
  const used: [Target, string][] = [[listen, 'the proxy port (listen)']];
  return g.value.map((f: unknown, i) => {
    const path = `forwards[${i}]`;
    let forward: Forward;
    if (typeof f === 'string') {
      // `--forward [BIND:]LPORT:HOST:PORT` (or the same string in the file).
      const spec = parseForwardSpec(f);
      if (typeof spec === 'string') throw bad(g, 'forwards', i, `${JSON.stringify(f)}: ${spec}`);
      forward = { ...spec, action: forwardAction(g, 'forwards', i, defaultAction) };
    } else if (isTable(f)) {
      onlyKeys(g, path, f, FORWARD_KEYS);
      const bind = listenAt(g, `${path}.listen`, f.listen, 'needs "HOST:PORT" (port 0 picks one)');
      const to = targetAt(g, `${path}.to`, f.to, 'needs "HOST:PORT", the target');
      const action =
        f.via === undefined
          ? forwardAction(g, path, undefined, defaultAction)
          : names.action(g, `${path}.via`, undefined, f.via);
      if (action.kind === 'block') throw bad(g, `${path}.via`, undefined, 'a forward cannot be `block`');
      forward = { listen: bind, to, action };
    } else {
      throw bad(g, 'forwards', i, 'must be a table with listen, to and via, or "[BIND:]LPORT:HOST:PORT"');
    }
    const clash = used.find(
      ([t]) =>
        t.port !== 0 &&
        t.port === forward.listen.port &&
        t.host.toLowerCase() === forward.listen.host.toLowerCase(),
    );
    if (clash !== undefined) {
      const reason = `${formatTarget(forward.listen)} is also ${clash[1]}`;
      throw typeof f === 'string'
        ? bad(g, 'forwards', i, reason)
        : bad(g, `${path}.listen`, undefined, reason);
    }
    const label =
      g.origin.kind === 'flag' ? where(g, 'forwards', i) : typeof f === 'string' ? path : `${path}.listen`;
    used.push([forward.listen, label]);
    return Object.freeze(forward);
  });
}

/** A forward without its own `via` takes the default action, which must not be block. */
function forwardAction(g: Given, path: string, i: number | undefined, defaultAction: Action): Action {
  if (defaultAction.kind === 'block')
    throw bad(g, path, i, 'the default action is block; give this forward a via (a route, group or direct)');
  return defaultAction;
}

// ---- publish ------------------------------------------------------------------------------------

function publishValue(g: Given, names: Names, defaultAction: Action): Publish[] {
  if (!Array.isArray(g.value)) throw bad(g, 'publish', undefined, 'must be an array of tables ([[publish]])');
  const seen = new Map<string, string>();
  return g.value.map((p: unknown, i) => {
    const path = `publish[${i}]`;
    let remote: Target;
    let to: Target;
    let action: Action = defaultAction;
    let viaPath: string | undefined;
    if (typeof p === 'string') {
      const spec = parsePublishSpec(p);
      if (typeof spec === 'string') throw bad(g, 'publish', i, `${JSON.stringify(p)}: ${spec}`);
      ({ remote, to } = spec);
    } else if (isTable(p)) {
      onlyKeys(g, path, p, PUBLISH_KEYS);
      remote = listenAt(g, `${path}.remote`, p.remote, 'needs "RBIND:RPORT", where the relay listens');
      to = targetAt(g, `${path}.to`, p.to, 'needs "LHOST:LPORT", the local service');
      const ok = checkPublish(remote, to);
      if (ok !== true) throw bad(g, path, undefined, ok);
      if (p.via !== undefined) {
        viaPath = `${path}.via`;
        action = names.action(g, viaPath, undefined, p.via);
      }
    } else {
      throw bad(g, 'publish', i, 'must be a table with remote, to and via, or "[RBIND:]RPORT:LHOST:LPORT"');
    }
    if (action.kind !== 'route') {
      const why =
        action.kind === 'group'
          ? 'a publication goes through one route (a relay or a route), not a group'
          : `a publication needs a relay to listen, not \`${action.kind}\``;
      throw viaPath
        ? bad(g, viaPath, undefined, why)
        : bad(g, 'publish', i, `${why}; give it a via (or --via)`);
    }
    const key = `${formatTarget(remote)} on route ${action.route.name}`;
    const clash = seen.get(key);
    if (clash !== undefined) throw bad(g, 'publish', i, `${key} is also published by ${clash}`);
    seen.set(key, g.origin.kind === 'flag' ? where(g, 'publish', i) : path);
    return Object.freeze({ remote, to, route: action.route });
  });
}

// ---- table fields shared by [[rules]], [[forwards]] and [[publish]] -------------------------------

/** A table holds only the known keys; the first other one is an error naming it. */
function onlyKeys(g: Given, path: string, table: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(table)) {
    if (!known.includes(key))
      throw bad(g, `${path}.${key}`, undefined, `unknown key (known: ${known.join(', ')})`);
  }
}

/** An address to bind (parseListen) at path; `need` says what is expected when it is not a string. */
function listenAt(g: Given, path: string, value: unknown, need: string): Target {
  if (typeof value !== 'string') throw bad(g, path, undefined, need);
  const bind = parseListen(value);
  if (typeof bind === 'string') throw bad(g, path, undefined, `${JSON.stringify(value)}: ${bind}`);
  return bind;
}

/** A HOST:PORT to connect (parseTarget) at path; `need` as for listenAt. */
function targetAt(g: Given, path: string, value: unknown, need: string): Target {
  if (typeof value !== 'string') throw bad(g, path, undefined, need);
  try {
    return parseTarget(value);
  } catch (err) {
    throw bad(g, path, undefined, `${JSON.stringify(value)}: ${reasonOf(err)}`);
  }
}
