// Errors a new user meets first (issue 15), each through bin/ett: a port in use (one message with the
// reason and the flag to change, exit 2, relay and client alike), a missing key file and a missing
// default path named by where they were (or were not) given, a 43-character pin ending in '=', and a
// program under `ett run --socks` meeting a client that wants a SOCKS login.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Cleanup, REPO_ROOT, keygen, runEtt, spawnEtt, tempDir, waitFor, type Key } from '../support/proc.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

let dir: string;
let key: Key;
let busy: number;
const SHARE = 'ett://Z4UhHI1f6I2nEVa11pN1F4mEmGi1jLelGMGHJboAAq8@127.0.0.1:9';

before(async () => {
  dir = await tempDir(cleanup);
  key = await keygen(dir, 'me');
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.add(() => new Promise<void>((r) => server.close(() => r())));
  busy = (server.address() as net.AddressInfo).port;
});

test('a port in use: relay and client say why and which flag, both exit 2', async () => {
  const relay = await runEtt(['relay', '--key', key.file, '--listen', `127.0.0.1:${busy}`, '--allow-any']);
  const client = await runEtt(['client', '--key', key.file, '--listen', `127.0.0.1:${busy}`, '--via', SHARE]);
  const want = `ett: cannot listen on 127.0.0.1:${busy}: address in use (another process listens there); choose another with --listen\n`;
  for (const [who, r] of [
    ['relay', relay],
    ['client', client],
  ] as const) {
    assert.equal(r.code, 2, `${who}: ${r.stderr}`);
    assert.ok(r.stderr.endsWith(want), `${who}: ${r.stderr}`);
    assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('ett: ')).length, 1, `${who}: one message`);
  }
});

test('a missing key file is named with the flag or the config key that named it', async () => {
  const flag = await runEtt(['client', '--key', 'bad/missing.key', '--via', SHARE]);
  assert.equal(flag.code, 2);
  assert.equal(flag.stderr, 'ett: --key: bad/missing.key: no such file or directory\n');
  const file = path.join(dir, 'c.toml');
  await writeFile(file, `key = "nokey.key"\nvia = "${SHARE}"\n`);
  for (const args of [
    ['client', '--config', file],
    ['check-config', file],
  ]) {
    const r = await runEtt(args);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr, `ett: ${file}: key: ${path.join(dir, 'nokey.key')}: no such file or directory\n`);
  }
  const relayFile = path.join(dir, 'r.toml');
  await writeFile(relayFile, `key = "gone.key"\nlisten = "127.0.0.1:0"\nallow_any = true\n`);
  const relay = await runEtt(['relay', '--config', relayFile]);
  assert.equal(relay.code, 2);
  assert.match(relay.stderr, /^ett: .*r\.toml: key: .*gone\.key: no such file or directory\n$/);
});

test('no default path: the config file is named, and the keys to add there', async () => {
  const file = path.join(dir, 'novia.toml');
  await writeFile(file, `key = "me.key"\n`);
  const r = await runEtt(['client', '--config', file]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`^ett: ${file}: missing \`via\` or \`default\``));
  const bare = await runEtt(['client', '--key', key.file]);
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /^ett: missing --via SHARE\[,SHARE\.\.\.\] or --default ACTION/);
});

test("a 43-character pin ending in '=' is said to have 42 characters and one '='", async () => {
  const pin = key.pin.slice(0, 42) + '=';
  assert.equal(pin.length, 43);
  const r = await runEtt(['relay', '--key', key.file, '--listen', '127.0.0.1:0', '--allow', pin]);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    "ett: --allow: pin must be 43 base64 characters (44 with '='), got 42 and one '=': is it a SHA-256 pin?\n",
  );
});

const LIBRARY = path.join(REPO_ROOT, 'dist', 'native', 'libett-run.so');

test(
  'ett run --socks against a client that wants a login: "SOCKS login required/refused", logged by the client at info',
  { skip: existsSync(LIBRARY) ? false : `no ${LIBRARY} (no C compiler at build)`, timeout: 90_000 },
  async () => {
    const file = path.join(dir, 'login.toml');
    await writeFile(
      file,
      `key = "me.key"\nlisten = "127.0.0.1:0"\nvia = "${SHARE}"\n[socks_users]\nalice = "a long password"\n`,
    );
    const client = spawnEtt(cleanup, ['client', '--config', file]);
    const line = await client.waitForLine(/listening on \S+:\d+/);
    const socks = /listening on (\S+:\d+)/.exec(line)![1]!;
    const fetch = ['--', 'curl', '-q', '-sS', '--max-time', '20', 'http://login.test/'];
    const none = await runEtt(['run', '--socks', socks, ...fetch], 60_000);
    assert.notEqual(none.code, 0);
    assert.match(
      none.stderr,
      /login\.test:80: SOCKS login required by the ett client \(run with --socks-user/,
    );
    assert.doesNotMatch(none.stderr, /Connection refused/);
    const wrong = await runEtt(['run', '--socks', socks, '--socks-user', 'alice', ...fetch], 60_000, {
      ETT_SOCKS_PASSWORD: 'not it',
    });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /login\.test:80: SOCKS login refused by the ett client \(check --socks-user/);
    await waitFor(
      () => client.errLines.filter((l) => / info SOCKS login refused /.test(l)).length >= 1,
      10_000,
      `the client logs the refusals at info: ${client.stderr()}`,
    );
    assert.ok(!client.stderr().includes('not it'), 'never the password tried');
  },
);
