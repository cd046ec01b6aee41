// The warnings a user would want (issue 15), each seen on the real CLI's stderr and absent in the safe
// case: a client proxy port open to the network without a login, a relay on 0.0.0.0 without
// --advertise, an open-files limit below what the limits need, and the exit policy's refusals logged at
// info naming the rule. Binds 0.0.0.0 on free ports; all traffic stays on loopback.

import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { DEFAULT_LIMITS, openFilesNeeded } from '../../src/limits.js';
import {
  Cleanup,
  curl,
  keygen,
  runEtt,
  spawnEtt,
  startTunnel,
  tempDir,
  waitFor,
  type Key,
} from '../support/proc.js';
import { startHttpTarget, testBody, type HttpTarget } from '../support/servers.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

let dir: string;
let key: Key;
let target: HttpTarget;
before(async () => {
  dir = await tempDir(cleanup);
  key = await keygen(dir, 'k');
  target = await startHttpTarget(cleanup, testBody(1024, 'warn'));
});

/** Starts `ett ARGS` (under `prlimit --nofile` when given), waits for its listening line, stops it; its stderr. */
async function startupStderr(args: string[], openFiles?: number): Promise<string> {
  const proc = spawnEtt(cleanup, args, openFiles);
  await proc.waitForLine(/listening/);
  await proc.stop();
  return proc.stderr();
}

async function writeConfig(name: string, lines: string[]): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, lines.join('\n') + '\n');
  return file;
}

const OPEN_PROXY = /WARNING: this client is an OPEN PROXY/;

test('client on 0.0.0.0 without socks_users: a loud warning at start, with the fixes', async () => {
  const err = await startupStderr([
    'client',
    '--key',
    key.file,
    '--listen',
    '0.0.0.0:0',
    '--default',
    'direct',
    '--log-level',
    'silent',
  ]);
  assert.match(err, OPEN_PROXY);
  assert.match(err, /listens on 0\.0\.0\.0 \(not loopback\)/);
  assert.match(err, /--listen 127\.0\.0\.1:1080/);
  assert.match(err, /\[socks_users\]/);
});

test('client on 127.0.0.1, or on 0.0.0.0 with socks_users: no open-proxy warning', async () => {
  const loop = await startupStderr([
    'client',
    '--key',
    key.file,
    '--listen',
    '127.0.0.1:0',
    '--default',
    'direct',
  ]);
  assert.doesNotMatch(loop, OPEN_PROXY);
  assert.match(loop, /client \S+: 0 rule\(s\)/, 'the client did start and log');
  const file = await writeConfig('login.toml', [
    `key = "${key.file}"`,
    'listen = "0.0.0.0:0"',
    'default = "direct"',
    '[socks_users]',
    'alice = "a long password"',
  ]);
  const login = await startupStderr(['client', '--config', file]);
  assert.doesNotMatch(login, OPEN_PROXY);
  assert.match(login, /client \S+: 0 rule\(s\)/);
});

test('check-config: the open-proxy warning for 0.0.0.0, none for a login or loopback', async () => {
  const open = await writeConfig('open.toml', [
    `key = "${key.file}"`,
    'listen = "0.0.0.0:1080"',
    'default = "direct"',
  ]);
  const r = await runEtt(['check-config', open]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, OPEN_PROXY);
  const safe = await writeConfig('safe.toml', [
    `key = "${key.file}"`,
    'listen = "0.0.0.0:1080"',
    'default = "direct"',
    '[socks_users]',
    'alice = "a long password"',
  ]);
  const s = await runEtt(['check-config', safe]);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(s.stderr, '');
});

const ADVERTISE = /share string names 0\.0\.0\.0.*--advertise HOST/;

test('relay on 0.0.0.0 without --advertise: a warning at start and in check-config', async () => {
  const err = await startupStderr(['relay', '--key', key.file, '--listen', '0.0.0.0:0', '--allow', key.pin]);
  assert.match(err, ADVERTISE);
  const file = await writeConfig('relay.toml', [
    `key = "${key.file}"`,
    'listen = "0.0.0.0:7000"',
    `allow = ["${key.pin}"]`,
  ]);
  const r = await runEtt(['check-config', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, ADVERTISE);
});

test('relay on 0.0.0.0 with --advertise, or on 127.0.0.1: no advertise warning', async () => {
  for (const listen of [
    ['--listen', '0.0.0.0:0', '--advertise', '127.0.0.1'],
    ['--listen', '127.0.0.1:0'],
  ]) {
    const err = await startupStderr(['relay', '--key', key.file, ...listen, '--allow', key.pin]);
    assert.doesNotMatch(err, /--advertise/, listen.join(' '));
    assert.match(err, /serving 1 allowed client key/);
  }
});

test('open-files limit of 1024: one warning with the number the default limits need', async () => {
  const need = openFilesNeeded(DEFAULT_LIMITS, 'relay');
  const err = await startupStderr(
    ['relay', '--key', key.file, '--listen', '127.0.0.1:0', '--allow', key.pin],
    1024,
  );
  const lines = err.split('\n').filter((l) => /open-files limit/.test(l));
  assert.equal(lines.length, 1, err);
  assert.match(
    lines[0]!,
    new RegExp(`limit is 1024, below the ${need} .*ulimit -n ${need}.*LimitNOFILE=${need}`),
  );
  const cneed = openFilesNeeded(DEFAULT_LIMITS, 'client');
  const c = await startupStderr(
    ['client', '--key', key.file, '--listen', '127.0.0.1:0', '--default', 'direct'],
    1024,
  );
  assert.match(c, new RegExp(`open-files limit is 1024, below the ${cneed} this client's limits need`));
});

test('open-files limit of 1024 with limits that fit in it: no warning', async () => {
  const file = await writeConfig('small.toml', [
    `key = "${key.file}"`,
    'listen = "127.0.0.1:0"',
    `allow = ["${key.pin}"]`,
    '[limits]',
    'links_max = 100',
    'handshakes_in_flight = 16',
    'exit_sockets_per_client = 500',
    'udp_associations_per_client = 16',
    'publish_ports_per_client = 1',
    'publish_connections_per_port = 64',
  ]);
  const err = await startupStderr(['relay', '--config', file], 1024);
  assert.doesNotMatch(err, /open-files limit/);
  assert.match(err, /serving 1 allowed client key/);
});

test('a reload that raises the limits past the open-files limit: the warning then, once', async () => {
  const small = [
    `key = "${key.file}"`,
    'listen = "127.0.0.1:0"',
    `allow = ["${key.pin}"]`,
    '[limits]',
    'handshakes_in_flight = 16',
    'exit_sockets_per_client = 500',
    'udp_associations_per_client = 16',
    'publish_ports_per_client = 1',
    'publish_connections_per_port = 64',
  ];
  const file = await writeConfig('grow.toml', [...small, 'links_max = 100']);
  const relay = spawnEtt(cleanup, ['relay', '--config', file], 1024);
  await relay.waitForLine(/listening/);
  assert.doesNotMatch(relay.stderr(), /open-files limit/);
  await writeConfig('grow.toml', [...small, 'links_max = 5000']);
  relay.signal('SIGHUP');
  const need = openFilesNeeded(
    {
      ...DEFAULT_LIMITS,
      handshakesInFlight: 16,
      exitSocketsPerClient: 500,
      udpAssociationsPerClient: 16,
      publishPortsPerClient: 1,
      publishConnectionsPerPort: 64,
      linksMax: 5000,
    },
    'relay',
  );
  await relay.waitForLine(new RegExp(` warn warning: the open-files limit is 1024, below the ${need} `), {
    stderr: true,
  });
  await relay.waitForLine(/reload: /, { stderr: true });
  relay.signal('SIGHUP'); // the same file again: nothing new to say
  await waitFor(
    () => relay.errLines.filter((l) => /reload: no changes/.test(l)).length === 1,
    10_000,
    'second reload',
  );
  assert.equal(relay.errLines.filter((l) => /open-files limit/.test(l)).length, 1, relay.stderr());
});

/** The streams the relay's `exit:` info lines report: 1 for a single one, N for "N streams refused". */
function refusalsCounted(lines: string[]): number {
  let n = 0;
  for (const l of lines) {
    const m = / exit: (\d+) streams refused in a second, latest client /.exec(l);
    if (m) n += Number(m[1]);
    else if (/ exit: client \S+: stream refused by exit policy rule /.test(l)) n++;
  }
  return n;
}

test('exit refusal on the default policy: an info line naming the rule, counted when many', async () => {
  const t = await startTunnel(cleanup);
  const r = await curl(['--socks5-hostname', t.client.proxy, `http://127.0.0.1:${target.port}/`]);
  assert.equal(r.code, 97, r.stderr);
  await waitFor(() => refusalsCounted(t.relay.proc.errLines) === 1, 10_000, 'the refusal line');
  const line = t.relay.proc.errLines.find((l) => / exit: client /.test(l))!;
  assert.match(
    line,
    / info exit: client \S{8}: stream refused by exit policy rule "reject 127\.0\.0\.0\/8:\*"/,
  );
  assert.match(line, /a default rule; an --exit "accept …" rule of your own comes before the defaults/);
  assert.doesNotMatch(line, new RegExp(String(target.port)), 'the destination stays at debug');
  // Ten more, as fast as curl goes: however the seconds fall, the lines count every one.
  for (let i = 0; i < 10; i++) {
    await curl(['--socks5-hostname', t.client.proxy, `http://127.0.0.1:${target.port}/`]);
  }
  await waitFor(() => refusalsCounted(t.relay.proc.errLines) === 11, 10_000, 'eleven refusals counted');
  assert.equal(target.connections(), 0);
});

test('with --exit "accept 127.0.0.1:PORT": served with no refusal line; another port refused by a default rule', async () => {
  const t = await startTunnel(cleanup, { exit: [`accept 127.0.0.1:${target.port}`] });
  const r = await curl([
    '--socks5-hostname',
    t.client.proxy,
    '-o',
    '/dev/null',
    `http://127.0.0.1:${target.port}/`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(refusalsCounted(t.relay.proc.errLines), 0, t.relay.proc.stderr());
  // Another port is refused by the owner's rules' fall-through to the defaults: named as a default rule.
  const other = await curl(['--socks5-hostname', t.client.proxy, `http://127.0.0.1:9/`]);
  assert.equal(other.code, 97);
  await waitFor(() => refusalsCounted(t.relay.proc.errLines) === 1, 10_000, 'one refusal line');
});
