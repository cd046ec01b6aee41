// The names a client configuration defines: `[relays]` (share strings), `[routes]` (ordered relays)
// and `[groups]` (ordered routes or relays), in one namespace without `direct` and `block`, and the
// action each name stands for. A share string is never echoed in an error (it holds a pin).

import { dirname, isAbsolute, join } from 'node:path';
import type { Hop } from '../circuit/circuit.js';
import type { Action, Route } from '../client/rules.js';
import type { Limits } from '../limits.js';
import { parseShareString, shortPin, type ShareString } from '../wire/share-string.js';
import { ISOLATE_BY, canonicalIsolate, type IsolateBy } from '../client/isolation.js';
import { bad, isTable, reasonOf, type Given } from './inputs.js';

export type GroupAction = Extract<Action, { kind: 'group' }>;

const DIRECT: Action = Object.freeze({ kind: 'direct' });
const BLOCK: Action = Object.freeze({ kind: 'block' });
const RESERVED = ['direct', 'block'];
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;
export const ANY_ACTION = 'direct, block, or the name of a relay, route or group';

// ---- names --------------------------------------------------------------------------------------

/** `routes.chain`, or `routes."odd name"` for a key that is not bare in TOML. */
function keyPath(table: string, name: string): string {
  return /^[A-Za-z0-9_-]+$/.test(name) ? `${table}.${name}` : `${table}.${JSON.stringify(name)}`;
}

/** One value, or each element of an array: [element, index or undefined]. */
export function elements(value: unknown): [unknown, number | undefined][] {
  return Array.isArray(value) ? value.map((v, i) => [v, i]) : [[value, undefined]];
}

/** The relays, routes and groups defined so far, and the actions their names stand for. */
export class Names {
  readonly relays = new Map<string, Hop>();
  /** Relays given their own key file: load.ts loads each at start and sets the hop's clientKey. */
  readonly hopKeyFiles = new Map<Hop, string>();
  readonly routes = new Map<string, Route>();
  readonly groups = new Map<string, GroupAction>();
  // A relay named as a path is a one-relay route of the same name; one object per name, so a
  // relay's route in a group and in a rule is the same Route.
  private readonly relayRoutes = new Map<string, Route>();
  private readonly actions = new Map<string, Action>();

  constructor(private readonly limits: Limits) {}

  /**
   * `name = "ett://…"`, or `name = { share = "ett://…", key = "FILE" | "ephemeral" }` to show that relay
   * a key of its own (a relative FILE is relative to the config file) instead of the client's key.
   */
  addRelays(g: Given): void {
    const shape = 'name = "ett://PIN@HOST:PORT" or name = { share = "ett://…", key = "FILE" }';
    for (const [name, v] of this.table(g, 'relays', shape)) {
      const path = keyPath('relays', name);
      const entry = isTable(v) ? v : { share: v };
      for (const k of Object.keys(entry)) {
        if (k !== 'share' && k !== 'key')
          throw bad(g, `${path}.${k}`, undefined, 'unknown key (known: share, key)');
      }
      const share = entry['share'];
      if (typeof share !== 'string') {
        throw bad(
          g,
          isTable(v) ? `${path}.share` : path,
          undefined,
          'must be a share string (ett://PIN@HOST:PORT)',
        );
      }
      let relay: ShareString;
      try {
        relay = parseShareString(share);
      } catch (err) {
        throw bad(g, isTable(v) ? `${path}.share` : path, undefined, reasonOf(err));
      }
      const key = entry['key'];
      if (key === undefined) {
        this.relays.set(name, relay);
      } else if (typeof key !== 'string' || key === '') {
        throw bad(g, `${path}.key`, undefined, 'must be a key file path or "ephemeral"');
      } else if (key === 'ephemeral') {
        this.relays.set(name, { ...relay, clientKey: 'ephemeral' });
      } else {
        const hop: Hop = { ...relay };
        const file = g.origin.kind === 'file' && !isAbsolute(key) ? join(dirname(g.origin.file), key) : key;
        this.hopKeyFiles.set(hop, file);
        this.relays.set(name, hop);
      }
    }
  }

  /** `name = ["relay", ...]`, or `name = { relays = [...], isolate = [...] }`. */
  addRoutes(g: Given): void {
    const shape = 'name = ["relay", ...] or name = { relays = [...], isolate = [...] }';
    for (const [name, given] of this.table(g, 'routes', shape)) {
      const path = keyPath('routes', name);
      const { list, isolate } = withIsolate(g, path, given, 'relays');
      const relays = this.relayList(g, isTable(given) ? `${path}.relays` : path, list);
      this.routes.set(name, Object.freeze({ name, relays, ...(isolate && { isolate }) }));
    }
  }

  /** `name = ["route or relay", ...]`, or `name = { members = [...], isolate = [...] }`. */
  addGroups(g: Given): void {
    const shape = 'name = ["route or relay", ...] or name = { members = [...], isolate = [...] }';
    for (const [name, given] of this.table(g, 'groups', shape)) {
      const { list: v, isolate } = withIsolate(g, keyPath('groups', name), given, 'members');
      const path = isTable(given) ? `${keyPath('groups', name)}.members` : keyPath('groups', name);
      const members: Route[] = [];
      for (const [item, i] of this.items(g, path, v, 'a route or relay name')) {
        let member: Route | undefined = this.routes.get(item);
        if (member === undefined && this.relays.has(item)) member = this.relayRoute(item);
        if (member === undefined) {
          let reason: string;
          if (this.groups.has(item) || item === name)
            reason = `"${item}" is a group; a group cannot hold a group`;
          else if (RESERVED.includes(item.toLowerCase()))
            reason = `"${item}" cannot be a group member: a group lists routes and relays`;
          else if (!NAME.test(item))
            reason = 'must be the name of a route or relay (name relays in [relays])';
          else reason = `unknown route or relay "${item}"${this.known(['relays', 'routes'])}`;
          throw bad(g, path, i, reason);
        }
        if (members.includes(member)) throw bad(g, path, i, `"${item}" is listed twice`);
        members.push(member);
      }
      if (members.length === 0) throw bad(g, path, undefined, 'a group needs at least one route or relay');
      this.groups.set(name, Object.freeze({ kind: 'group', name, members, ...(isolate && { isolate }) }));
    }
  }

  /**
   * The relays of a route (or of `via`): names from [relays] or share strings, as an array, a
   * comma-separated string, or an array of those. 1..limits.path_length_max relays, no relay twice.
   */
  relayList(g: Given, path: string, value: unknown): Hop[] {
    const relays: Hop[] = [];
    for (const [item, i] of this.items(
      g,
      path,
      value,
      'a relay name or share string (ett://PIN@HOST:PORT)',
    )) {
      let relay: Hop | undefined = this.relays.get(item);
      if (relay === undefined) {
        if (this.routes.has(item) || this.groups.has(item)) {
          const what = this.routes.has(item) ? 'route' : 'group';
          // `via = "chain"` is a likely slip for `default = "chain"`: say so.
          const hint =
            path === 'via' ? ` (to take it by default: default = "${item}", or --default ${item})` : '';
          throw bad(g, path, i, `"${item}" is a ${what}; a route lists relays${hint}`);
        }
        if (NAME.test(item)) {
          throw bad(g, path, i, `unknown relay "${item}"${this.known(['relays'])}`);
        }
        try {
          relay = parseShareString(item);
        } catch (err) {
          throw bad(g, path, i, reasonOf(err));
        }
      }
      const again = relays.find((r) => r.pin === relay.pin);
      if (again !== undefined) {
        throw bad(g, path, i, `relay ${shortPin(relay.pin)} appears twice; each hop must be another relay`);
      }
      relays.push(relay);
    }
    if (relays.length === 0) throw bad(g, path, undefined, 'a route needs at least one relay');
    if (relays.length > this.limits.pathLengthMax) {
      throw bad(
        g,
        path,
        undefined,
        `${relays.length} relays; at most ${this.limits.pathLengthMax} (limits.path_length_max)`,
      );
    }
    return relays;
  }

  /**
   * What an action text stands for: direct, block, or the relay, route or group of that name.
   * Throws TunnelError('config') at path for anything else.
   */
  action(g: Given, path: string, index: number | undefined, v: unknown): Action {
    if (typeof v !== 'string') throw bad(g, path, index, `must be a string: ${ANY_ACTION}`);
    const lower = v.toLowerCase();
    if (lower === 'direct') return DIRECT;
    if (lower === 'block') return BLOCK;
    let action = this.actions.get(v);
    if (action === undefined) {
      const route = this.routes.get(v) ?? (this.relays.has(v) ? this.relayRoute(v) : undefined);
      if (route !== undefined) action = Object.freeze({ kind: 'route', route });
      else action = this.groups.get(v);
      if (action === undefined) {
        // Not echoed unless it looks like a name: it may be a share string, pin and all.
        const text = NAME.test(v) ? `unknown name "${v}": ` : '';
        throw bad(
          g,
          path,
          index,
          `${text}must be ${ANY_ACTION}${this.known(['relays', 'routes', 'groups'])}`,
        );
      }
      this.actions.set(v, action);
    }
    return action;
  }

  private relayRoute(name: string): Route {
    let route = this.relayRoutes.get(name);
    if (route === undefined) {
      route = Object.freeze({ name, relays: [this.relays.get(name)!] });
      this.relayRoutes.set(name, route);
    }
    return route;
  }

  /** The entries of a `[table]` of names, each name checked and new. */
  private table(g: Given, table: string, shape: string): [string, unknown][] {
    if (!isTable(g.value)) throw bad(g, table, undefined, `must be a table of ${shape}`);
    const entries = Object.entries(g.value);
    for (const [name] of entries) {
      const path = keyPath(table, name);
      if (RESERVED.includes(name.toLowerCase())) {
        throw bad(g, path, undefined, `"${name}" is reserved (direct and block are actions, not names)`);
      }
      if (!NAME.test(name)) {
        throw bad(g, path, undefined, "a name holds 1..64 letters, digits, '_', '-' or '.' (not first)");
      }
      for (const [other, map] of [
        ['relay', this.relays],
        ['route', this.routes],
        ['group', this.groups],
      ] as const) {
        if (map.has(name))
          throw bad(
            g,
            path,
            undefined,
            `"${name}" is also a ${other}; relays, routes and groups share names`,
          );
      }
    }
    return entries;
  }

  /** The items of a list value: an array of strings (each may be comma-separated), or one such string. */
  private items(g: Given, path: string, value: unknown, what: string): [string, number | undefined][] {
    const out: [string, number | undefined][] = [];
    for (const [v, i] of elements(value)) {
      if (typeof v !== 'string') throw bad(g, path, i, `must be ${what}`);
      for (const part of v.split(',')) {
        const item = part.trim();
        if (item === '') throw bad(g, path, i, `empty entry (must be ${what})`);
        out.push([item, i]);
      }
    }
    return out;
  }

  /** ` (known: a, b)` from the given tables, or a hint that none are defined. */
  private known(tables: ('relays' | 'routes' | 'groups')[]): string {
    const all = tables.flatMap((t) => [...this[t].keys()]);
    return all.length === 0 ? ` (none defined in [${tables.join('], [')}])` : ` (known: ${all.join(', ')})`;
  }
}

/** A route's or group's value: its list as is, or a table of the list (`listKey`) and `isolate`. */
function withIsolate(
  g: Given,
  path: string,
  value: unknown,
  listKey: string,
): { list: unknown; isolate?: readonly IsolateBy[] } {
  if (!isTable(value)) return { list: value };
  for (const k of Object.keys(value)) {
    if (k !== listKey && k !== 'isolate')
      throw bad(g, `${path}.${k}`, undefined, `unknown key (known: ${listKey}, isolate)`);
  }
  if (value[listKey] === undefined) throw bad(g, path, undefined, `needs ${listKey} = [...]`);
  const isolate =
    value['isolate'] === undefined ? undefined : isolateValue(g, `${path}.isolate`, value['isolate']);
  return { list: value[listKey], ...(isolate && { isolate }) };
}

/**
 * `isolate = ["socks-auth", "destination", "forward", "source"]` (any of them, [] for none): what keeps
 * streams on circuits of their own (client/isolation.ts). Throws TunnelError('config') naming path.
 */
export function isolateValue(g: Given, path: string, value: unknown): readonly IsolateBy[] {
  if (!Array.isArray(value))
    throw bad(
      g,
      path,
      undefined,
      `must be a list of ${ISOLATE_BY.map((c) => `"${c}"`).join(', ')} ([] for none)`,
    );
  const out: IsolateBy[] = [];
  value.forEach((v: unknown, i) => {
    if (typeof v !== 'string' || !(ISOLATE_BY as readonly string[]).includes(v))
      throw bad(
        g,
        path,
        i,
        `${JSON.stringify(v)} is not a stream isolation (known: ${ISOLATE_BY.join(', ')})`,
      );
    if (out.includes(v as IsolateBy)) throw bad(g, path, i, `"${v}" is listed twice`);
    out.push(v as IsolateBy);
  });
  return Object.freeze(canonicalIsolate(out));
}
