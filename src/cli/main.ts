// The command line: dispatch to one file per command and turn errors into exit statuses. A config
// error (bad flag, bad config file, bad key file) is the user's to fix: `ett: <message>` and status 2.
// Anything else is ours or the system's: `ett: <message>` and status 1.

import { readFileSync } from 'node:fs';

import { isTunnelError } from '../errors.js';
import { parseFlags, wantsHelp } from './common.js';
import { restoreHangup } from './reloader.js';
import {
  ALLOW_USAGE,
  CERT_USAGE,
  CHECK_CONFIG_USAGE,
  CLIENT_USAGE,
  COMPLETION_USAGE,
  EXPLAIN_USAGE,
  INVITE_USAGE,
  JOIN_USAGE,
  KEYGEN_USAGE,
  PIN_USAGE,
  RELAY_USAGE,
  RELOAD_USAGE,
  RUN_USAGE,
  STATUS_USAGE,
  TRANSPARENT_RULES_USAGE,
  UP_USAGE,
  USAGE,
  VERSION_USAGE,
} from './usage.js';

interface Command {
  /** Loaded on use: `ett keygen` should not pay for (or be broken by) the relay's and client's code. */
  readonly load: () => Promise<(args: string[]) => Promise<number>>;
  readonly usage: string;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  up: { load: async () => (await import('./up.js')).up, usage: UP_USAGE },
  keygen: { load: async () => (await import('./keygen.js')).keygen, usage: KEYGEN_USAGE },
  pin: { load: async () => (await import('./pin.js')).pin, usage: PIN_USAGE },
  cert: { load: async () => (await import('./cert.js')).cert, usage: CERT_USAGE },
  relay: { load: async () => (await import('./relay.js')).relay, usage: RELAY_USAGE },
  client: { load: async () => (await import('./client.js')).client, usage: CLIENT_USAGE },
  'check-config': {
    load: async () => (await import('./check-config.js')).checkConfig,
    usage: CHECK_CONFIG_USAGE,
  },
  explain: { load: async () => (await import('./explain.js')).explain, usage: EXPLAIN_USAGE },
  run: { load: async () => (await import('./run.js')).run, usage: RUN_USAGE },
  'transparent-rules': {
    load: async () => (await import('./transparent-rules.js')).transparentRules,
    usage: TRANSPARENT_RULES_USAGE,
  },
  version: { load: async () => version, usage: VERSION_USAGE },
  status: { load: async () => (await import('./status.js')).status, usage: STATUS_USAGE },
  reload: { load: async () => (await import('./status.js')).reload, usage: RELOAD_USAGE },
  invite: { load: async () => (await import('./invite.js')).invite, usage: INVITE_USAGE },
  join: { load: async () => (await import('./join.js')).join, usage: JOIN_USAGE },
  allow: { load: async () => (await import('./invite.js')).allow, usage: ALLOW_USAGE },
  completion: {
    load: async () => (await import('./completion.js')).completion,
    usage: COMPLETION_USAGE,
  },
};

/** The commands main dispatches, for the test that they are the ones usage.ts documents. */
export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

/** The commands that run until stopped and reload their configuration on SIGHUP. */
const DAEMONS = ['relay', 'client', 'up'];

/** `ett version` (and `ett --version`): one line on stdout. */
async function version(args: string[]): Promise<number> {
  parseFlags('version', args, {});
  return print(versionLine());
}

/**
 * Runs one command line (argv without node and script) and resolves to the exit status.
 * Never rejects for a TunnelError: those are printed as `ett: <message>` (status 2 for 'config',
 * 1 otherwise); other errors are printed the same way with status 1.
 */
export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    process.stderr.write(USAGE + '\n');
    return 2;
  }
  if (name === 'help' || name === '--help' || name === '-h') {
    const topic = args[0];
    if (topic === undefined) return print(USAGE);
    const command = lookup(topic);
    if (command === undefined) return fail(`unknown command ${JSON.stringify(topic)}; run: ett help`, 2);
    return print(command.usage);
  }
  const command = lookup(name === '--version' ? 'version' : name);
  if (command === undefined) return fail(`unknown command ${JSON.stringify(name)}; run: ett help`, 2);
  if (wantsHelp(args)) return print(command.usage);
  if (!DAEMONS.includes(name)) restoreHangup();
  try {
    const run = await command.load();
    return await run(args);
  } catch (err) {
    if (isTunnelError(err)) return fail(err.message, err.code === 'config' ? 2 : 1);
    return fail(err instanceof Error ? err.message : String(err), 1);
  }
}

/**
 * `ett 0.1.0 (Node v20.20.2, OpenSSL 3.0.15)`: ett's version from the package it runs from (this file is
 * dist/src/cli/main.js, three levels below package.json), then the runtime that carries its TLS.
 */
export function versionLine(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version?: unknown;
  };
  const version = typeof pkg.version === 'string' ? pkg.version : 'unknown';
  return `ett ${version} (Node ${process.version}, OpenSSL ${process.versions.openssl})`;
}

function lookup(name: string): Command | undefined {
  return Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
}

function print(text: string): number {
  process.stdout.write(text + '\n');
  return 0;
}

function fail(message: string, status: number): number {
  process.stderr.write(`ett: ${message}\n`);
  return status;
}
