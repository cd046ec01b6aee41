// What `ett join` writes into the client's config: the relay under a name, and, when the file gives
// no path yet, `default = NAME`. A new file is written whole; an existing one keeps every line and
// comment it had: the relay is appended as a table of its own, `default` (and `key`) put before any
// table. The result is validated as a client config before anything is written. Pure.

import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { parseConfigText } from '../config/load.js';
import { validateClientExceptKey } from '../config/schema.js';
import { TunnelError } from '../errors.js';
import { parseShareString } from '../wire/share-string.js';
import { formatTarget } from '../wire/address.js';

export interface JoinWrite {
  /** The relay's name in the config. */
  readonly name: string;
  readonly share: string;
  /** The client's key file as given on the command line. */
  readonly keyPath: string;
  /** The config file's path. */
  readonly file: string;
}

/** The new text (null: nothing to change) and one line per change. Throws TunnelError('config'). */
export function addRelay(text: string | null, w: JoinWrite): { text: string | null; lines: string[] } {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(w.name) || w.name === 'direct' || w.name === 'block') {
    throw new TunnelError(
      'config',
      `join: --name ${JSON.stringify(w.name)}: letters, digits, _ and - only (not direct or block)`,
    );
  }
  const key = keyInConfig(w.keyPath, w.file);
  if (text === null) {
    const out = [
      '# written by ett join',
      `key = ${JSON.stringify(key)}`,
      'listen = "127.0.0.1:1080"',
      `default = ${JSON.stringify(w.name)}`,
      '',
      '[relays]',
      `${w.name} = ${JSON.stringify(w.share)}`,
      '',
    ].join('\n');
    check(out, w.file);
    return { text: out, lines: [`wrote ${w.file}: relays.${w.name}, the default path; key ${key}`] };
  }
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch {
    throw new TunnelError(
      'config',
      `join: ${w.file} is not valid TOML now; fix it first (ett check-config ${w.file})`,
    );
  }
  const relays = doc['relays'];
  const existing =
    typeof relays === 'object' && relays !== null ? (relays as Record<string, unknown>)[w.name] : undefined;
  if (existing !== undefined) {
    const share = typeof existing === 'string' ? existing : (existing as { share?: unknown }).share;
    if (typeof share === 'string' && sameRelay(share, w.share)) {
      return { text: null, lines: [`${w.file}: relays.${w.name} is this relay already: nothing changed`] };
    }
    throw new TunnelError(
      'config',
      `join: ${w.file}: relays.${w.name} is another relay; choose another name with --name NAME`,
    );
  }
  const lines = [`added relays.${w.name} to ${w.file}`];
  let head = '';
  if (doc['key'] === undefined) {
    head += `key = ${JSON.stringify(key)}\n`;
    lines.push(`set key = ${JSON.stringify(key)}`);
  }
  if (doc['default'] === undefined && doc['via'] === undefined) {
    head += `default = ${JSON.stringify(w.name)}\n`;
    lines.push(`set default = ${JSON.stringify(w.name)} (the path for every target)`);
  } else {
    lines.push(
      `kept its ${doc['default'] === undefined ? 'via' : 'default'}: name ${w.name} in a rule, route or default to use it`,
    );
  }
  const body = text.endsWith('\n') || text === '' ? text : text + '\n';
  const out = `${head}${body}\n[relays.${w.name}]\nshare = ${JSON.stringify(w.share)}\n`;
  check(out, w.file);
  return { text: out, lines };
}

function sameRelay(a: string, b: string): boolean {
  try {
    const x = parseShareString(a);
    const y = parseShareString(b);
    return x.pin === y.pin && formatTarget(x.target) === formatTarget(y.target);
  } catch {
    return false;
  }
}

/** The key's path as the config will hold it: relative to the config's directory. */
function keyInConfig(keyPath: string, file: string): string {
  const abs = resolve(keyPath);
  if (isAbsolute(keyPath) && !keyPath.startsWith(resolve(dirname(file)))) return keyPath;
  return relative(resolve(dirname(file)), abs) || abs;
}

function check(text: string, file: string): void {
  try {
    validateClientExceptKey(parseConfigText(text, file));
  } catch (err) {
    throw new TunnelError(
      'config',
      `join: cannot add the relay to ${file} automatically (${(err as Error).message}); add it by hand`,
    );
  }
}
