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
  const expected =
    'ett: open.key: key file is readable by group or others (mode 0644); run: chmod 600 open.key\n';
  for (const args of [
    ['pin', 'open.key'],
    ['cert', 'open.key'],
    ['relay', '--key', 'open.key', '--listen', '127.0.0.1:0', '--allow-any'],
  ]) {
    const r = ett(...args);
    assert.equal(r.status, 2, args.join(' '));
    assert.equal(r.stderr, expected);
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

test('help: ett help, --help and per-command --help print usage and exit 0; no command exits 2', () => {
  for (const args of [['help'], ['--help'], ['-h']]) {
    const r = ett(...args);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^ett — encrypted TCP tunneler/);
    assert.match(r.stdout, /ett relay --key FILE --listen HOST:PORT/);
  }
  for (const command of ['up', 'keygen', 'pin', 'cert', 'relay', 'client']) {
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
