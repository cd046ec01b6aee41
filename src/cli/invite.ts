// `ett invite` and `ett allow list|remove`: on the relay's machine, through the control socket of a
// running relay (which is then the one writer of its state files), or on the state files themselves
// when no relay with that allow file answers.
//
// Which relay: --control PATH if given; else the config's `control`, else every live control socket in
// the runtime directory, asked for its allow file (`allow-file`) and kept only if it is the one the
// config names. None: the files are used (a stopped relay), which needs --config.

import { resolve } from 'node:path';
import { loadRelaySettings } from '../config/load.js';
import type { RelaySettings } from '../config/schema.js';
import { TunnelError } from '../errors.js';
import { loadIdentity } from '../identity/identity.js';
import { liveSockets, request } from '../observe/runtime.js';
import { RelayState } from '../relay/state.js';
import { formatShareString, normalizePin, shortPin } from '../wire/share-string.js';
import { durationMs, labelValue } from '../relay/allow-file.js';
import { parseFlags, say } from './common.js';
import { DEFAULT_ASK, makeInvite, usesValue, type InviteAsk } from './relay-commands.js';

export const INVITE_OPTIONS = {
  config: { type: 'string' },
  control: { type: 'string' },
  uses: { type: 'string' },
  expires: { type: 'string' },
  name: { type: 'string' },
} as const;

export const ALLOW_OPTIONS = {
  config: { type: 'string' },
  control: { type: 'string' },
  'allow-file': { type: 'string' },
} as const;

/**
 * Prints a new invite (the invite string on the first line). Rejects with TunnelError('config') (exit
 * 2) for bad flags, no relay and no --config, a config without allow_file; a control error's code else.
 */
export async function invite(args: string[]): Promise<number> {
  const { values } = parseFlags('invite', args, INVITE_OPTIONS);
  const ask: InviteAsk = {
    name: values.name === undefined ? DEFAULT_ASK.name : labelValue(values.name as string),
    uses: values.uses === undefined ? DEFAULT_ASK.uses : usesValue(wholeNumber(values.uses as string)),
    expiresMs: values.expires === undefined ? DEFAULT_ASK.expiresMs : durationMs(values.expires as string),
  };
  const settings = await relaySettings(values.config as string | undefined);
  const control = await runningRelay(values.control as string | undefined, settings);
  let made: Record<string, unknown>;
  if (control !== null) {
    made = await ask1(control, {
      cmd: 'invite',
      name: ask.name,
      uses: ask.uses,
      expires: `${Math.round(ask.expiresMs / 1000)}s`,
    });
  } else {
    const s = needFiles(settings, 'invite');
    if (s.listen.port === 0) {
      throw new TunnelError(
        'config',
        `invite: ${values.config as string}: listen port 0 is chosen at start; run ett invite while the relay runs`,
      );
    }
    const id = await loadIdentity(s.keyPath);
    const share = formatShareString({
      pin: id.pin,
      target: { host: s.advertise ?? s.listen.host, port: s.listen.port },
    });
    made = await makeInvite(new RelayState(s.allowFile!), share, ask);
  }
  say(String(made['invite']));
  say(
    `# for ${JSON.stringify(made['name'])}: ${String(made['uses'])} use(s), expires ${String(made['expires'])}` +
      `${control === null ? ' (written to the state files)' : ` (relay at ${control})`}; ` +
      'give it to that user only: ett join INVITE --key client.key --config client.toml',
  );
  return 0;
}

/** `ett allow list` and `ett allow remove PIN`. Rejects as invite does. */
export async function allow(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'list' && sub !== 'remove') {
    throw new TunnelError('config', 'allow: say list or remove PIN (see: ett allow --help)');
  }
  const { values, positionals } = parseFlags(
    `allow ${sub}`,
    rest,
    ALLOW_OPTIONS,
    sub === 'remove' ? ['PIN'] : [],
  );
  const given = values['allow-file'] as string | undefined;
  const settings = given !== undefined ? undefined : await relaySettings(values.config as string | undefined);
  const file = given ?? settings?.allowFile;
  if (sub === 'list') {
    if (file === undefined)
      throw new TunnelError('config', 'allow list: give --config relay.toml or --allow-file FILE');
    const entries = await new RelayState(file).allowed();
    if (entries.length === 0) say(`no keys in ${file}`);
    for (const e of entries) say(`${e.pin}  ${e.added}  ${JSON.stringify(e.name)}`);
    return 0;
  }
  const pin = normalizePin(positionals[0]!);
  const control = await runningRelay(values.control as string | undefined, settings, file);
  if (control !== null) {
    const r = await ask1(control, { cmd: 'allow-remove', pin });
    say(
      `removed ${shortPin(pin)}… (${JSON.stringify(r['removed'])}) from the running relay's allow file; its links are closed`,
    );
    return 0;
  }
  if (file === undefined)
    throw new TunnelError('config', 'allow remove: give --config relay.toml or --allow-file FILE');
  const gone = await new RelayState(file).remove(pin);
  if (gone === null) throw new TunnelError('config', `allow remove: ${shortPin(pin)}… is not in ${file}`);
  say(`removed ${shortPin(pin)}… (${JSON.stringify(gone.name)}) from ${file} (no relay running with it)`);
  return 0;
}

async function relaySettings(config: string | undefined): Promise<RelaySettings | undefined> {
  return config === undefined ? undefined : loadRelaySettings(new Map(), config);
}

function needFiles(s: RelaySettings | undefined, cmd: string): RelaySettings & { allowFile: string } {
  if (s === undefined) {
    throw new TunnelError(
      'config',
      `${cmd}: no running relay with invites found; give --control PATH, or --config relay.toml for a stopped relay's files`,
    );
  }
  if (s.allowFile === undefined) {
    throw new TunnelError('config', `${cmd}: the relay's config has no allow_file (invites need one)`);
  }
  return s as RelaySettings & { allowFile: string };
}

/** The control socket of the running relay these files belong to, or null (see the file comment). */
async function runningRelay(
  given: string | undefined,
  s: RelaySettings | undefined,
  allowFile = s?.allowFile,
): Promise<string | null> {
  if (given !== undefined) return given;
  const configured = s?.observe.control;
  if (configured === 'off') return null;
  const candidates = configured !== undefined ? [configured] : await liveSockets();
  const want = allowFile === undefined ? undefined : resolve(allowFile);
  const found: string[] = [];
  for (const path of candidates) {
    const r = (await request(path, { cmd: 'allow-file' }, 2000).catch(() => null)) as Record<
      string,
      unknown
    > | null;
    if (r === null || r['ok'] !== true) continue;
    if (want === undefined || r['allow_file'] === want) found.push(path);
  }
  if (found.length > 1) {
    throw new TunnelError(
      'config',
      `${found.length} relays with invites are running; choose one with --control PATH`,
    );
  }
  return found[0] ?? null;
}

async function ask1(path: string, req: object): Promise<Record<string, unknown>> {
  const r = (await request(path, req)) as unknown as Record<string, unknown>;
  if (r['ok'] !== true) {
    const code = typeof r['code'] === 'string' ? r['code'] : 'general';
    throw new TunnelError(
      code === 'config' ? 'config' : 'general',
      `relay at ${path}: ${String(r['error'])}`,
    );
  }
  return r;
}

function wholeNumber(text: string): number {
  return /^[0-9]{1,7}$/.test(text) ? Number(text) : NaN;
}
