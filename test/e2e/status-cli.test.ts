// `ett status` finding its daemon: with several running it names their sockets and asks to choose; a
// socket left by a killed daemon is skipped; --watch follows a daemon until it stops; --control off
// opens no socket. Real `ett up` processes, each with XDG_RUNTIME_DIR pointing at a temp directory.

import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Cleanup, ETT, Proc, runEtt, tempDir, waitFor } from '../support/proc.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

let runtime: string;

before(async () => {
  runtime = await tempDir(cleanup);
});

/** bin/ett ARGS with XDG_RUNTIME_DIR set to the test's runtime directory. */
function ettHere(args: string[]): Proc {
  const p = new Proc('/usr/bin/env', [`XDG_RUNTIME_DIR=${runtime}`, process.execPath, ETT, ...args]);
  cleanup.add(async () => void (await p.stop()));
  return p;
}

async function startUp(extra: string[] = []): Promise<{ proc: Proc; sock: string | null }> {
  const proc = ettHere(['up', '--listen', '127.0.0.1:0', '--log-level', 'warn', ...extra]);
  await proc.waitForLine(/Ctrl-C stops/);
  const line = await proc.waitForLine(/ett up control: /, { timeoutMs: 2000 }).catch(() => null);
  return { proc, sock: line === null ? null : /control: (\S+)/.exec(line)![1]! };
}

const status = (args: string[]) => runEtt(['status', ...args], 20_000, { XDG_RUNTIME_DIR: runtime });

test('with two daemons, ett status lists both sockets and asks to choose; a dead one is skipped', async () => {
  const a = await startUp();
  const b = await startUp();
  assert.ok(a.sock && b.sock);
  const both = await status([]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /2 ett daemons are running; choose one with --control PATH/);
  assert.ok(both.stderr.includes(a.sock) && both.stderr.includes(b.sock), both.stderr);

  b.proc.signal('SIGKILL'); // leaves its socket file behind, with nobody listening
  await b.proc.exited;
  assert.ok(existsSync(b.sock));
  const one = await status(['--json']);
  assert.equal(one.code, 0, one.stderr);
  assert.equal((JSON.parse(one.stdout.toString()) as { pid: number }).pid, a.proc.pid);
  await a.proc.stop();
  assert.ok(!existsSync(a.sock), 'a daemon that stops removes its socket');
  const none = await status([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no running ett daemon found in /);
});

test('ett status --watch prints a status every second until the daemon stops', async () => {
  const d = await startUp();
  const watch = ettHere(['status', '--watch', '--json', '--control', d.sock!]);
  await waitFor(() => watch.lines.length >= 2, 20_000, 'two statuses');
  for (const l of watch.lines) assert.equal((JSON.parse(l) as { daemon: string }).daemon, 'up');
  await d.proc.stop();
  const exit = await watch.exited;
  assert.equal(exit.code, 1);
  assert.match(watch.stderr(), /^ett: control .*(closed|ECONNREFUSED|ENOENT)/m);
});

test('--control off: no socket, no control line', async () => {
  const held = readdirSync(path.join(runtime, 'ett'));
  const d = await startUp(['--control', 'off']);
  assert.equal(d.sock, null);
  assert.ok(!d.proc.lines.some((l) => l.includes('control:')));
  assert.deepEqual(readdirSync(path.join(runtime, 'ett')), held);
});

test('a runtime directory others can enter: refused with a warning, and the daemon runs on', async () => {
  const open = path.join(await tempDir(cleanup), 'ett');
  await mkdir(open, { mode: 0o755 });
  await chmod(open, 0o755);
  const p = new Proc('/usr/bin/env', [
    `XDG_RUNTIME_DIR=${path.dirname(open)}`,
    process.execPath,
    ETT,
    'up',
    '--listen',
    '127.0.0.1:0',
  ]);
  cleanup.add(async () => void (await p.stop()));
  await p.waitForLine(/Ctrl-C stops/);
  const warning = await p.waitForLine(/warn control: /, { stderr: true });
  assert.match(
    warning,
    /must be a directory owned by this user with mode 0700.*running without a control socket/,
  );
  assert.deepEqual(readdirSync(open), []);
  assert.ok(p.alive);
});
