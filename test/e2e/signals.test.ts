// The signals a user or a stray script may send to a running ett, against real processes: SIGUSR1 must
// never open Node's inspector (a debugger port any local user could attach to, in the process holding
// the private keys) and SIGUSR2 must not end the process; both are logged and ignored, and the daemon
// goes on serving. An inspector opened before ett's own code runs (NODE_OPTIONS=--inspect) makes ett
// refuse to start. SIGHUP (reload) has tests of its own.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import {
  Cleanup,
  curl,
  runEtt,
  sleep,
  spawnEtt,
  startTunnel,
  type EttProcess,
  type Proc,
  type Tunnel,
} from '../support/proc.js';
import { sha256, startHttpTarget, testBody, type HttpTarget } from '../support/servers.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

const body = testBody(256 * 1024, 'signals');
let target: HttpTarget;
let tunnel: Tunnel;

before(async () => {
  target = await startHttpTarget(cleanup, body);
  tunnel = await startTunnel(cleanup, { exit: ['accept 127.0.0.1:*'] });
});

/** The TCP ports pid listens on, as `ss` reports them (ss is iproute2's, installed by .ci/run). */
function listeningPorts(pid: number): number[] {
  const r = spawnSync('ss', ['-ltnpH'], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, `ss: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.includes(`pid=${pid},`))
    .map((l) => Number(/:(\d+)$/.exec(l.trim().split(/\s+/)[3] ?? '')?.[1]));
}

/** Sends sig and waits for the daemon's `SIGNAME: ignored` log line (the nth of them). */
async function sendIgnored(p: Proc, sig: NodeJS.Signals, nth: number): Promise<void> {
  p.signal(sig);
  for (let i = 0; i < 250; i++) {
    if (p.errLines.filter((l) => l.includes(`${sig}: ignored`)).length >= nth) return;
    if (!p.alive) break;
    await sleep(20);
  }
  assert.fail(`no "${sig}: ignored" line (#${nth}) from pid ${p.pid}; alive=${p.alive}: ${p.stderr()}`);
}

async function fetchThrough(proxy: string): Promise<void> {
  const r = await curl(['--socks5-hostname', proxy, `http://127.0.0.1:${target.port}/`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(sha256(r.stdout), body.sha256);
}

/** SIGUSR1 then SIGUSR2 (each spaced over a second, so each gets its own log line): still serving. */
async function survivesUserSignals(p: EttProcess, proxy: string): Promise<void> {
  const before = listeningPorts(p.pid);
  assert.ok(before.length > 0, `pid ${p.pid} listens somewhere`);
  await sendIgnored(p, 'SIGUSR1', 1);
  await sleep(1100);
  await sendIgnored(p, 'SIGUSR2', 1);
  await fetchThrough(proxy);
  assert.ok(p.alive, 'still running');
  assert.doesNotMatch(p.stderr(), /Debugger listening|inspector/i);
  // No new listening socket: the inspector would have bound 127.0.0.1:9229 (or another port).
  assert.deepEqual(listeningPorts(p.pid).sort(), before.sort());
}

test('relay: SIGUSR1 opens no inspector, SIGUSR2 does not kill it; both logged, streams served', async () => {
  await survivesUserSignals(tunnel.relay.proc, tunnel.client.proxy);
});

test('client: SIGUSR1 and SIGUSR2 are logged and ignored', async () => {
  await survivesUserSignals(tunnel.client.proc, tunnel.client.proxy);
});

test('up (relay and client in one process): the same', async () => {
  const up = spawnEtt(cleanup, ['up', '--listen', '127.0.0.1:0']);
  const line = await up.waitForLine(/ett client listening on/);
  const proxy = /listening on (\S+:\d+)/.exec(line)![1]!;
  await survivesUserSignals(up, proxy);
});

test('a burst of SIGUSR1 is one log line a second, with a count, not one line each', async () => {
  const p = tunnel.relay.proc;
  await sleep(1100); // the previous test's line is more than a second old
  const before = p.errLines.filter((l) => l.includes('SIGUSR1: ignored')).length;
  for (let i = 0; i < 50; i++) p.signal('SIGUSR1');
  await sleep(1500);
  const lines = p.errLines.filter((l) => l.includes('SIGUSR1: ignored')).slice(before);
  assert.ok(lines.length >= 1 && lines.length <= 3, lines.join('\n'));
  assert.ok(p.alive);
  assert.doesNotMatch(p.stderr(), /Debugger listening/);
  await fetchThrough(tunnel.client.proxy);
});

test('an inspector opened before ett runs (NODE_OPTIONS=--inspect): ett refuses to start, exit 2', async () => {
  // Port 0: the inspector binds a free loopback port, never the well-known 9229 another process may use.
  const r = await runEtt(['relay', '--key', tunnel.relay.key.file, '--listen', '127.0.0.1:0'], 20_000, {
    NODE_OPTIONS: '--inspect=127.0.0.1:0',
  });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /ett: Node's inspector is open .* will not run with a debugger port open/);
  assert.equal(r.stdout.toString(), '', 'no share string: it never started');
});

test('SIGUSR1 while ett is starting: it either runs with no inspector or refuses to run', async (t) => {
  // Signals from the moment of spawn until the relay listens (or exits): the early ones reach Node's own
  // handler, which opens the inspector before bin/ett's first line. ett must then refuse (exit 2) before
  // it reads a key; a relay that comes up must have no debugger port. A signal that lands before Node has
  // set up any handler ends the process (the default action), before it has done anything.
  const outcomes = { killed: 0, refused: 0, served: 0 };
  const delays = [0, 10, 30, 60, 120, 400]; // ms from spawn to the first signal
  for (const delay of delays) {
    const args = [
      'relay',
      '--key',
      tunnel.relay.key.file,
      '--listen',
      '127.0.0.1:0',
      '--allow',
      tunnel.clientKey.pin,
    ];
    const p = spawnEtt(cleanup, args);
    await sleep(delay);
    for (let i = 0; i < 500 && p.alive && !p.lines.some((l) => l.includes('ett://')); i++) {
      p.signal('SIGUSR1');
      await sleep(2);
    }
    if (p.alive && p.lines.some((l) => l.includes('ett://'))) {
      await sleep(200); // an inspector opened by the last signals would be listening by now
      assert.ok(p.alive, p.stderr());
      assert.equal(listeningPorts(p.pid).length, 1, `only the relay's port: ${p.stderr()}`);
      outcomes.served++;
    } else {
      const exit = await p.exited;
      assert.equal(p.lines.length, 0, 'no share string printed');
      if (exit.signal === 'SIGUSR1') {
        outcomes.killed++;
        continue;
      }
      assert.equal(exit.code, 2, p.stderr());
      assert.match(p.stderr(), /will not run with a debugger port open/);
      outcomes.refused++;
    }
    await p.stop();
  }
  t.diagnostic(`outcomes: ${JSON.stringify(outcomes)}`);
  assert.equal(outcomes.killed + outcomes.refused + outcomes.served, delays.length, JSON.stringify(outcomes));
});
