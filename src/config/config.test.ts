import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { TunnelError } from '../errors.js';
import { writeNewKeyFile } from '../identity/keys.js';
import { DEFAULT_LIMITS } from '../limits.js';
import { formatShareString } from '../wire/share-string.js';
import {
  clientOptionsFrom,
  flagInputs,
  loadClientSettings,
  loadRelaySettings,
  parseConfigText,
} from './load.js';
import { parseListen, validateUp, type ClientSettings, type RelaySettings } from './schema.js';

const PIN_A = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
const PIN_A_URL = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8';
const PIN_B = '+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/8=';
const SHARE_A = `ett://${PIN_A_URL}@relay.example:7000`;
const SHARE_B = formatShareString({ pin: PIN_B, target: { host: '::1', port: 7001 } });

/** Writes `text` as `name` in a fresh temp dir and runs `fn` with its path. */
async function withFile<T>(
  name: string,
  text: string,
  fn: (path: string, dir: string) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ett-config-'));
  try {
    const path = join(dir, name);
    await writeFile(path, text);
    return await fn(path, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface Case<S> {
  readonly name: string;
  readonly toml: string;
  readonly flags?: Record<string, unknown>;
  /** For a good config: checks on the settings. For a bad one: the message, after the file name. */
  readonly ok?: (s: S, dir: string) => void;
  readonly error?: RegExp;
}

const RELAY_BASE = `key = "relay.key"\nlisten = "0.0.0.0:7000"\n`;

const RELAY_CASES: Case<RelaySettings>[] = [
  {
    name: 'minimal with allow list; key relative to the file',
    toml: RELAY_BASE + `allow = ["${PIN_A}", "${PIN_A_URL}", "sha256//${PIN_B}"]\n`,
    ok: (s, dir) => {
      assert.equal(s.keyPath, join(dir, 'relay.key'));
      assert.deepEqual(s.listen, { host: '0.0.0.0', port: 7000 });
      assert.deepEqual(s.allow, [PIN_A, PIN_B]); // normalised and deduplicated
      assert.equal(s.allowAny, false);
      assert.deepEqual(s.exitRules, []);
      assert.equal(s.logLevel, 'info');
      assert.equal(s.limits, DEFAULT_LIMITS);
      assert.equal(s.advertise, undefined);
    },
  },
  {
    name: 'everything',
    toml:
      RELAY_BASE +
      `advertise = "[2001:db8::1]"\nallow_any = true\nexit = ["accept 10.0.0.0/8:443", "reject *:*"]\n` +
      `log_level = "debug"\n[limits]\nhandshake_timeout_ms = 5000\nstream_idle_timeout_ms = 0\n`,
    ok: (s) => {
      assert.equal(s.advertise, '2001:db8::1');
      assert.equal(s.allowAny, true);
      assert.deepEqual(
        s.exitRules.map((r) => r.action),
        ['accept', 'reject'],
      );
      assert.equal(s.logLevel, 'debug');
      assert.equal(s.limits.handshakeTimeoutMs, 5000);
      assert.equal(s.limits.streamIdleTimeoutMs, 0);
      assert.equal(s.limits.pingIntervalMs, DEFAULT_LIMITS.pingIntervalMs);
    },
  },
  {
    name: 'flags override file values, lists included',
    toml: RELAY_BASE + `allow = ["${PIN_A}"]\nexit = ["reject *:*"]\nlog_level = "debug"\n`,
    flags: { listen: '[::1]:0', allow: [PIN_B], exit: ['accept *:443', 'reject *:*'], key: 'other.key' },
    ok: (s) => {
      assert.deepEqual(s.listen, { host: '::1', port: 0 });
      assert.deepEqual(s.allow, [PIN_B]);
      assert.equal(s.exitRules.length, 2);
      assert.equal(s.logLevel, 'debug');
      assert.equal(s.keyPath, 'other.key'); // a flag's path stays as given (relative to the cwd)
    },
  },
  {
    name: 'unknown key',
    toml: RELAY_BASE + 'allow_any = true\nvia = "x"\n',
    error: /^via: unknown key for relay/,
  },
  {
    name: 'bad exit rule names index and rule',
    toml: RELAY_BASE + 'allow_any = true\nexit = ["accept *:443", "reject *:*", "acept *:80"]\n',
    error: /^exit\[2\]: "acept \*:80": unknown action "acept"/,
  },
  {
    name: 'exit rule not a string',
    toml: RELAY_BASE + 'allow_any = true\nexit = [1]\n',
    error: /^exit\[0\]: must be a rule string/,
  },
  {
    name: 'bad pin in allow',
    toml: RELAY_BASE + `allow = ["${PIN_A}", "abc"]\n`,
    error: /^allow\[1\]: pin must be 43 base64 characters/,
  },
  { name: 'serves nobody', toml: RELAY_BASE, error: /^relay would serve nobody/ },
  {
    name: 'allow_any not a boolean',
    toml: RELAY_BASE + 'allow_any = "yes"\n',
    error: /^allow_any: must be true or false/,
  },
  {
    name: 'missing key',
    toml: 'listen = "127.0.0.1:1"\nallow_any = true\n',
    error: /^missing --key FILE for relay/,
  },
  { name: 'missing listen', toml: 'key = "k"\nallow_any = true\n', error: /^missing --listen HOST:PORT/ },
  {
    name: 'listen without port',
    toml: 'key = "k"\nlisten = "0.0.0.0"\nallow_any = true\n',
    error: /^listen: "0\.0\.0\.0": expected HOST:PORT/,
  },
  {
    name: 'listen IPv6 without brackets',
    toml: 'key = "k"\nlisten = "::1:7000"\nallow_any = true\n',
    error: /^listen: "::1:7000": an IPv6 address needs brackets/,
  },
  {
    name: 'listen port out of range',
    toml: 'key = "k"\nlisten = "a:65536"\nallow_any = true\n',
    error: /^listen: "a:65536": port must be 0\.\.65535/,
  },
  {
    name: 'advertise with a port',
    toml: RELAY_BASE + 'allow_any = true\nadvertise = "example.com:7000"\n',
    error: /^advertise: must be a host without a port/,
  },
  {
    name: 'bad log level',
    toml: RELAY_BASE + 'allow_any = true\nlog_level = "loud"\n',
    error: /^log_level: "loud": must be one of/,
  },
  {
    name: 'unknown limit',
    toml: RELAY_BASE + 'allow_any = true\n[limits]\nstream_window = 5\n',
    error: /^limits\.stream_window: unknown limit/,
  },
  {
    name: 'limit zero',
    toml: RELAY_BASE + 'allow_any = true\n[limits]\nstream_window_max = 0\n',
    error: /^limits\.stream_window_max: must be a positive integer/,
  },
  {
    name: 'limit float',
    toml: RELAY_BASE + 'allow_any = true\n[limits]\nping_interval_ms = 1.5\n',
    error: /^limits\.ping_interval_ms: must be a positive integer/,
  },
  {
    name: 'limit string',
    toml: RELAY_BASE + 'allow_any = true\n[limits]\nping_interval_ms = "100"\n',
    error: /^limits\.ping_interval_ms: must be a positive integer/,
  },
  {
    name: 'limit negative',
    toml: RELAY_BASE + 'allow_any = true\n[limits]\nstream_idle_timeout_ms = -1\n',
    error: /^limits\.stream_idle_timeout_ms: must be a non-negative integer/,
  },
  {
    name: 'limit too large',
    toml: RELAY_BASE + 'allow_any = true\n[limits]\nping_interval_ms = 9007199254740993\n',
    error: /^limits\.ping_interval_ms: must be a positive integer/,
  },
  {
    name: 'limits not a table',
    toml: RELAY_BASE + 'allow_any = true\nlimits = 3\n',
    error: /^limits: must be a table/,
  },
  { name: 'invalid TOML', toml: RELAY_BASE + 'allow_any = \n', error: /^line 3, column \d+: invalid TOML: / },
  { name: 'unsafe key', toml: RELAY_BASE + '__proto__ = 1\n', error: /invalid TOML/ },
];

const CLIENT_BASE = `key = "client.key"\n`;

const CLIENT_CASES: Case<ClientSettings>[] = [
  {
    name: 'minimal; listen defaults to 127.0.0.1:1080',
    toml: CLIENT_BASE + `via = "${SHARE_A}"\n`,
    ok: (s, dir) => {
      assert.equal(s.keyPath, join(dir, 'client.key'));
      assert.deepEqual(s.listen, { host: '127.0.0.1', port: 1080 });
      assert.deepEqual(s.via, [{ pin: PIN_A, target: { host: 'relay.example', port: 7000 } }]);
      assert.equal(s.socksUsers, undefined);
    },
  },
  {
    name: 'route as an array, and as a comma list; socks users',
    toml:
      CLIENT_BASE +
      `listen = "[::1]:1081"\nvia = ["${SHARE_A}", "${SHARE_B}"]\n[socks_users]\nalice = "s3cret"\n`,
    ok: (s) => {
      assert.deepEqual(s.listen, { host: '::1', port: 1081 });
      assert.deepEqual(
        s.via.map((v) => v.target.port),
        [7000, 7001],
      );
      assert.equal(s.socksUsers?.get('alice'), 's3cret');
    },
  },
  {
    name: '--via flag (comma list) overrides the file',
    toml: CLIENT_BASE + `via = "${SHARE_A}"\n`,
    flags: { via: [`${SHARE_B},${SHARE_A}`] },
    ok: (s) =>
      assert.deepEqual(
        s.via.map((v) => v.pin),
        [PIN_B, PIN_A],
      ),
  },
  { name: 'missing via', toml: CLIENT_BASE, error: /^missing --via SHARE-STRING/ },
  { name: 'bad via', toml: CLIENT_BASE + 'via = ["ett://abc@h:1"]\n', error: /^via\[0\]: / },
  { name: 'via not a string', toml: CLIENT_BASE + 'via = [7]\n', error: /^via\[0\]: must be a share string/ },
  {
    name: 'route longer than path_length_max',
    toml: CLIENT_BASE + `via = ["${SHARE_A}", "${SHARE_B}"]\n[limits]\npath_length_max = 1\n`,
    error: /^via: 2 relays; at most 1 \(limits\.path_length_max\)/,
  },
  {
    name: 'relay key in client config',
    toml: CLIENT_BASE + `via = "${SHARE_A}"\nallow_any = true\n`,
    error: /^allow_any: unknown key for client/,
  },
  {
    name: 'socks password not a string',
    toml: CLIENT_BASE + `via = "${SHARE_A}"\n[socks_users]\nbob = 5\n`,
    error: /^socks_users\.bob: password must be a string/,
  },
  {
    name: 'socks password too long is not echoed',
    toml: CLIENT_BASE + `via = "${SHARE_A}"\n[socks_users]\nbob = "${'p'.repeat(256)}"\n`,
    error: /^socks_users\.bob: password must be 1\.\.255 bytes$/,
  },
];

function runCases<S>(
  role: string,
  cases: Case<S>[],
  load: (flags: Record<string, unknown>, file: string) => Promise<S>,
): void {
  for (const c of cases) {
    test(`${role} config: ${c.name}`, async () => {
      await withFile(`${role}.toml`, c.toml, async (path, dir) => {
        if (c.ok) {
          c.ok(await load(c.flags ?? {}, path), dir);
          return;
        }
        await assert.rejects(load(c.flags ?? {}, path), (err: unknown) => {
          assert.ok(err instanceof TunnelError && err.code === 'config', String(err));
          // Every message about the file starts with the file's name; only "missing" and "serves nobody"
          // are about no one value.
          const general = /^(missing|relay would serve nobody)/.test(err.message);
          if (!general) assert.ok(err.message.startsWith(`${path}: `), err.message);
          const rest = general ? err.message : err.message.slice(path.length + 2);
          assert.match(rest, c.error!);
          return true;
        });
      });
    });
  }
}

runCases('relay', RELAY_CASES, (flags, file) => loadRelaySettings(flagInputs(flags), file));
runCases('client', CLIENT_CASES, (flags, file) => loadClientSettings(flagInputs(flags), file));

test('flag errors name the flag, not a file', async () => {
  const flags = (v: Record<string, unknown>) => flagInputs({ key: 'k', listen: '127.0.0.1:0', ...v });
  await assert.rejects(
    loadRelaySettings(flags({ 'allow-any': true, exit: ['accept *:1', 'acept *:80'] })),
    /^TunnelError: --exit #2: "acept \*:80": unknown action/,
  );
  await assert.rejects(loadRelaySettings(flags({ allow: ['nope'] })), /^TunnelError: --allow: pin must be/);
  await assert.rejects(loadRelaySettings(flags({ 'allow-any': true, 'log-level': 'x' })), /--log-level: "x"/);
  await assert.rejects(
    loadRelaySettings(flagInputs({ key: 'k', listen: 'x', 'allow-any': true })),
    /^TunnelError: --listen: "x"/,
  );
  const ok = await loadRelaySettings(flags({ 'allow-any': true }));
  assert.equal(ok.allowAny, true);
});

test('a missing config file is a config error naming it', async () => {
  await assert.rejects(loadRelaySettings(flagInputs({}), '/nonexistent/ett.toml'), (err: unknown) => {
    return (
      err instanceof TunnelError &&
      err.code === 'config' &&
      /^\/nonexistent\/ett\.toml: cannot read config file: no such file$/.test(err.message)
    );
  });
});

test('a TOML syntax error does not quote the offending line (it may hold a password)', () => {
  assert.throws(
    () => parseConfigText('[socks_users]\nbob = "hunter2\n', 'c.toml'),
    (err: unknown) =>
      err instanceof TunnelError &&
      /^c\.toml: line 2, column \d+: invalid TOML/.test(err.message) &&
      !err.message.includes('hunter2'),
  );
});

test('parseListen', () => {
  assert.deepEqual(parseListen('127.0.0.1:1080'), { host: '127.0.0.1', port: 1080 });
  assert.deepEqual(parseListen('localhost:0'), { host: 'localhost', port: 0 });
  assert.deepEqual(parseListen('[::]:7000'), { host: '::', port: 7000 });
  for (const bad of [
    '',
    ':80',
    '1.2.3.4',
    '1.2.3.4:',
    '1.2.3.4:x',
    '1.2.3.4:-1',
    '[::1]',
    '::1:80',
    'a b:80',
  ]) {
    assert.equal(typeof parseListen(bad), 'string', bad);
  }
});

test('clientOptionsFrom loads the key the settings name', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ett-config-'));
  try {
    const pin = await writeNewKeyFile(join(dir, 'client.key'));
    await writeFile(
      join(dir, 'client.toml'),
      `key = "client.key"\nvia = "${SHARE_A}"\n[socks_users]\na = "b"\n`,
    );
    const opts = await clientOptionsFrom(await loadClientSettings(flagInputs({}), join(dir, 'client.toml')));
    assert.equal(opts.identity.pin, pin);
    assert.equal(opts.socksUsers?.get('a'), 'b');
    assert.equal(opts.routing.default.kind === 'route' && opts.routing.default.route.relays.length, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('validateUp: defaults, flags, and errors naming the flag', () => {
  assert.deepEqual(validateUp(flagInputs({})), {
    listen: { host: '127.0.0.1', port: 1080 },
    logLevel: 'info',
  });
  assert.deepEqual(validateUp(flagInputs({ listen: '127.0.0.1:0', 'log-level': 'warn' })), {
    listen: { host: '127.0.0.1', port: 0 },
    logLevel: 'warn',
  });
  assert.throws(
    () => validateUp(flagInputs({ listen: '1080' })),
    /^TunnelError: --listen: "1080": expected HOST:PORT$/,
  );
});
