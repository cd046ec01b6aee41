// Runs the real bin/ett (which loads the build in dist/) as a user would, and checks output and exit
// status. Needs `tsc -p .` first; the test command does that.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { pinOfCertificate } from '../identity/pin.js';
import { formatShareString } from '../wire/share-string.js';

/** The repo root: the nearest ancestor of this file holding bin/ett (dist/src/cli → repo), else the cwd. */
function repoRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'bin', 'ett')) && existsSync(join(dir, 'package.json'))) return dir;
  }
  return process.cwd();
}

const BIN = join(repoRoot(), 'bin', 'ett');
const work = mkdtempSync(join(tmpdir(), 'ett-cli-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function ett(...args: string[]): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: work, encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const PIN = /^[A-Za-z0-9+/]{43}=$/;

test('keygen writes a 0600 key and prints its 44-char pin on one line', () => {
  const r = ett('keygen', 'a.key');
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.equal(lines.length, 2);
  assert.equal(lines[1], '');
  assert.match(lines[0]!, PIN);
  assert.equal(statSync(join(work, 'a.key')).mode & 0o777, 0o600);
  assert.match(readFileSync(join(work, 'a.key'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
});

test('keygen refuses to overwrite an existing file (exit 2), leaving it intact', () => {
  writeFileSync(join(work, 'taken.key'), 'precious\n', { mode: 0o600 });
  const r = ett('keygen', 'taken.key');
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'ett: taken.key: already exists; refusing to overwrite\n');
  assert.equal(readFileSync(join(work, 'taken.key'), 'utf8'), 'precious\n');
});

test('pin prints the same pin keygen printed', () => {
  const made = ett('keygen', 'b.key');
  const r = ett('pin', 'b.key');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, made.stdout);
});

test("cert prints a PEM certificate whose key's pin is the key file's", () => {
  const pin = ett('keygen', 'c.key').stdout.trim();
  const r = ett('cert', 'c.key');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
  const cert = new X509Certificate(r.stdout);
  assert.equal(pinOfCertificate(cert), pin);
  assert.equal(cert.subject, 'CN=ett');
});

test('a key file readable by group or others is refused (exit 2) by every command that loads it', () => {
  ett('keygen', 'open.key');
  chmodSync(join(work, 'open.key'), 0o644);
  writeFileSync(join(work, 'open.toml'), 'key = "open.key"\ndefault = "direct"\n');
  const expected = 'open.key: key file is readable by group or others (mode 0644); run: chmod 600 open.key\n';
  // The daemons name where the key was given too: the flag, or the config file and its key.
  for (const [where, args] of [
    ['', ['pin', 'open.key']],
    ['', ['cert', 'open.key']],
    ['--key: ', ['relay', '--key', 'open.key', '--listen', '127.0.0.1:0', '--allow-any']],
    ['--key: ', ['client', '--key', 'open.key', '--listen', '127.0.0.1:0', '--default', 'direct']],
    ['open.toml: key: ', ['check-config', 'open.toml']],
  ] as const) {
    const r = ett(...args);
    assert.equal(r.status, 2, args.join(' '));
    assert.equal(r.stderr, `ett: ${where}${expected}`);
    assert.equal(r.stdout, '');
  }
});

test('relay with a bad --exit rule exits 2 naming the rule', () => {
  ett('keygen', 'r.key');
  const r = ett('relay', '--key', 'r.key', '--listen', '127.0.0.1:0', '--allow-any', '--exit', 'acept *:80');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^ett: --exit: "acept \*:80": unknown action "acept"/);
});

test('a config file with an unknown key exits 2 naming the file and the key', () => {
  writeFileSync(
    join(work, 'relay.toml'),
    'key = "r.key"\nlisten = "127.0.0.1:0"\nallow_any = true\nlisen = "x"\n',
  );
  const r = ett('relay', '--config', 'relay.toml');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^ett: relay\.toml: lisen: unknown key for relay/);
  writeFileSync(
    join(work, 'relay2.toml'),
    'key = "r.key"\nlisten = "127.0.0.1:0"\nallow_any = true\n[limits]\nfoo_ms = 1\n',
  );
  const r2 = ett('relay', '--config', 'relay2.toml');
  assert.equal(r2.status, 2);
  assert.match(r2.stderr, /^ett: relay2\.toml: limits\.foo_ms: unknown limit/);
});

test('relay: missing flags and an allow list that serves nobody exit 2 with the reason', () => {
  const noKey = ett('relay', '--listen', '127.0.0.1:0', '--allow-any');
  assert.equal(noKey.status, 2);
  assert.match(noKey.stderr, /^ett: missing --key FILE/);
  const noListen = ett('relay', '--key', 'r.key', '--allow-any');
  assert.equal(noListen.status, 2);
  assert.match(noListen.stderr, /^ett: missing --listen HOST:PORT/);
  const nobody = ett('relay', '--key', 'r.key', '--listen', '127.0.0.1:0');
  assert.equal(nobody.status, 2);
  assert.match(nobody.stderr, /^ett: relay would serve nobody/);
  const unknownFlag = ett('relay', '--bogus');
  assert.equal(unknownFlag.status, 2);
  assert.match(unknownFlag.stderr, /^ett: relay: Unknown option '--bogus'/);
});

test('up with a bad --listen exits 2 before starting anything', () => {
  const r = ett('up', '--listen', 'nope');
  assert.equal(r.status, 2);
  assert.equal(r.stderr, 'ett: --listen: "nope": expected HOST:PORT\n');
  assert.equal(r.stdout, '');
});

test('client: missing --via exits 2 naming the flag', () => {
  const r = ett('client', '--key', 'r.key');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^ett: missing --via/);
});

// Three relays with fixed pins (short pins AQEBAQEB, AgICAgIC, AwMDAwMD): only their text matters here.
const share = (byte: number, host: string): string =>
  formatShareString({ pin: Buffer.alloc(32, byte).toString('base64'), target: { host, port: 7000 } });
const CLIENT_TOML = `key = "cc.key"
default = "chain"

[relays]
a = "${share(1, '10.0.1.1')}"
b = "${share(2, 'relay-b.example.net')}"
c = "${share(3, '2001:db8::c')}"

[routes]
chain = ["a", "b", "c"]
short = "a, b"

[groups]
safe = ["chain", "b"]

[[rules]]
host = [".lan", "localhost"]
action = "direct"

[[rules]]
host = "ads.example.org"
action = "block"

[[rules]]
host = "*.example.org"
port = "80-443"
action = "short"

[[rules]]
cidr = ["10.0.0.0/8", "[fd00::]/8"]
action = "safe"

[[forwards]]
listen = "127.0.0.1:2222"
to = "git.internal:22"

[socks_users]
alice = "correct horse battery staple"
`;

test('check-config prints the effective client configuration, password redacted, and exits 0', () => {
  const pin = ett('keygen', 'cc.key').stdout.trim();
  writeFileSync(join(work, 'cc.toml'), CLIENT_TOML);
  const r = ett('check-config', 'cc.toml');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.ok(!r.stdout.includes('correct horse'));
  for (const line of [
    '# ett client: the effective configuration (defaults filled in, secrets redacted)',
    `key = "cc.key"  # pin ${pin}`,
    'listen = "127.0.0.1:1080"',
    'default = "chain"  # route chain: AQEBAQEB > AgICAgIC > AwMDAwMD',
    'chain = ["a", "b", "c"]  # route chain: AQEBAQEB > AgICAgIC > AwMDAwMD',
    'short = ["a", "b"]  # route short: AQEBAQEB > AgICAgIC',
    'safe = ["chain", "b"]',
    '[[rules]]  # rules[2] host=*.example.org port=80-443',
    'cidr = ["10.0.0.0/8", "fd00::/8"]',
    'via = "chain"  # route chain: AQEBAQEB > AgICAgIC > AwMDAwMD',
    'alice = "<redacted>"',
    'path_length_max = 8',
  ]) {
    assert.ok(r.stdout.split('\n').includes(line), `missing line: ${line}\n${r.stdout}`);
  }
});

test('check-config on a bad file exits 2 naming the file, the key path and the reason', () => {
  const cases: [string, string][] = [
    [
      CLIENT_TOML.replace('action = "short"', 'action = "shrot"'),
      'ett: bad.toml: rules[2].action: unknown name "shrot": must be direct, block, or the name of a ' +
        'relay, route or group (known: a, b, c, chain, short, safe)\n',
    ],
    [
      CLIENT_TOML.replace('chain = ["a", "b", "c"]', 'chain = ["a", "b", "d"]'),
      'ett: bad.toml: routes.chain[2]: unknown relay "d" (known: a, b, c)\n',
    ],
    [
      CLIENT_TOML.replace('safe = ["chain", "b"]', 'safe = ["chain", "b"]\nouter = ["safe"]'),
      'ett: bad.toml: groups.outer[0]: "safe" is a group; a group cannot hold a group\n',
    ],
    [
      CLIENT_TOML.replace('to = "git.internal:22"', 'to = "git.internal"'),
      'ett: bad.toml: forwards[0].to: "git.internal": missing \':port\'\n',
    ],
    [
      CLIENT_TOML.replace('"[fd00::]/8"', '"[fd00::1]/8"'),
      'ett: bad.toml: rules[3].cidr[1]: "[fd00::1]/8" has bits set beyond the prefix (did you mean fd00::/8?)\n',
    ],
  ];
  for (const [toml, expected] of cases) {
    writeFileSync(join(work, 'bad.toml'), toml);
    const r = ett('check-config', 'bad.toml');
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, expected);
  }
  const missingFile = ett('check-config', 'nope.toml');
  assert.equal(missingFile.status, 2);
  assert.equal(missingFile.stderr, 'ett: nope.toml: cannot read config file: no such file\n');
});

test('check-config infers a relay file from its keys; --role forces the role', () => {
  ett('keygen', 'cr.key');
  writeFileSync(
    join(work, 'cr.toml'),
    'key = "cr.key"\nlisten = "0.0.0.0:7000"\nallow_any = true\nexit = ["accept 10.0.0.0/8:22", "reject *:*"]\n',
  );
  const r = ett('check-config', 'cr.toml');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^# ett relay: the effective configuration/);
  assert.match(
    r.stdout,
    /^exit = \[\n {2}"accept 10\.0\.0\.0\/8:22",\n {2}"reject \*:\*",\n\] {2}# then the defaults$/m,
  );
  const forced = ett('check-config', 'cr.toml', '--role', 'client');
  assert.equal(forced.status, 2);
  assert.match(forced.stderr, /^ett: cr\.toml: (listen|allow_any|exit): unknown key for client/);
  const badRole = ett('check-config', 'cr.toml', '--role', 'exit');
  assert.equal(badRole.status, 2);
  assert.equal(badRole.stderr, 'ett: --role: "exit": must be relay or client\n');
});

test('explain prints the matching rule and the path, without reading the key file', () => {
  writeFileSync(join(work, 'ex.toml'), CLIENT_TOML.replace('key = "cc.key"', 'key = "absent.key"'));
  const cases: [string, string, string][] = [
    [
      'www.example.org:443',
      'rules[2] host=*.example.org port=80-443 → route short: AQEBAQEB > AgICAgIC\n',
      '',
    ],
    [
      'www.example.org:8443',
      'default → route chain: AQEBAQEB > AgICAgIC > AwMDAwMD\n',
      'note: rules[3] matches',
    ],
    ['ads.example.org:443', 'rules[1] host=ads.example.org → block\n', ''],
    ['printer.lan:631', 'rules[0] host=.lan,localhost → direct\n', 'note: direct: this machine resolves'],
    [
      '10.1.2.3:22',
      'rules[3] cidr=10.0.0.0/8,fd00::/8 → group safe: [route chain: AQEBAQEB > AgICAgIC > AwMDAwMD] ' +
        'then [route b: AgICAgIC]\n',
      '',
    ],
    ['[fd00::5]:80', 'rules[3] cidr=10.0.0.0/8,fd00::/8 → group safe: ', ''],
    ['[::ffff:10.0.0.1]:80', 'rules[3] cidr=10.0.0.0/8,fd00::/8 → group safe: ', ''],
    ['ten.internal:22', 'default → route chain: ', 'note: rules[3] matches IP addresses only'],
  ];
  for (const [target, out, err] of cases) {
    const r = ett('explain', target, '--config', 'ex.toml');
    assert.equal(r.status, 0, `${target}: ${r.stderr}`);
    assert.ok(r.stdout.startsWith(out), `${target}: ${r.stdout}`);
    if (err === '') assert.equal(r.stderr, '', target);
    else assert.ok(r.stderr.startsWith(err), `${target}: ${r.stderr}`);
  }
  const via = ett('explain', 'www.example.org:8443', '--config', 'ex.toml', '--via', 'b,a');
  assert.equal(via.stdout, 'default → route via: AgICAgIC > AQEBAQEB\n');
  const noConfig = ett('explain', 'example.com:443', '--via', share(3, 'h'));
  assert.equal(noConfig.status, 0, noConfig.stderr);
  assert.equal(noConfig.stdout, 'default → route via: AwMDAwMD\n');
  const badTarget = ett('explain', 'example.com', '--default', 'direct');
  assert.equal(badTarget.status, 2);
  assert.equal(badTarget.stderr, 'ett: explain: "example.com": missing \':port\'\n');
  const nothing = ett('explain', 'example.com:443');
  assert.equal(nothing.status, 2);
  assert.match(nothing.stderr, /^ett: missing --via SHARE\[,SHARE\.\.\.\] or --default ACTION/);
});

test('client: --forward errors exit 2 naming the flag, before anything listens', () => {
  ett('keygen', 'fw.key');
  const base = ['client', '--key', 'fw.key', '--listen', '127.0.0.1:0', '--default', 'direct'];
  const cases: [string[], string][] = [
    [
      ['--forward', '2222:git.internal'],
      'ett: --forward: "2222:git.internal": expected [BIND:]LPORT:HOST:PORT (IPv6 in brackets)\n',
    ],
    [
      ['--forward', '0:h:22', '--forward', '::1:2222:h:22'],
      'ett: --forward #2: "::1:2222:h:22": expected [BIND:]LPORT:HOST:PORT (IPv6 in brackets)\n',
    ],
    [['--forward', '70000:h:22'], 'ett: --forward: "70000:h:22": listen side: port must be 0..65535\n'],
    [['--forward', '2222:h:0'], 'ett: --forward: "2222:h:0": target: port 0 is outside 1..65535\n'],
    [
      ['--forward', '2222:h:22', '--forward', '2222:i:22'],
      'ett: --forward #2: 127.0.0.1:2222 is also --forward #1\n',
    ],
    [['--forward'], "ett: client: Option '--forward <value>' argument missing (see: ett client --help)\n"],
  ];
  for (const [extra, expected] of cases) {
    const r = ett(...base, ...extra);
    assert.equal(r.status, 2, extra.join(' '));
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, expected);
  }
});

test('help: ett help, --help and per-command --help print usage and exit 0; no command exits 2', () => {
  for (const args of [['help'], ['--help'], ['-h']]) {
    const r = ett(...args);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^ett — encrypted TCP tunneler/);
    assert.match(r.stdout, /ett relay --key FILE --listen HOST:PORT/);
  }
  for (const command of ['up', 'keygen', 'pin', 'cert', 'relay', 'client', 'check-config', 'explain']) {
    for (const args of [
      [command, '--help'],
      ['help', command],
    ]) {
      const r = ett(...args);
      assert.equal(r.status, 0, args.join(' '));
      assert.match(r.stdout, new RegExp(`^Usage: ett ${command}`));
    }
  }
  const none = ett();
  assert.equal(none.status, 2);
  assert.match(none.stderr, /^ett — /);
  const unknown = ett('frobnicate');
  assert.equal(unknown.status, 2);
  assert.equal(unknown.stderr, 'ett: unknown command "frobnicate"; run: ett help\n');
});

test('a key file that cannot be read is refused (exit 2) naming the file and why', () => {
  // Root reads a mode-000 file anyway, so "unreadable" is tested as what root cannot read either: a
  // directory, a missing file, a path through a regular file. Mode 000 itself is checked when not root.
  ett('keygen', 'plain.key');
  const cases: [string, RegExp][] = [
    [work, /: not a regular file\n$/],
    [join(work, 'absent.key'), /absent\.key: no such file or directory\n$/],
    [join(work, 'plain.key', 'x.key'), /x\.key: a parent is not a directory\n$/],
  ];
  if (process.getuid?.() !== 0) {
    ett('keygen', 'locked.key');
    chmodSync(join(work, 'locked.key'), 0o000);
    cases.push([join(work, 'locked.key'), /locked\.key: permission denied\n$/]);
  }
  for (const [file, reason] of cases) {
    writeFileSync(
      join(work, 'unreadable.toml'),
      `key = ${JSON.stringify(file)}\nallow_any = true\nlisten = "127.0.0.1:0"\n`,
    );
    for (const args of [
      ['relay', '--key', file, '--listen', '127.0.0.1:0', '--allow-any'],
      ['relay', '--config', 'unreadable.toml'],
      ['check-config', 'unreadable.toml'],
    ]) {
      const r = ett(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      const where = args[1] === '--key' ? '--key: ' : 'unreadable.toml: key: ';
      assert.match(r.stderr, new RegExp(`^ett: ${where}${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
      assert.match(r.stderr, reason);
    }
  }
});

const OPEN_RELAY = /WARNING: this is an OPEN RELAY TO THE INTERNET FOR ANYONE/;

test('check-config warns loudly about an open relay (any key, default exit policy, not loopback)', () => {
  ett('keygen', 'warn.key');
  const file = (body: string): string => {
    writeFileSync(join(work, 'warn.toml'), `key = "warn.key"\n${body}`);
    return 'warn.toml';
  };
  const loud = [
    'listen = "0.0.0.0:7000"\nallow_any = true\n',
    'listen = "[::]:7000"\nallow_any = true\n',
    'listen = "192.0.2.1:7000"\nallow_any = true\n',
    'listen = "relay.example.org:7000"\nallow_any = true\n',
  ];
  const quiet = [
    'listen = "127.0.0.1:7000"\nallow_any = true\n',
    'listen = "[::1]:7000"\nallow_any = true\n',
    `listen = "0.0.0.0:7000"\nallow = ["${ett('pin', 'warn.key').stdout.trim()}"]\n`,
    'listen = "0.0.0.0:7000"\nallow_any = true\nexit = ["accept *:443", "reject *:*"]\n',
  ];
  for (const body of loud) {
    const r = ett('check-config', file(body), '--role', 'relay');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, OPEN_RELAY, body);
    assert.match(r.stderr, /--allow PIN/);
    assert.match(r.stderr, /exit policy/);
  }
  for (const body of quiet) {
    const r = ett('check-config', file(body), '--role', 'relay');
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, OPEN_RELAY, body);
  }
});

test('version: `ett version` and `ett --version` print the package version, Node and OpenSSL', () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version: string };
  const line = `ett ${pkg.version} (Node ${process.version}, OpenSSL ${process.versions.openssl})\n`;
  for (const args of [['version'], ['--version']]) {
    const r = ett(...args);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, line);
    assert.equal(r.stderr, '');
  }
  const extra = ett('version', 'now');
  assert.equal(extra.status, 2);
  assert.match(extra.stderr, /^ett: version: Unexpected argument 'now'/);
  assert.match(ett('help', 'version').stdout, /^Usage: ett version/);
});
