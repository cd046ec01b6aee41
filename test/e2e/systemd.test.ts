// The systemd units in systemd/ (issue 15 §3):
// - `systemd-analyze verify` finds nothing to say about either (skipped with a message where
//   systemd-analyze is absent). verify checks that ExecStart='s program exists, so it runs on a copy
//   whose /usr/local/bin/ett (where `npm install -g` puts ett) is this checkout's bin/ett;
// - their LimitNOFILE is openFilesNeeded(DEFAULT_LIMITS) (so the two cannot drift), and the hardening
//   the README promises is there;
// - their commands work: ExecStartPre, ExecStart and ExecReload run as written (paths moved into a
//   temp dir, no systemd needed), the relay makes its key once, serves, and reloads on the SIGHUP;
// - the relay's system calls and socket families (traced with strace while it serves a client and a
//   status request) all lie within the unit's SystemCallFilter= and RestrictAddressFamilies=, as
//   `systemd-analyze syscall-filter` expands them (skipped without strace or systemd-analyze).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { DEFAULT_LIMITS, openFilesNeeded } from '../../src/limits.js';
import {
  CHILD_ENV,
  Cleanup,
  curl,
  ETT,
  Proc,
  REPO_ROOT,
  keygen,
  sleep,
  tempDir,
  waitFor,
} from '../support/proc.js';
import { startHttpTarget, testBody } from '../support/servers.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

const UNITS = { relay: 'ett-relay.service', client: 'ett-client.service' } as const;
const STRACE = spawnSync('sh', ['-c', 'command -v strace'], { encoding: 'utf8' }).stdout.trim();
const ANALYZE = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' }).stdout.trim();

async function unitText(role: keyof typeof UNITS): Promise<string> {
  return fs.readFile(path.join(REPO_ROOT, 'systemd', UNITS[role]), 'utf8');
}

/** The values of KEY= in the [Service] section, in order. */
function values(unit: string, key: string): string[] {
  const service = unit.split(/^\[Service\]$/m)[1]!.split(/^\[/m)[0]!;
  return [...service.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!);
}

function one(unit: string, key: string): string {
  const v = values(unit, key);
  assert.equal(v.length, 1, `${key}= once: ${JSON.stringify(v)}`);
  return v[0]!;
}

test('LimitNOFILE is what the default limits need (openFilesNeeded)', async () => {
  for (const role of ['relay', 'client'] as const) {
    assert.equal(
      Number(one(await unitText(role), 'LimitNOFILE')),
      openFilesNeeded(DEFAULT_LIMITS, role),
      role,
    );
  }
});

test('hardening and reload, as README says', async () => {
  const relay = await unitText('relay');
  for (const [k, v] of [
    ['DynamicUser', 'yes'],
    ['StateDirectory', 'ett-relay'],
    ['NoNewPrivileges', 'yes'],
    ['ProtectSystem', 'strict'],
    ['ProtectHome', 'yes'],
    ['PrivateTmp', 'yes'],
    ['CapabilityBoundingSet', ''],
    ['AmbientCapabilities', ''],
    ['ExecReload', '/bin/kill -HUP $MAINPID'],
  ]) {
    assert.equal(one(relay, k!), v, `relay ${k}`);
  }
  const client = await unitText('client');
  for (const [k, v] of [
    ['NoNewPrivileges', 'yes'],
    ['ProtectSystem', 'strict'],
    ['PrivateTmp', 'yes'],
    ['CapabilityBoundingSet', ''],
    ['ExecReload', '/bin/kill -HUP $MAINPID'],
  ]) {
    assert.equal(one(client, k!), v, `client ${k}`);
  }
  assert.equal(values(client, 'User').length + values(client, 'DynamicUser').length, 0, 'a user service');
});

test(
  'systemd-analyze verify: no complaint about either unit',
  { skip: ANALYZE ? false : 'systemd-analyze is not installed (Debian package systemd)' },
  async () => {
    const dir = await tempDir(cleanup);
    const runtime = path.join(dir, 'runtime'); // the user manager verify starts wants XDG_RUNTIME_DIR
    await fs.mkdir(runtime, { mode: 0o700 });
    const verify = async (name: string, text: string, user: boolean): Promise<string> => {
      const file = path.join(dir, name);
      await fs.writeFile(file, text.replaceAll('/usr/local/bin/ett', ETT));
      const args = [...(user ? ['--user'] : []), 'verify', '--man=no', file];
      const r = spawnSync(ANALYZE, args, {
        encoding: 'utf8',
        env: { ...CHILD_ENV, XDG_RUNTIME_DIR: runtime },
        timeout: 60_000,
      });
      assert.equal(r.status, 0, `${name}: ${r.stderr}`);
      return r.stderr;
    };
    assert.equal(await verify(UNITS.relay, await unitText('relay'), false), '');
    assert.equal(await verify(UNITS.client, await unitText('client'), true), '');
    // The check can fail: verify reports a key it does not know (and goes on with status 0).
    const bad = (await unitText('relay')).replace('ProtectSystem=', 'ProtectSystm=');
    assert.match(await verify('bad.service', bad, false), /Unknown key 'ProtectSystm'/);
  },
);

/** The unit's commands with its fixed paths moved under dir. */
function moved(line: string, dir: string): string {
  return line
    .replaceAll('/usr/local/bin/ett', ETT)
    .replaceAll('/var/lib/ett-relay', path.join(dir, 'state'))
    .replaceAll('/etc/ett-relay', path.join(dir, 'etc'))
    .replaceAll('/run/ett-relay', path.join(dir, 'run'))
    .replaceAll('%E', path.join(dir, 'config'));
}

/** Runs a unit's ExecStartPre= (`/bin/sh -c '…'`) to completion; its stdout. */
function startPre(unit: string, dir: string): string {
  const pre = moved(one(unit, 'ExecStartPre'), dir);
  const m = /^\/bin\/sh -c '([^']*)'$/.exec(pre);
  assert.ok(m, `ExecStartPre is /bin/sh -c '…': ${pre}`);
  const r = spawnSync('/bin/sh', ['-c', m[1]!], { encoding: 'utf8', env: CHILD_ENV, timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** Starts a unit's ExecStart= (no quoting in it: split on spaces), registered with cleanup. */
function execStart(unit: string, dir: string): Proc {
  const [file, ...args] = moved(one(unit, 'ExecStart'), dir).split(' ');
  assert.equal(file, ETT);
  const proc = new Proc(process.execPath, [ETT, ...args]);
  cleanup.add(async () => {
    await proc.stop();
  });
  return proc;
}

/** ExecReload=/bin/kill -HUP $MAINPID, with the main PID. */
function reload(unit: string, pid: number): void {
  const [file, ...args] = one(unit, 'ExecReload').replace('$MAINPID', String(pid)).split(' ');
  const r = spawnSync(file!, args, { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, r.stderr);
}

test('the relay unit: its key made once, the relay serves from the config, reloads on ExecReload', async () => {
  const unit = await unitText('relay');
  const dir = await tempDir(cleanup);
  for (const d of ['state', 'etc', 'run']) await fs.mkdir(path.join(dir, d), { mode: 0o700 });
  const clientKey = await keygen(dir, 'client');
  const config = path.join(dir, 'etc', 'relay.toml');
  await fs.writeFile(config, `listen = "127.0.0.1:0"\nallow = ["${clientKey.pin}"]\n`);
  const pin = startPre(unit, dir).trim();
  assert.match(pin, /^[A-Za-z0-9+/]{43}=$/, 'the first start makes the key and prints its pin');
  assert.equal(startPre(unit, dir), '', 'later starts keep it');
  const relay = execStart(unit, dir);
  await relay.waitForLine(/ett relay listening: ett:\/\//);
  await relay.waitForLine(/ett relay control: .*\/run\/control\.sock$/);
  await fs.writeFile(config, `listen = "127.0.0.1:0"\nallow = ["${clientKey.pin}", "${pin}"]\n`);
  reload(unit, relay.pid);
  await relay.waitForLine(/reload: /, { stderr: true });
  assert.ok(relay.alive, 'SIGHUP reloads, it does not end the relay');
});

test('the client unit: serves from %E/ett/client.toml, reloads on ExecReload', async () => {
  const unit = await unitText('client');
  const dir = await tempDir(cleanup);
  await fs.mkdir(path.join(dir, 'config', 'ett'), { recursive: true });
  await keygen(path.join(dir, 'config', 'ett'), 'client');
  const config = path.join(dir, 'config', 'ett', 'client.toml');
  await fs.writeFile(
    config,
    'key = "client.key"\nlisten = "127.0.0.1:0"\ndefault = "direct"\ncontrol = "off"\n',
  );
  const client = execStart(unit, dir);
  await client.waitForLine(/ett client listening on 127\.0\.0\.1:\d+/);
  await fs.writeFile(
    config,
    'key = "client.key"\nlisten = "127.0.0.1:0"\ndefault = "block"\ncontrol = "off"\n',
  );
  reload(unit, client.pid);
  await client.waitForLine(/reload: /, { stderr: true });
  assert.ok(client.alive);
});

/** The system calls a SystemCallFilter= allow list names, its @groups expanded as systemd-analyze lists them. */
function allowedSyscalls(filters: string[]): Set<string> {
  const text = spawnSync(ANALYZE, ['syscall-filter'], { encoding: 'utf8', timeout: 30_000 }).stdout;
  const groups = new Map<string, string[]>();
  let group: string[] | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('@')) groups.set(line.split(/\s/)[0]!, (group = []));
    else if (group && /^\s+[@a-z0-9_]/.test(line)) group.push(line.trim().split(/\s/)[0]!);
  }
  const out = new Set<string>();
  const add = (name: string, depth: number): void => {
    if (!name.startsWith('@')) out.add(name);
    else if (depth < 10) for (const n of groups.get(name) ?? []) add(n, depth + 1);
  };
  for (const line of filters) for (const name of line.split(/\s+/)) add(name, 0);
  return out;
}

test(
  "the relay stays within the unit's SystemCallFilter= and RestrictAddressFamilies= while it serves",
  {
    timeout: 120_000,
    skip: !STRACE ? 'strace is not installed' : !ANALYZE ? 'systemd-analyze is not installed' : false,
  },
  async () => {
    const unit = await unitText('relay');
    const allowed = allowedSyscalls(values(unit, 'SystemCallFilter'));
    assert.ok(allowed.has('read') && allowed.has('epoll_wait'), 'the groups expanded');
    const families = new Set(one(unit, 'RestrictAddressFamilies').split(' '));
    const dir = await tempDir(cleanup);
    const target = await startHttpTarget(cleanup, testBody(64 * 1024, 'seccomp'));
    const relayKey = await keygen(dir, 'relay');
    const clientKey = await keygen(dir, 'client');
    const trace = path.join(dir, 'relay.trace');
    const control = path.join(dir, 'control.sock');
    // As ExecStart= runs it (--config aside), under strace: the relay is strace's child.
    const traced = new Proc(STRACE, [
      '-f',
      '-qq',
      '-o',
      trace,
      process.execPath,
      ETT,
      'relay',
      '--key',
      relayKey.file,
      '--listen',
      '127.0.0.1:0',
      '--allow',
      clientKey.pin,
      '--exit',
      `accept 127.0.0.1:${target.port}`,
      '--control',
      control,
    ]);
    let relayPid = 0;
    const stop = async (): Promise<void> => {
      if (relayPid !== 0) process.kill(relayPid, 'SIGTERM'); // the relay itself: strace then ends with it
      await traced.stop(10_000);
    };
    cleanup.add(stop);
    const line = await traced.waitForLine(/ett relay listening: ett:\/\//, { timeoutMs: 60_000 });
    const children = await fs.readFile(`/proc/${traced.pid}/task/${traced.pid}/children`, 'utf8');
    relayPid = Number(children.trim().split(' ')[0]);
    assert.ok(relayPid > 0, "the relay's pid");
    const share = /(ett:\/\/\S+)/.exec(line)![1]!;
    const client = new Proc(process.execPath, [
      ETT,
      'client',
      '--key',
      clientKey.file,
      '--listen',
      '127.0.0.1:0',
      '--via',
      share,
      '--control',
      'off',
    ]);
    cleanup.add(async () => {
      await client.stop();
    });
    const proxy = /listening on (\S+:\d+)/.exec(await client.waitForLine(/listening on \S+:\d+/))![1]!;
    const ok = await curl([
      '--socks5-hostname',
      proxy,
      '-o',
      '/dev/null',
      `http://127.0.0.1:${target.port}/`,
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    const refused = await curl(['--socks5-hostname', proxy, 'http://127.0.0.1:9/']);
    assert.equal(refused.code, 97);
    const status = spawnSync(process.execPath, [ETT, 'status', '--control', control], {
      encoding: 'utf8',
      env: CHILD_ENV,
      timeout: 20_000,
    });
    assert.equal(status.status, 0, status.stderr);
    process.kill(relayPid, 'SIGHUP');
    await traced.waitForLine(/reload: /, { stderr: true });
    await client.stop();
    process.kill(relayPid, 'SIGTERM');
    relayPid = 0;
    await traced.exited;
    await sleep(0);
    const text = await fs.readFile(trace, 'utf8');
    const used = new Set([...text.matchAll(/^\d+\s+([a-z0-9_]+)\(/gm)].map((m) => m[1]!));
    assert.ok(used.has('epoll_wait') || used.has('epoll_pwait'), 'the trace holds the event loop');
    const outside = [...used].filter((n) => !allowed.has(n)).sort();
    assert.deepEqual(outside, [], 'system calls outside SystemCallFilter= (fix the unit)');
    const opened = new Set([...text.matchAll(/\bsocket\((AF_[A-Z0-9]+)/g)].map((m) => m[1]!));
    assert.ok(opened.has('AF_INET'));
    const foreign = [...opened].filter((f) => !families.has(f)).sort();
    assert.deepEqual(foreign, [], 'socket families outside RestrictAddressFamilies=');
    await waitFor(() => !traced.alive, 10_000, 'strace to end');
  },
);
