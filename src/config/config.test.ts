import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { TunnelError } from '../errors.js';
import { writeNewKeyFile } from '../identity/keys.js';
import { DEFAULT_LIMITS } from '../limits.js';
import { describeAction, type Action } from '../client/rules.js';
import { formatShareString } from '../wire/share-string.js';
import {
  clientOptionsFrom,
  flagInputs,
  inferRole,
  loadClientSettings,
  loadRelaySettings,
  parseConfigText,
} from './load.js';
import { formatCidr, parseCidr, parseForwardSpec, parsePortRange, parsePublishSpec } from './values.js';
import {
  parseListen,
  validateClient,
  validateClientExceptKey,
  validateRelay,
  validateUp,
  type ClientSettings,
  type RelaySettings,
} from './schema.js';
import { showClient, showRelay } from './show.js';

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
    name: 'publish rules: normalized pin, ports, addresses',
    toml:
      RELAY_BASE +
      `allow_any = true\npublish = ["${PIN_A_URL} ports 8000-8100 on 0.0.0.0,::1", "${PIN_B} ports 22"]\n`,
    ok: (s) => {
      assert.deepEqual(
        s.publish.map((r) => r.text),
        [`${PIN_A} ports 8000-8100 on 0.0.0.0,::1`, `${PIN_B} ports 22`],
      );
      assert.deepEqual([s.publish[1]!.low, s.publish[1]!.high, s.publish[1]!.binds], [22, 22, null]);
    },
  },
  {
    name: 'publish rule: its shape, without echoing the pin',
    toml: RELAY_BASE + `allow_any = true\npublish = ["${PIN_A} port 80"]\n`,
    error: /^publish\[0\]: expected "PIN ports LOW\[-HIGH\] \[on ADDR\[,ADDR...\]\]"$/,
  },
  {
    name: 'publish rule: a backwards range',
    toml: RELAY_BASE + `allow_any = true\npublish = ["${PIN_A} ports 90-80"]\n`,
    error: /^publish\[0\]: ports 90-80: the range runs backwards$/,
  },
  {
    name: 'publish rule: port 0 and an address that is not one',
    toml:
      RELAY_BASE + `allow_any = true\npublish = ["${PIN_A} ports 0-10", "${PIN_A} ports 1 on relay.lan"]\n`,
    error: /^publish\[0\]: ports 0-10: ports are 1\.\.65535$/,
  },
  {
    name: 'publish rule: a name where an address goes',
    toml: RELAY_BASE + `allow_any = true\npublish = ["${PIN_A} ports 1 on relay.lan"]\n`,
    error: /^publish\[0\]: on "relay\.lan": not an IP address$/,
  },
  {
    name: 'publish rule: not a pin',
    toml: RELAY_BASE + `allow_any = true\npublish = ["alice ports 80"]\n`,
    error: /^publish\[0\]: not a pin: /,
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
const PIN_C = Buffer.alloc(32, 0x11).toString('base64');
const SHARE_C = formatShareString({ pin: PIN_C, target: { host: '10.0.1.3', port: 7000 } });
// Three named relays, a route over them, a shorter one, and a group: the base of most routing cases.
const NAMED =
  CLIENT_BASE +
  `default = "chain"\n` +
  `[relays]\na = "${SHARE_A}"\nb = "${SHARE_B}"\nc = "${SHARE_C}"\n` +
  `[routes]\nchain = ["a", "b", "c"]\nshort = "a, b"\n` +
  `[groups]\nsafe = ["chain", "b"]\n`;

/** The relays of a route action, by port (each test relay has its own). */
function ports(a: Action): number[] {
  assert.equal(a.kind, 'route');
  return a.kind === 'route' ? a.route.relays.map((r) => r.target.port) : [];
}

const CLIENT_CASES: Case<ClientSettings>[] = [
  {
    name: '[[publish]]: tables and the flag form, via a route or the default',
    toml:
      NAMED +
      `[[publish]]\nremote = "0.0.0.0:8022"\nto = "127.0.0.1:22"\nvia = "short"\n` +
      `[[publish]]\nremote = "[::]:8080"\nto = "localhost:80"\n`,
    ok: (s) => {
      const p = s.routing.publish;
      assert.equal(p.length, 2);
      assert.deepEqual(
        [p[0]!.remote, p[0]!.to, p[0]!.route.name],
        [{ host: '0.0.0.0', port: 8022 }, { host: '127.0.0.1', port: 22 }, 'short'],
      );
      assert.deepEqual(
        [p[1]!.remote, p[1]!.to, p[1]!.route.name],
        [{ host: '::', port: 8080 }, { host: 'localhost', port: 80 }, 'chain'],
      );
    },
  },
  {
    name: '[[publish]] through a group is refused',
    toml: NAMED + `[[publish]]\nremote = "0.0.0.0:8022"\nto = "127.0.0.1:22"\nvia = "safe"\n`,
    error: /^publish\[0\]\.via: a publication goes through one route \(a relay or a route\), not a group$/,
  },
  {
    name: '[[publish]] direct is refused',
    toml: NAMED + `[[publish]]\nremote = "0.0.0.0:8022"\nto = "127.0.0.1:22"\nvia = "direct"\n`,
    error: /^publish\[0\]\.via: a publication needs a relay to listen, not `direct`$/,
  },
  {
    name: '[[publish]]: a name to bind on the relay, port 0, an unknown key, the same port twice',
    toml: NAMED + `[[publish]]\nremote = "relay.lan:8022"\nto = "127.0.0.1:22"\n`,
    error: /^publish\[0\]: relay side: "relay\.lan" is not an IP address to bind$/,
  },
  {
    name: '[[publish]]: port 0 on the relay',
    toml: NAMED + `[[publish]]\nremote = "0.0.0.0:0"\nto = "127.0.0.1:22"\n`,
    error: /^publish\[0\]: relay side: give a port \(1\.\.65535\)/,
  },
  {
    name: '[[publish]]: an unknown key',
    toml: NAMED + `[[publish]]\nremote = "0.0.0.0:1"\nto = "127.0.0.1:22"\nlisten = "x"\n`,
    error: /^publish\[0\]\.listen: unknown key \(known: remote, to, via\)$/,
  },
  {
    name: '[[publish]]: the same port through the same route twice',
    toml:
      NAMED +
      `[[publish]]\nremote = "0.0.0.0:1"\nto = "127.0.0.1:22"\n` +
      `[[publish]]\nremote = "0.0.0.0:1"\nto = "127.0.0.1:80"\n`,
    error: /^publish\[1\]: 0\.0\.0\.0:1 on route chain is also published by publish\[0\]$/,
  },
  {
    name: 'minimal; listen defaults to 127.0.0.1:1080; via is the default route, named "via"',
    toml: CLIENT_BASE + `via = "${SHARE_A}"\n`,
    ok: (s, dir) => {
      assert.equal(s.keyPath, join(dir, 'client.key'));
      assert.deepEqual(s.listen, { host: '127.0.0.1', port: 1080 });
      const d = s.routing.default;
      assert.ok(d.kind === 'route');
      assert.equal(d.route.name, 'via');
      assert.deepEqual(d.route.relays, [{ pin: PIN_A, target: { host: 'relay.example', port: 7000 } }]);
      assert.equal(s.routing.via, d.route);
      assert.deepEqual(s.routing.rules, []);
      assert.deepEqual(s.routing.forwards, []);
      assert.equal(s.socksUsers, undefined);
    },
  },
  {
    name: 'via as an array, and as a comma list; socks users',
    toml:
      CLIENT_BASE +
      `listen = "[::1]:1081"\nvia = ["${SHARE_A}", "${SHARE_B}"]\n[socks_users]\nalice = "s3cret"\n`,
    ok: (s) => {
      assert.deepEqual(s.listen, { host: '::1', port: 1081 });
      assert.deepEqual(ports(s.routing.default), [7000, 7001]);
      assert.equal(s.socksUsers?.get('alice'), 's3cret');
    },
  },
  {
    name: '--via flag (comma list) overrides the file',
    toml: CLIENT_BASE + `via = "${SHARE_A}"\n`,
    flags: { via: [`${SHARE_B},${SHARE_A}`] },
    ok: (s) => assert.deepEqual(ports(s.routing.default), [7001, 7000]),
  },
  {
    name: 'via may name relays from [relays], mixed with share strings',
    toml: CLIENT_BASE + `via = "a, ${SHARE_B}"\n[relays]\na = "${SHARE_A}"\n`,
    ok: (s) => assert.deepEqual(ports(s.routing.default), [7000, 7001]),
  },
  {
    name: 'relays, routes, groups, rules and forwards',
    toml:
      NAMED +
      `[[rules]]\nhost = "*.example.org"\naction = "direct"\n` +
      `[[rules]]\ncidr = ["10.0.0.0/8", "[2001:db8::]/32"]\nport = "80-443"\naction = "safe"\n` +
      `[[rules]]\nhost = [".lan", "printer"]\naction = "block"\n` +
      `[[rules]]\nport = [22, "8000-8080"]\naction = "b"\n` +
      `[[forwards]]\nlisten = "127.0.0.1:2222"\nto = "git.internal:22"\nvia = "short"\n` +
      `[[forwards]]\nlisten = "[::1]:0"\nto = "[2001:db8::5]:443"\n`,
    ok: (s) => {
      const r = s.routing;
      assert.deepEqual([...r.relays.keys()], ['a', 'b', 'c']);
      assert.deepEqual([...r.routes.keys()], ['chain', 'short']);
      assert.deepEqual(
        r.routes.get('short')!.relays.map((x) => x.pin),
        [PIN_A, PIN_B],
      );
      assert.equal(r.via, undefined);
      assert.ok(r.default.kind === 'route' && r.default.route === r.routes.get('chain'));
      assert.deepEqual(ports(r.default), [7000, 7001, 7000]);
      const safe = r.groups.get('safe')!;
      assert.deepEqual(
        safe.members.map((m) => [m.name, m.relays.length]),
        [
          ['chain', 3],
          ['b', 1],
        ],
      );
      assert.equal(safe.members[0], r.routes.get('chain'));
      assert.deepEqual(
        r.rules.map((x) => x.text),
        [
          'rules[0] host=*.example.org',
          'rules[1] cidr=10.0.0.0/8,2001:db8::/32 port=80-443',
          'rules[2] host=.lan,printer',
          'rules[3] port=22,8000-8080',
        ],
      );
      assert.deepEqual(
        r.rules.map((x) => x.action.kind),
        ['direct', 'group', 'block', 'route'],
      );
      assert.equal(r.rules[1]!.action, safe);
      const toB = r.rules[3]!.action;
      assert.ok(toB.kind === 'route' && toB.route.name === 'b' && toB.route === safe.members[1]);
      assert.deepEqual(r.rules[2]!.hosts, [
        { kind: 'suffix', text: 'lan' },
        { kind: 'exact', text: 'printer' },
      ]);
      assert.deepEqual(r.rules[3]!.ports, [
        { low: 22, high: 22 },
        { low: 8000, high: 8080 },
      ]);
      assert.equal(r.forwards.length, 2);
      assert.deepEqual(r.forwards[0]!.listen, { host: '127.0.0.1', port: 2222 });
      assert.deepEqual(r.forwards[0]!.to, { host: 'git.internal', port: 22 });
      assert.ok(r.forwards[0]!.action.kind === 'route' && r.forwards[0]!.action.route.name === 'short');
      assert.deepEqual(r.forwards[1]!.listen, { host: '::1', port: 0 });
      assert.deepEqual(r.forwards[1]!.to, { host: '2001:db8::5', port: 443 });
      assert.equal(r.forwards[1]!.action, r.default); // no via: the default
    },
  },
  {
    name: 'a relay as the default is a one-relay route of its name; share strings in a route',
    toml: CLIENT_BASE + `default = "b"\n[relays]\nb = "${SHARE_B}"\n[routes]\nx = ["${SHARE_A}", "b"]\n`,
    ok: (s) => {
      const d = s.routing.default;
      assert.ok(d.kind === 'route' && d.route.name === 'b');
      assert.deepEqual(ports(d), [7001]);
      assert.deepEqual(
        s.routing.routes.get('x')!.relays.map((r) => r.pin),
        [PIN_A, PIN_B],
      );
    },
  },
  {
    name: 'default direct or block; a forward names its own path',
    toml:
      CLIENT_BASE +
      `default = "block"\n[[rules]]\nhost = ".corp"\naction = "direct"\n` +
      `[[forwards]]\nlisten = "127.0.0.1:0"\nto = "db.corp:5432"\nvia = "direct"\n`,
    ok: (s) => {
      assert.equal(s.routing.default.kind, 'block');
      assert.equal(s.routing.forwards[0]!.action.kind, 'direct');
    },
  },
  {
    name: '--via overrides the file default; --default overrides the file via',
    toml: NAMED,
    flags: { via: [SHARE_C] },
    ok: (s) => {
      assert.equal(s.routing.via?.name, 'via');
      assert.deepEqual(ports(s.routing.default), [7000]);
    },
  },
  {
    name: '--default overrides the file via',
    toml: CLIENT_BASE + `via = "${SHARE_A}"\n`,
    flags: { default: 'direct' },
    ok: (s) => {
      assert.equal(s.routing.default.kind, 'direct');
      assert.equal(s.routing.via, undefined);
    },
  },
  {
    name: '--forward (ssh -L syntax) replaces [[forwards]] and takes the default path',
    toml: NAMED + `[[forwards]]\nlisten = "127.0.0.1:9"\nto = "x:9"\n`,
    flags: { forward: ['2222:git.internal:22', '[::1]:0:[2001:db8::1]:443', '0.0.0.0:8080:example.org:80'] },
    ok: (s) => {
      assert.deepEqual(
        s.routing.forwards.map((f) => [f.listen, f.to]),
        [
          [
            { host: '127.0.0.1', port: 2222 },
            { host: 'git.internal', port: 22 },
          ],
          [
            { host: '::1', port: 0 },
            { host: '2001:db8::1', port: 443 },
          ],
          [
            { host: '0.0.0.0', port: 8080 },
            { host: 'example.org', port: 80 },
          ],
        ],
      );
      for (const f of s.routing.forwards) assert.equal(f.action, s.routing.default);
    },
  },
  {
    name: 'an IPv4-mapped CIDR is read as IPv4; a bare address is a /32',
    toml: NAMED + `[[rules]]\ncidr = ["::ffff:192.168.0.0/112", "192.0.2.7"]\naction = "direct"\n`,
    ok: (s) => assert.equal(s.routing.rules[0]!.text, 'rules[0] cidr=192.168.0.0/16,192.0.2.7/32'),
  },
  {
    name: 'missing via and default',
    toml: CLIENT_BASE,
    error: /missing `via` or `default` \(the path for targets no rule matches\), or give --via SHARE/,
  },
  { name: 'bad via', toml: CLIENT_BASE + 'via = ["ett://abc@h:1"]\n', error: /^via\[0\]: pin must be/ },
  {
    name: 'via not a string',
    toml: CLIENT_BASE + 'via = [7]\n',
    error: /^via\[0\]: must be a relay name or share string/,
  },
  {
    name: 'via names an unknown relay',
    toml: CLIENT_BASE + 'via = "home"\n',
    error: /^via: unknown relay "home" \(none defined in \[relays\]\)$/,
  },
  {
    name: 'via longer than path_length_max',
    toml: CLIENT_BASE + `via = ["${SHARE_A}", "${SHARE_B}"]\n[limits]\npath_length_max = 1\n`,
    error: /^via: 2 relays; at most 1 \(limits\.path_length_max\)$/,
  },
  {
    name: 'route longer than path_length_max, by share strings',
    toml:
      CLIENT_BASE +
      'default = "long"\n[routes]\nlong = [' +
      Array.from({ length: 9 }, (_, i) =>
        JSON.stringify(
          formatShareString({ pin: Buffer.alloc(32, i).toString('base64'), target: { host: 'r', port: 1 } }),
        ),
      ).join(', ') +
      ']\n',
    error: /^routes\.long: 9 relays; at most 8 \(limits\.path_length_max\)$/,
  },
  {
    name: 'the same relay twice in a route',
    toml: NAMED,
    flags: { via: ['a,b,a'] },
    error: /^--via: relay AAECAwQF appears twice; each hop must be another relay$/,
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
  {
    name: 'a bad share string in [relays]',
    toml: CLIENT_BASE + 'default = "a"\n[relays]\na = "http://x"\n',
    error: /^relays\.a: share string must start with 'ett:\/\/'$/,
  },
  {
    name: '[relays] not a table',
    toml: CLIENT_BASE + `default = "direct"\nrelays = ["${SHARE_A}"]\n`,
    error: /^relays: must be a table of name = "ett:\/\/PIN@HOST:PORT" or name = \{ share/,
  },
  {
    name: 'a reserved name',
    toml: CLIENT_BASE + `default = "direct"\n[relays]\ndirect = "${SHARE_A}"\n`,
    error: /^relays\.direct: "direct" is reserved \(direct and block are actions, not names\)$/,
  },
  {
    name: 'a name that is not a name',
    toml: CLIENT_BASE + `default = "direct"\n[relays]\n"a b" = "${SHARE_A}"\n`,
    error: /^relays\."a b": a name holds 1\.\.64 letters, digits/,
  },
  {
    name: 'one name for a relay and a route',
    toml: CLIENT_BASE + `default = "direct"\n[relays]\na = "${SHARE_A}"\n[routes]\na = ["a"]\n`,
    error: /^routes\.a: "a" is also a relay; relays, routes and groups share names$/,
  },
  {
    name: 'a route naming an unknown relay',
    toml: NAMED.replace('short = "a, b"', 'short = ["a", "x"]'),
    error: /^routes\.short\[1\]: unknown relay "x" \(known: a, b, c\)$/,
  },
  {
    name: 'a route naming a route',
    toml: NAMED.replace('short = "a, b"', 'short = ["chain"]'),
    error: /^routes\.short\[0\]: "chain" is a route; a route lists relays$/,
  },
  {
    name: 'via naming a route',
    toml: NAMED.replace('default = "chain"', 'via = "chain"'),
    error:
      /^via: "chain" is a route; a route lists relays \(to take it by default: default = "chain", or --default chain\)$/,
  },
  {
    name: 'an empty route',
    toml: NAMED.replace('short = "a, b"', 'short = []'),
    error: /^routes\.short: a route needs at least one relay$/,
  },
  {
    name: 'an empty entry in a comma list',
    toml: NAMED.replace('short = "a, b"', 'short = "a,,b"'),
    error: /^routes\.short: empty entry/,
  },
  {
    name: 'a group inside a group',
    toml: NAMED + 'outer = ["safe", "a"]\n',
    error: /^groups\.outer\[0\]: "safe" is a group; a group cannot hold a group$/,
  },
  {
    name: 'an empty group',
    toml: NAMED + 'none = []\n',
    error: /^groups\.none: a group needs at least one route or relay$/,
  },
  {
    name: 'direct in a group',
    toml: NAMED + 'leaky = ["chain", "direct"]\n',
    error: /^groups\.leaky\[1\]: "direct" cannot be a group member: a group lists routes and relays$/,
  },
  {
    name: 'an unknown group member',
    toml: NAMED + 'g = ["chain", "nope"]\n',
    error: /^groups\.g\[1\]: unknown route or relay "nope" \(known: a, b, c, chain, short\)$/,
  },
  {
    name: 'default and via both in the file',
    toml: CLIENT_BASE + `via = "${SHARE_A}"\ndefault = "direct"\n`,
    error: /^default: `default` and `via` both set the default path; keep one/,
  },
  {
    name: 'an unknown default',
    toml: NAMED.replace('default = "chain"', 'default = "chian"'),
    error:
      /^default: unknown name "chian": must be direct, block, or the name of a relay, route or group \(known: a, b, c, chain, short, safe\)$/,
  },
  {
    name: 'an action that is a share string is not echoed',
    toml: NAMED.replace('default = "chain"', `default = "${SHARE_A}"`),
    error: /^default: must be direct, block, or the name of a relay, route or group \(known: /,
  },
  {
    name: 'a rule with an unknown action',
    toml: NAMED + '[[rules]]\nhost = "a"\naction = "direct"\n[[rules]]\nport = 1\naction = "nope"\n',
    error:
      /^rules\[1\]\.action: unknown name "nope": must be direct, block, or the name of a relay, route or group/,
  },
  {
    name: 'a rule without criteria',
    toml: NAMED + '[[rules]]\naction = "direct"\n',
    error: /^rules\[0\]: needs at least one of host, cidr, port$/,
  },
  {
    name: 'a rule without an action',
    toml: NAMED + '[[rules]]\nhost = "*.example.org"\n',
    error: /^rules\[0\]: needs an action: direct, block, or the name of a relay, route or group$/,
  },
  {
    name: 'a rule with an unknown key',
    toml: NAMED + '[[rules]]\nhosts = "x"\naction = "direct"\n',
    error: /^rules\[0\]\.hosts: unknown key \(known: host, cidr, port, action, isolate\)$/,
  },
  {
    name: 'stream isolation: top level, a rule, a route and a group in table form, per host',
    toml:
      CLIENT_BASE +
      `default = "chain"\nisolate = ["source", "socks-auth"]\nisolate_per_host = true\n` +
      `[relays]\na = "${SHARE_A}"\nb = "${SHARE_B}"\n` +
      `[routes]\nchain = { relays = ["a", "b"], isolate = [] }\n` +
      `[groups]\nsafe = { members = ["chain", "b"], isolate = ["destination"] }\n` +
      `[[rules]]\nport = 22\naction = "safe"\nisolate = ["forward"]\n`,
    ok: (s) => {
      assert.deepEqual(s.routing.isolate, ['socks-auth', 'source'], 'canonical order');
      assert.equal(s.routing.isolatePerHost, true);
      const d = s.routing.default;
      assert.ok(d.kind === 'route');
      assert.deepEqual(d.route.isolate, []);
      assert.deepEqual(ports(d), [7000, 7001]);
      const safe = s.routing.groups.get('safe')!;
      assert.deepEqual(safe.isolate, ['destination']);
      assert.deepEqual(
        safe.members.map((m) => m.name),
        ['chain', 'b'],
      );
      assert.deepEqual(s.routing.rules[0]!.isolate, ['forward']);
    },
  },
  {
    name: 'stream isolation: an unknown criterion',
    toml: NAMED + '[[rules]]\nport = 22\naction = "direct"\nisolate = ["socks-auth", "process-id"]\n',
    error:
      /^rules\[0\]\.isolate\[1\]: "process-id" is not a stream isolation \(known: socks-auth, destination, forward, source\)$/,
  },
  {
    name: 'stream isolation: not a list',
    toml: NAMED.replace('default = "chain"', 'default = "chain"\nisolate = "socks-auth"'),
    error: /^isolate: must be a list of "socks-auth", "destination", "forward", "source" \(\[\] for none\)$/,
  },
  {
    name: 'stream isolation: listed twice',
    toml: NAMED.replace('default = "chain"', 'default = "chain"\nisolate = ["source", "source"]'),
    error: /^isolate\[1\]: "source" is listed twice$/,
  },
  {
    name: 'stream isolation: a route table with an unknown key, or without its relays',
    toml: NAMED.replace('short = "a, b"', 'short = { relay = ["a"] }'),
    error: /^routes\.short\.relay: unknown key \(known: relays, isolate\)$/,
  },
  {
    name: 'stream isolation: a group table without members',
    toml: NAMED.replace('safe = ["chain", "b"]', 'safe = { isolate = [] }'),
    error: /^groups\.safe: needs members = \[\.\.\.\]$/,
  },
  {
    name: 'stream isolation: isolate_per_host not a boolean',
    toml: NAMED.replace('default = "chain"', 'default = "chain"\nisolate_per_host = "yes"'),
    error: /^isolate_per_host: must be true or false$/,
  },
  {
    name: 'rules not an array of tables',
    toml: NAMED.replace('default = "chain"', 'default = "chain"\nrules = "direct"'),
    error: /^rules: must be an array of tables \(\[\[rules\]\]\)$/,
  },
  {
    name: 'a bad host pattern',
    toml: NAMED + '[[rules]]\nhost = ["ok.example", "a b"]\naction = "direct"\n',
    error: /^rules\[0\]\.host\[1\]: host pattern "a b" may hold only letters/,
  },
  {
    name: 'a suffix with a glob',
    toml: NAMED + '[[rules]]\nhost = ".*.example"\naction = "direct"\n',
    error: /^rules\[0\]\.host: host pattern "\.\*\.example": '\.suffix' takes no '\*'$/,
  },
  {
    name: 'an empty host list',
    toml: NAMED + '[[rules]]\nhost = []\naction = "direct"\n',
    error: /^rules\[0\]\.host: empty list$/,
  },
  {
    name: 'a CIDR with host bits',
    toml: NAMED + '[[rules]]\ncidr = "10.0.0.1/8"\naction = "direct"\n',
    error:
      /^rules\[0\]\.cidr: "10\.0\.0\.1\/8" has bits set beyond the prefix \(did you mean 10\.0\.0\.0\/8\?\)$/,
  },
  {
    name: 'a CIDR that is a name',
    toml: NAMED + '[[rules]]\ncidr = ["10.0.0.0/8", "example.org"]\naction = "direct"\n',
    error: /^rules\[0\]\.cidr\[1\]: "example\.org": not an IPv4 or IPv6 address/,
  },
  {
    name: 'a CIDR prefix out of range',
    toml: NAMED + '[[rules]]\ncidr = "[2001:db8::]/129"\naction = "direct"\n',
    error: /^rules\[0\]\.cidr: "\[2001:db8::\]\/129": the prefix must be 0\.\.128$/,
  },
  {
    name: 'a port range backwards',
    toml: NAMED + '[[rules]]\nport = "443-80"\naction = "direct"\n',
    error: /^rules\[0\]\.port: "443-80": the range runs backwards$/,
  },
  {
    name: 'port 0',
    toml: NAMED + '[[rules]]\nport = [80, 0]\naction = "direct"\n',
    error: /^rules\[0\]\.port\[1\]: 0: ports are 1\.\.65535$/,
  },
  {
    name: 'a port that is not a port',
    toml: NAMED + '[[rules]]\nport = "http"\naction = "direct"\n',
    error: /^rules\[0\]\.port: "http": must be a port 1\.\.65535, "443" or a range "80-443"$/,
  },
  {
    name: 'a forward without to',
    toml: NAMED + '[[forwards]]\nlisten = "127.0.0.1:2222"\n',
    error: /^forwards\[0\]\.to: needs "HOST:PORT", the target$/,
  },
  {
    name: 'a forward to no port',
    toml: NAMED + '[[forwards]]\nlisten = "127.0.0.1:2222"\nto = "git.internal"\n',
    error: /^forwards\[0\]\.to: "git\.internal": missing ':port'$/,
  },
  {
    name: 'a forward listening on no port',
    toml: NAMED + '[[forwards]]\nlisten = "2222"\nto = "git.internal:22"\n',
    error: /^forwards\[0\]\.listen: "2222": expected HOST:PORT$/,
  },
  {
    name: 'a forward via block',
    toml: NAMED + '[[forwards]]\nlisten = "127.0.0.1:0"\nto = "h:22"\nvia = "block"\n',
    error: /^forwards\[0\]\.via: a forward cannot be `block`$/,
  },
  {
    name: 'a forward via an unknown name',
    toml: NAMED + '[[forwards]]\nlisten = "127.0.0.1:0"\nto = "h:22"\nvia = "nope"\n',
    error: /^forwards\[0\]\.via: unknown name "nope"/,
  },
  {
    name: 'a forward with the default block',
    toml: CLIENT_BASE + 'default = "block"\n[[forwards]]\nlisten = "127.0.0.1:0"\nto = "h:22"\n',
    error: /^forwards\[0\]: the default action is block; give this forward a via/,
  },
  {
    name: 'a forward with an unknown key',
    toml: NAMED + '[[forwards]]\nlisten = "127.0.0.1:0"\nto = "h:22"\nroute = "chain"\n',
    error: /^forwards\[0\]\.route: unknown key \(known: listen, to, via\)$/,
  },
  {
    name: 'two forwards on one port',
    toml:
      NAMED +
      '[[forwards]]\nlisten = "127.0.0.1:2222"\nto = "h:22"\n' +
      '[[forwards]]\nlisten = "127.0.0.1:2222"\nto = "i:22"\n',
    error: /^forwards\[1\]\.listen: 127\.0\.0\.1:2222 is also forwards\[0\]\.listen$/,
  },
  {
    name: "a forward on the proxy's port",
    toml: NAMED + '[[forwards]]\nlisten = "127.0.0.1:1080"\nto = "h:22"\n',
    error: /^forwards\[0\]\.listen: 127\.0\.0\.1:1080 is also the proxy port \(listen\)$/,
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
          // Every message about the file starts with the file's name; "missing" and "serves nobody" are
          // about no one value, and a flag's message starts with the flag.
          const general = /^(missing|relay would serve nobody|--)/.test(err.message);
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
    observe: { logFormat: 'text' },
  });
  assert.deepEqual(validateUp(flagInputs({ listen: '127.0.0.1:0', 'log-level': 'warn' })), {
    listen: { host: '127.0.0.1', port: 0 },
    logLevel: 'warn',
    observe: { logFormat: 'text' },
  });
  assert.throws(
    () => validateUp(flagInputs({ listen: '1080' })),
    /^TunnelError: --listen: "1080": expected HOST:PORT$/,
  );
});

test('client flag errors name the flag: --forward, --via, --default', async () => {
  const load = (v: Record<string, unknown>) => loadClientSettings(flagInputs({ key: 'k', ...v }));
  await assert.rejects(
    load({ via: [SHARE_A], forward: ['2222:git.internal'] }),
    /^TunnelError: --forward: "2222:git.internal": expected \[BIND:\]LPORT:HOST:PORT \(IPv6 in brackets\)$/,
  );
  await assert.rejects(
    load({ via: [SHARE_A], forward: ['2222:h:22', '127.0.0.1:2222:i:22'] }),
    /^TunnelError: --forward #2: 127\.0\.0\.1:2222 is also --forward #1$/,
  );
  await assert.rejects(
    load({ via: [SHARE_A], forward: ['1:h:22', '::1:2:h:22'] }),
    /^TunnelError: --forward #2: "::1:2:h:22": expected \[BIND:\]LPORT:HOST:PORT/,
  );
  await assert.rejects(
    load({ default: 'block', forward: ['2222:h:22'] }),
    /^TunnelError: --forward: the default action is block; give this forward a via/,
  );
  await assert.rejects(
    load({ via: [SHARE_A], default: 'direct' }),
    /^TunnelError: --default: give --default or --via, not both$/,
  );
  await assert.rejects(load({ via: [SHARE_A, 'x'] }), /^TunnelError: --via #2: unknown relay "x"/);
  await assert.rejects(load({ default: 'chain' }), /^TunnelError: --default: unknown name "chain"/);
  const ok = await load({ default: 'direct', forward: ['0:h:22'] });
  assert.equal(ok.routing.forwards[0]!.action.kind, 'direct');
});

test('parsePublishSpec: ssh -R syntax; RBIND an IP address, 0.0.0.0 when left out', () => {
  assert.deepEqual(parsePublishSpec('8022:127.0.0.1:22'), {
    remote: { host: '0.0.0.0', port: 8022 },
    to: { host: '127.0.0.1', port: 22 },
  });
  assert.deepEqual(parsePublishSpec('10.0.0.5:80:localhost:8080'), {
    remote: { host: '10.0.0.5', port: 80 },
    to: { host: 'localhost', port: 8080 },
  });
  assert.deepEqual(parsePublishSpec('[::]:443:[::1]:8443'), {
    remote: { host: '::', port: 443 },
    to: { host: '::1', port: 8443 },
  });
  assert.match(String(parsePublishSpec('8022')), /^expected \[RBIND:\]RPORT:LHOST:LPORT/);
  assert.match(
    String(parsePublishSpec('relay.lan:80:h:22')),
    /^relay side: "relay\.lan" is not an IP address/,
  );
  assert.match(String(parsePublishSpec('0:h:22')), /^relay side: give a port/);
  assert.match(String(parsePublishSpec('80:h:0')), /port 0/);
});

test('parseForwardSpec: ssh -L syntax', () => {
  const good: [string, string, number, string, number][] = [
    ['2222:git.internal:22', '127.0.0.1', 2222, 'git.internal', 22],
    ['0:h:1', '127.0.0.1', 0, 'h', 1],
    ['0.0.0.0:8080:example.org:80', '0.0.0.0', 8080, 'example.org', 80],
    ['localhost:5432:db:5432', 'localhost', 5432, 'db', 5432],
    ['[::1]:2222:[2001:db8::1]:22', '::1', 2222, '2001:db8::1', 22],
    ['[::]:443:10.0.0.1:443', '::', 443, '10.0.0.1', 443],
    ['8443:[::1]:443', '127.0.0.1', 8443, '::1', 443],
  ];
  for (const [spec, bindHost, bindPort, host, port] of good) {
    assert.deepEqual(
      parseForwardSpec(spec),
      { listen: { host: bindHost, port: bindPort }, to: { host, port } },
      spec,
    );
  }
  const badSpecs: [string, RegExp][] = [
    ['2222', /^expected \[BIND:\]LPORT:HOST:PORT/],
    ['2222:h', /^expected/],
    ['a:b:c:d:e', /^expected/],
    ['::1:2222:h:22', /^expected/], // IPv6 without brackets
    ['[::1:2222:h:22', /^'\[' without '\]'/],
    ['[::1]x:2222:h:22', /^expected ':' after '\]'/],
    [':2222:h:22', /^give the bind address/],
    ['*:2222:h:22', /^give the bind address/],
    ['70000:h:22', /^listen side: port must be 0\.\.65535$/],
    ['x:h:22', /^listen side: port must be/],
    ['2222:h:0', /^target: port 0 is outside 1\.\.65535$/],
    ['2222:h:', /^target: port must be a decimal number$/],
    ['2222:a b:22', /^target: host name contains a control character or space$/],
    ['2222:[h]:22', /^target: only an IPv6 address goes in \[\]$/],
  ];
  for (const [spec, reason] of badSpecs) {
    const out = parseForwardSpec(spec);
    assert.equal(typeof out, 'string', spec);
    assert.match(out as string, reason, spec);
  }
});

test('parseCidr and parsePortRange', () => {
  const cidr = (t: string): string => {
    const c = parseCidr(t);
    return typeof c === 'string' ? `error: ${c}` : formatCidr(c);
  };
  assert.equal(cidr('10.0.0.0/8'), '10.0.0.0/8');
  assert.equal(cidr('0.0.0.0/0'), '0.0.0.0/0');
  assert.equal(cidr('192.0.2.1'), '192.0.2.1/32');
  assert.equal(cidr('[2001:db8::]/32'), '2001:db8::/32');
  assert.equal(cidr('2001:DB8::/32'), '2001:db8::/32');
  assert.equal(cidr('::/0'), '::/0');
  assert.equal(cidr('[::1]'), '::1/128');
  assert.equal(cidr('::ffff:10.0.0.0/104'), '10.0.0.0/8');
  assert.equal(cidr('::ffff:0:0/96'), '0.0.0.0/0');
  assert.match(cidr('[10.0.0.0]/8'), /^error: "\[10\.0\.0\.0\]\/8": not an IPv4 or IPv6 address/);
  assert.match(cidr('10.0.0.0/'), /^error: .*the prefix must be 0\.\.32/);
  assert.match(cidr('10.0.0.0/-1'), /^error: .*the prefix must be 0\.\.32/);
  assert.match(cidr('10.1/16'), /not an IPv4 or IPv6 address/); // inet_aton forms are not addresses here
  assert.match(cidr('fe80::1%eth0/64'), /not an IPv4 or IPv6 address/);
  assert.match(cidr('2001:db8::1/32'), /did you mean 2001:db8::\/32\?/);
  assert.deepEqual(parsePortRange(443n), { low: 443, high: 443 });
  assert.deepEqual(parsePortRange(443), { low: 443, high: 443 });
  assert.deepEqual(parsePortRange('1-65535'), { low: 1, high: 65535 });
  assert.deepEqual(parsePortRange('8080'), { low: 8080, high: 8080 });
  for (const badPort of [0n, 65536n, -1n, 1.5, '0-1', '1-65536', ' 80', '80 - 90', '0x50', '', true]) {
    assert.equal(typeof parsePortRange(badPort), 'string', String(badPort));
  }
});

test('check-config output: TOML that reads back to the same settings, passwords redacted', async () => {
  const toml =
    NAMED +
    `[[rules]]\nhost = ["*.example.org", ".lan"]\nport = [443, "8000-8080"]\naction = "safe"\n` +
    `[[rules]]\ncidr = "[2001:db8::]/32"\naction = "block"\n` +
    `[[forwards]]\nlisten = "127.0.0.1:2222"\nto = "git.internal:22"\nvia = "short"\n` +
    `[socks_users]\nalice = "hunter2"\n"odd user" = "pw"\n[limits]\npath_length_max = 4\n`;
  await withFile('client.toml', toml, async (path) => {
    const s = await loadClientSettings(flagInputs({}), path);
    const shown = showClient(s, PIN_A);
    assert.ok(!shown.includes('hunter2'));
    assert.match(shown, /^alice = "<redacted>"$/m);
    assert.match(shown, /^"odd user" = "<redacted>"$/m);
    assert.match(shown, /^key = ".*client\.key" {2}# pin AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=$/m);
    assert.match(shown, /^default = "chain" {2}# route chain: AAECAwQF > \+\/\+\/\+\/\+\/ > ERERERER$/m);
    assert.match(shown, /^chain = \["a", "b", "c"\]/m);
    assert.match(shown, /^\[\[rules\]\] {2}# rules\[0\] host=\*\.example\.org,\.lan port=443,8000-8080$/m);
    assert.match(shown, /^path_length_max = 4$/m);
    const again = validateClient(parseConfigText(shown, 'shown.toml'));
    assert.equal(again.keyPath, s.keyPath);
    assert.deepEqual(
      again.routing.rules.map((r) => [r.text, describeAction(r.action)]),
      s.routing.rules.map((r) => [r.text, describeAction(r.action)]),
    );
    assert.equal(describeAction(again.routing.default), describeAction(s.routing.default));
    assert.deepEqual(
      again.routing.forwards,
      s.routing.forwards.map((f) => ({ ...f })),
    );
    assert.deepEqual(again.limits, s.limits);
  });
  // With `via`, the default route has no name: the output writes `via`, and a forward left to the
  // default writes no via of its own.
  await withFile(
    'client.toml',
    CLIENT_BASE + `via = "${SHARE_A}"\n[[forwards]]\nlisten = "127.0.0.1:0"\nto = "h:22"\n`,
    async (path) => {
      const shown = showClient(await loadClientSettings(flagInputs({}), path));
      assert.match(
        shown,
        new RegExp(`^via = \\["${SHARE_A}"\\] {2}# the default: route via: AAECAwQF$`, 'm'),
      );
      assert.match(shown, /^# via: the default, route via: AAECAwQF$/m);
      const again = validateClient(parseConfigText(shown, 'shown.toml'));
      assert.equal(describeAction(again.routing.forwards[0]!.action), 'route via: AAECAwQF');
    },
  );
});

test('client check-config output keeps stream isolation and reads back to it', () => {
  const s = validateClient(
    parseConfigText(
      CLIENT_BASE +
        `default = "chain"\nisolate = ["destination"]\n[relays]\na = "${SHARE_A}"\n` +
        `[routes]\nchain = { relays = ["a"], isolate = ["source"] }\n[groups]\ng = { members = ["a"], isolate = [] }\n` +
        `[[rules]]\nport = 22\naction = "g"\nisolate = ["forward", "socks-auth"]\n`,
      'client.toml',
    ),
  );
  const shown = showClient(s);
  assert.match(shown, /^isolate = \["destination"\]$/m);
  assert.match(shown, /^chain = \{ relays = \["a"\], isolate = \["source"\] \}/m);
  const again = validateClient(parseConfigText(shown, 'shown.toml'));
  assert.deepEqual(again.routing.isolate, ['destination']);
  assert.deepEqual(again.routing.routes.get('chain')!.isolate, ['source']);
  assert.deepEqual(again.routing.groups.get('g')!.isolate, []);
  assert.deepEqual(again.routing.rules[0]!.isolate, ['socks-auth', 'forward']);
  assert.match(
    showClient(validateClient(parseConfigText(CLIENT_BASE + `via = "${SHARE_A}"`, 'c.toml'))),
    /^isolate = \["socks-auth"\] {2}# the default$/m,
  );
});

test('relay check-config output reads back to the same settings', async () => {
  const toml =
    RELAY_BASE +
    `advertise = "relay.example"\nallow = ["${PIN_A}"]\nexit = ["accept 10.0.0.0/8:443", "reject *:*"]\n`;
  await withFile('relay.toml', toml, async (path) => {
    const s = await loadRelaySettings(flagInputs({}), path);
    const shown = showRelay(s);
    assert.match(
      shown,
      /^exit = \[\n {2}"accept 10\.0\.0\.0\/8:443",\n {2}"reject \*:\*",\n\] {2}# then the defaults$/m,
    );
    // keyWhere names the file it was read from, which differs by design.
    assert.deepEqual({ ...validateRelay(parseConfigText(shown, 'shown.toml')), keyWhere: s.keyWhere }, s);
  });
});

test('validateClientExceptKey: explain needs no key', () => {
  const s = validateClientExceptKey(flagInputs({ default: 'direct' }));
  assert.equal(s.routing.default.kind, 'direct');
  assert.throws(() => validateClient(flagInputs({ default: 'direct' })), /^TunnelError: missing --key FILE/);
});

test('inferRole: relay keys make a relay file, anything else a client file', () => {
  const file = (text: string) => parseConfigText(text, 'f.toml');
  assert.equal(inferRole(file('key = "k"\nallow_any = true\n')), 'relay');
  assert.equal(inferRole(file('key = "k"\nexit = []\n')), 'relay');
  assert.equal(inferRole(file('key = "k"\nadvertise = "x"\n')), 'relay');
  assert.equal(inferRole(file('key = "k"\nlisten = "0.0.0.0:7000"\n')), 'client');
  assert.equal(inferRole(file('key = "k"\nvia = "x"\n')), 'client');
});

test('a relay may be shown its own key: a file (loaded at start, relative to the config) or ephemeral', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ett-config-'));
  try {
    const own = await writeNewKeyFile(join(dir, 'client.key'));
    const hopPin = await writeNewKeyFile(join(dir, 'exit-only.key'));
    await writeFile(
      join(dir, 'client.toml'),
      `key = "client.key"\ndefault = "chain"\n[relays]\na = "${SHARE_A}"\n` +
        `b = { share = "${SHARE_B}", key = "exit-only.key" }\n` +
        `c = { share = "ett://${PIN_B.replace(/\+/g, '-').replace(/\//g, '_').replace(/=$/, '')}@c.example:7000", key = "ephemeral" }\n` +
        `[routes]\nchain = ["a", "b"]\nanon = ["a", "c"]\n[[rules]]\nport = 1\naction = "anon"\n`,
    );
    const settings = await loadClientSettings(flagInputs({}), join(dir, 'client.toml'));
    assert.equal(settings.routing.hopKeyFiles.size, 1);
    assert.equal([...settings.routing.hopKeyFiles.values()][0], join(dir, 'exit-only.key'));
    const opts = await clientOptionsFrom(settings);
    assert.equal(opts.identity.pin, own);
    const chain = opts.routing.default.kind === 'route' ? opts.routing.default.route : undefined;
    assert.equal(chain?.relays[0]!.clientKey, undefined); // the client's own key
    const b = chain?.relays[1]!.clientKey;
    assert.ok(b !== undefined && b !== 'ephemeral' && b.pin === hopPin);
    const anon = opts.routing.rules[0]!.action;
    assert.equal(anon.kind === 'route' && anon.route.relays[1]!.clientKey, 'ephemeral');
    assert.match(showClient(settings, own), /^b = \{ share = "ett:\/\/.*", key = ".*exit-only\.key" \}$/m);
    assert.match(showClient(settings, own), /^c = \{ share = "ett:\/\/.*", key = "ephemeral" \}$/m);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bad per-relay keys name the key path', async () => {
  const cases: [string, RegExp][] = [
    [`a = { share = "${SHARE_A}", kee = "x" }`, /relays\.a\.kee: unknown key \(known: share, key\)/],
    [`a = { key = "x.key" }`, /relays\.a\.share: must be a share string/],
    [`a = { share = "${SHARE_A}", key = 7 }`, /relays\.a\.key: must be a key file path or "ephemeral"/],
  ];
  for (const [line, error] of cases) {
    await withFile('c.toml', `key = "client.key"\ndefault = "a"\n[relays]\n${line}\n`, async (path) => {
      await assert.rejects(loadClientSettings(flagInputs({}), path), (e: unknown) => {
        assert.match((e as Error).message, error);
        return true;
      });
    });
  }
  // A key file that is missing stops the start (exit 2 through the CLI), not the first connection.
  await withFile(
    'c.toml',
    `key = "client.key"\ndefault = "a"\n[relays]\na = { share = "${SHARE_A}", key = "gone.key" }\n`,
    async (path, dir) => {
      await writeNewKeyFile(join(dir, 'client.key'));
      const settings = await loadClientSettings(flagInputs({}), path);
      await assert.rejects(clientOptionsFrom(settings), /gone\.key/);
    },
  );
});
