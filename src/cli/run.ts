// `ett run [flags] -- CMD [ARGS…]`: runs CMD with the preload library, so its TCP connections go through
// ett and its name lookups never leave the machine (see src/run/ and native/). Either through an ett
// client already running (--socks) or an embedded one started for CMD's lifetime (--via / --config),
// which listens on an ephemeral loopback port and asks a throwaway username/password (RFC 1929) that
// only CMD's environment knows. CMD's exit status is ours (128 + signal number if it was killed).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeSync } from 'node:fs';
import { Writable } from 'node:stream';
import { startClient, type ClientHandle } from '../client/client.js';
import { clientOptionsFrom, flagInputs, loadClientSettings } from '../config/load.js';
import { logLevelValue, mergeInputs, type Inputs } from '../config/schema.js';
import { TunnelError } from '../errors.js';
import { createLogger, type LogLevel } from '../log.js';
import { inspectCommand } from '../run/inspect.js';
import { findLibrary } from '../run/library.js';
import { runIsolated } from '../run/isolate.js';
import { startNameService } from '../run/name-service.js';
import { NameTable } from '../run/names.js';
import { supervise } from '../run/child.js';
import { formatTarget, parseTarget, type Target } from '../wire/address.js';
import { parseIp } from '../wire/ip.js';
import { parseFlags } from './common.js';

export const OPTIONS = {
  key: { type: 'string' },
  via: { type: 'string', multiple: true },
  config: { type: 'string' },
  socks: { type: 'string' },
  'socks-user': { type: 'string' },
  localnet: { type: 'string', multiple: true },
  strict: { type: 'boolean' },
  isolate: { type: 'boolean' },
  'allow-direct': { type: 'boolean' },
  'log-level': { type: 'string' },
} as const;

export async function run(args: string[]): Promise<number> {
  keepStdioBlocking();
  const end = args.indexOf('--');
  if (end < 0 || end === args.length - 1) {
    throw new TunnelError(
      'config',
      'run: put the command after --, e.g. ett run --via SHARE -- curl https://example.com/',
    );
  }
  const { values } = parseFlags('run', args.slice(0, end), OPTIONS);
  const argv = args.slice(end + 1);
  const socks = values.socks as string | undefined;
  if (
    socks !== undefined &&
    (values.via !== undefined || values.config !== undefined || values.key !== undefined)
  ) {
    throw new TunnelError(
      'config',
      'run: --socks uses a running ett client; it takes no --via, --config or --key',
    );
  }
  if (socks === undefined && values['socks-user'] !== undefined) {
    throw new TunnelError('config', 'run: --socks-user goes with --socks (an ett client already running)');
  }
  if (socks === undefined && values.via === undefined && values.config === undefined) {
    throw new TunnelError(
      'config',
      'run: say where connections go: --via SHARE, --config FILE or --socks HOST:PORT',
    );
  }
  const localnet = ((values.localnet ?? []) as string[]).flatMap((v) => v.split(',')).map(checkCidr);
  const isolate = values.isolate === true;
  if (isolate) checkIsolateFlags(values);
  else if (values['allow-direct'] !== undefined) {
    throw new TunnelError('config', 'run: --allow-direct goes with --isolate');
  }
  const library = isolate ? { path: '' } : await findLibrary();
  if ('why' in library) throw new TunnelError('config', library.why);

  const inspection = await inspectCommand(argv[0]!);
  if (inspection.file === null) {
    process.stderr.write(`ett run: ${argv[0]}: command not found\n`);
    return 127;
  }
  // Under --isolate nothing CMD does can bypass ett: what the preload library cannot catch does not matter.
  if (!isolate) for (const f of inspection.findings) process.stderr.write(`ett run: warning: ${f}\n`);
  if (!isolate && values.strict === true && inspection.findings.length > 0) {
    throw new TunnelError(
      'config',
      `run: refusing to run ${inspection.file} (--strict): ett run cannot intercept it`,
    );
  }

  // ett run shares the terminal with CMD: warnings only, unless --log-level or the config says more.
  const quiet: Inputs = new Map([
    ['log_level', { value: 'warn', origin: { kind: 'flag', flag: 'log-level' } }],
  ]);
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.ETT_RUN_SOCKS_TOKEN; // set below only for this run's own isolation token
  let client: ClientHandle | undefined;
  let level: LogLevel;
  if (socks !== undefined) {
    env.ETT_RUN_SOCKS = checkSocks(socks);
    env.ETT_RUN_TIMEOUT_MS = '60000';
    Object.assign(env, socksCredentials(values['socks-user'] as string | undefined));
    delete env[SOCKS_PASSWORD_VAR]; // CMD gets it once, as the library's own variable
    level = logLevelValue(mergeInputs(quiet, flagInputs({ 'log-level': values['log-level'] })));
  } else {
    const settings = await loadClientSettings(
      flagInputs(values, ['config', 'socks', 'localnet', 'strict', 'isolate', 'allow-direct']),
      values.config as string | undefined,
      quiet,
    );
    level = settings.logLevel;
    const opts = await clientOptionsFrom(settings, createLogger(level));
    const user = 'ett-run';
    const pass = randomBytes(18).toString('base64url');
    client = await startClient({
      ...opts,
      listen: { host: '127.0.0.1', port: 0 },
      forwards: [],
      socksUsers: new Map([[user, pass]]),
    });
    if (isolate) {
      // CMD never sees the mixed port: its connections come to the router through the namespace.
      try {
        return await runIsolated(inspection.file, argv, env, {
          router: client.router,
          table: new NameTable(),
          limits: opts.limits,
          log: opts.log,
          allowDirect: values['allow-direct'] === true,
        });
      } finally {
        await client.close();
      }
    }
    Object.assign(env, {
      ETT_RUN_SOCKS: formatTarget(client.address),
      ETT_RUN_SOCKS_USER: user,
      ETT_RUN_SOCKS_PASS: pass,
      ETT_RUN_TIMEOUT_MS: String(opts.limits.openTimeoutMs + opts.limits.connectTimeoutMs),
    });
  }
  const names = await startNameService(createLogger(level));
  env.ETT_RUN_NAMES = names.path;
  env.ETT_RUN_LOCALNET = localnet.join(',');
  env.LD_PRELOAD = [library.path, process.env.LD_PRELOAD].filter(Boolean).join(':');
  try {
    return await runChild(inspection.file, argv, env);
  } finally {
    await Promise.all([names.close(), client?.close()]);
  }
}

/** Runs the command to its end and returns its status; passes signals on meanwhile. */
function runChild(file: string, argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return supervise(spawn(file, argv.slice(1), { argv0: argv[0], env, stdio: 'inherit' }), file);
}

/** --isolate runs CMD with an embedded client, and nothing may leave outside ett. Throws TunnelError('config'). */
function checkIsolateFlags(values: Record<string, unknown>): void {
  if (values.socks !== undefined) {
    throw new TunnelError(
      'config',
      'run: --isolate starts its own client: give --via SHARE or --config FILE, not --socks',
    );
  }
  if (values.localnet !== undefined) {
    throw new TunnelError(
      'config',
      'run: --localnet would leave outside ett; under --isolate use a direct rule and --allow-direct',
    );
  }
}

function checkCidr(text: string): string {
  const [addr, prefix, ...rest] = text.trim().split('/');
  const ip = parseIp(addr ?? '');
  const max = ip?.family === 4 ? 32 : 128;
  const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
  if (ip === null || rest.length > 0 || !(bits >= 0 && bits <= max)) {
    throw new TunnelError(
      'config',
      `run: --localnet ${JSON.stringify(text)} is not an address or CIDR (e.g. 192.168.0.0/16)`,
    );
  }
  return text.trim();
}

/** Where `--socks-user` finds its password: never on the command line, where `ps` would show it. */
const SOCKS_PASSWORD_VAR = 'ETT_SOCKS_PASSWORD';

/** The library's RFC 1929 variables for --socks-user, or none. Throws TunnelError('config'). */
/**
 * The login the preload library gives the SOCKS port: --socks-user's (with its password from the
 * environment), else a login of this run's own, offered beside no-auth as a stream-isolation token, so
 * that an ett client keeps each run's streams on circuits of their own.
 */
function socksCredentials(user: string | undefined): NodeJS.ProcessEnv {
  if (user === undefined) {
    return {
      ETT_RUN_SOCKS_USER: 'ett-run',
      ETT_RUN_SOCKS_PASS: randomBytes(18).toString('base64url'),
      ETT_RUN_SOCKS_TOKEN: '1',
    };
  }
  const pass = process.env[SOCKS_PASSWORD_VAR];
  if (pass === undefined) {
    throw new TunnelError('config', `run: --socks-user needs the password in ${SOCKS_PASSWORD_VAR}`);
  }
  // RFC 1929: each is 1..255 bytes.
  for (const [what, v] of [
    ['--socks-user', user],
    [SOCKS_PASSWORD_VAR, pass],
  ] as const) {
    const n = Buffer.byteLength(v);
    if (n < 1 || n > 255) throw new TunnelError('config', `run: ${what} must be 1 to 255 bytes (is ${n})`);
  }
  return { ETT_RUN_SOCKS_USER: user, ETT_RUN_SOCKS_PASS: pass };
}

function checkSocks(text: string): string {
  let t: Target;
  try {
    t = parseTarget(text);
  } catch {
    t = { host: '', port: 0 };
  }
  if (parseIp(t.host) === null || t.port === 0) {
    throw new TunnelError(
      'config',
      `run: --socks ${JSON.stringify(text)} must be IP:PORT of an ett client (e.g. 127.0.0.1:1080)`,
    );
  }
  return formatTarget(t);
}

/**
 * CMD shares our stdout and stderr. Node's process.stdout/stderr, once touched (and node's own stream
 * code touches them: Readable.pipe compares its destination with them), put a pipe or socket into
 * non-blocking mode, a flag of the open file description that CMD shares: CMD's writes then fail with
 * EAGAIN (curl: "(23) Failure writing output"). So ours are replaced, before anything touches them, by
 * plain synchronous writers that leave the descriptors as they are.
 */
function keepStdioBlocking(): void {
  for (const [name, fd] of [
    ['stdout', 1],
    ['stderr', 2],
  ] as const) {
    const writer = new Writable({
      write(chunk: Buffer, _encoding, done) {
        try {
          for (let at = 0; at < chunk.length;) at += writeSync(fd, chunk, at);
        } catch {
          // a closed or full descriptor: messages are not worth failing over
        }
        done();
      },
    });
    Object.defineProperty(process, name, {
      value: Object.assign(writer, { fd }),
      configurable: true,
      writable: true,
    });
  }
}
