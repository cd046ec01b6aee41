// Stream isolation with real processes on loopback: an entry relay and an --allow-any exit reached with
// an ephemeral key, so each circuit shows the exit a throwaway pin of its own. Counting the links each
// relay logs: two SOCKS logins (and an HTTP proxy login) → circuits with different keys at the exit;
// the same login again → the same circuit; --isolate-per-host → one circuit per host; the bound on
// isolated circuits gives `limit` while all are busy, and makes room once one is idle. `ett status`
// names the isolation of each circuit without its password.

import assert from 'node:assert/strict';
import * as net from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  Cleanup,
  curl,
  keygen,
  runEtt,
  spawnEtt,
  startRelay,
  tempDir,
  waitFor,
  type Key,
  type Relay,
} from '../support/proc.js';
import { sha256, startHttpTarget, testBody, type HttpTarget } from '../support/servers.js';

const cleanup = new Cleanup();
const body = testBody(64 * 1024, 'ett-isolation-body');
let dir: string;
let target: HttpTarget;
let own: Key;
let entry: Relay;
let exit: Relay;
let n = 0;

before(async () => {
  dir = await tempDir(cleanup);
  target = await startHttpTarget(cleanup, body);
  own = await keygen(dir, 'client');
  exit = await startRelay(cleanup, dir, {
    allow: [],
    allowAny: true,
    exit: [`accept 127.0.0.1:${target.port}`, 'reject *:*'],
    name: 'exit',
  });
  entry = await startRelay(cleanup, dir, {
    allow: [own.pin],
    exit: [`accept 127.0.0.1:${exit.port}`, 'reject *:*'],
    name: 'entry',
  });
});

after(() => cleanup.run());

/** A client whose default route is entry → exit (ephemeral key at the exit), with `extra` TOML lines. */
async function client(extra = '', args: string[] = []) {
  const file = path.join(dir, `client-${++n}.toml`);
  const control = path.join(dir, `client-${n}.sock`);
  await writeFile(
    file,
    `key = "${own.file}"\nlisten = "127.0.0.1:0"\ndefault = "chain"\ncontrol = "${control}"\n${extra}\n` +
      `[relays]\nentry = "${entry.share}"\nexit = { share = "${exit.share}", key = "ephemeral" }\n` +
      `[routes]\nchain = ["entry", "exit"]\n`,
  );
  const proc = spawnEtt(cleanup, ['client', '--config', file, ...args]);
  const line = await proc.waitForLine(/listening on \S+:\d+/);
  return { proc, proxy: /listening on (\S+:\d+)/.exec(line)![1]!, control };
}

/** The throwaway pins the exit has logged `link up` for so far. */
function exitPins(): string[] {
  return [...exit.proc.stderr().matchAll(/link up: client (\S{8})/g)].map((m) => m[1]!);
}

async function fetch(proxyUrl: string, host = '127.0.0.1'): Promise<void> {
  const r = await curl(['--proxy', proxyUrl, `http://${host}:${target.port}/`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(sha256(r.stdout), body.sha256);
}

/** Waits until the exit has logged `count` links in all (bounded), then returns the new pins. */
async function newPins(before: number, count: number): Promise<string[]> {
  await waitFor(() => exitPins().length >= before + count, 10_000, `${count} new link(s) at the exit`);
  return exitPins().slice(before);
}

test('two SOCKS logins → two circuits with different throwaway keys at the exit; the same login → one', async () => {
  const c = await client();
  const start = exitPins().length;
  await fetch(`socks5h://alice:pw-1@${c.proxy}`);
  await fetch(`socks5h://alice:pw-1@${c.proxy}`);
  const one = await newPins(start, 1);
  await fetch(`socks5h://bob:pw-2@${c.proxy}`);
  await fetch(`socks5h://${c.proxy}`); // no login: the shared circuit
  await fetch(`http://carol:pw-3@${c.proxy}`); // an HTTP proxy login isolates too
  await fetch(`socks5h://alice:pw-1@${c.proxy}`); // alice's circuit again
  const pins = await newPins(start, 4);
  assert.equal(one.length, 1, 'alice twice: one circuit');
  // Let any late link show up before counting exactly (bounded).
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(
    exitPins().length - start,
    4,
    `alice, bob, no login, carol: ${exitPins().slice(start).join(' ')}`,
  );
  assert.equal(new Set(pins).size, 4, 'each circuit showed the exit another key');
  assert.ok(!pins.includes(own.pin.slice(0, 8)), 'never the client key');

  const status = await runEtt(['status', '--control', c.control]);
  assert.equal(status.code, 0, String(status.stderr));
  const shown = status.stdout.toString();
  console.log(shown);
  assert.match(shown, /isolated: login alice #[0-9a-f]{6}/);
  assert.match(shown, /isolated: login bob #[0-9a-f]{6}/);
  assert.match(shown, /isolated: login carol #[0-9a-f]{6}/);
  assert.ok(!/pw-\d/.test(shown), 'no password in the status');
  assert.ok(!/pw-\d/.test(c.proc.stderr()), 'no password in the log');
});

test('--isolate-per-host: each destination host its own circuit; isolate = [] in the route: one for all', async () => {
  const c = await client('', ['--isolate-per-host']);
  let start = exitPins().length;
  await fetch(`socks5h://${c.proxy}`, '127.0.0.1');
  await fetch(`socks5h://${c.proxy}`, 'localhost');
  await fetch(`socks5h://${c.proxy}`, '127.0.0.1');
  const pins = await newPins(start, 2);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(exitPins().length - start, 2, 'two hosts, two circuits');
  assert.notEqual(pins[0], pins[1]);

  const none = await client('isolate = []');
  start = exitPins().length;
  await fetch(`socks5h://alice:a@${none.proxy}`);
  await fetch(`socks5h://bob:b@${none.proxy}`);
  await newPins(start, 1);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(exitPins().length - start, 1, 'isolation off: both logins share the circuit');
});

test('each `ett run --socks` to a running client gets circuits of its own (its own login as the token)', async () => {
  // Under ett run a loopback target goes direct and this machine's names are local, so the program asks
  // for a name no one here resolves: the exit answers host-unreachable, but only after each run's stream
  // came to the client with its own login and was carried on a circuit of its own, which is what is
  // counted here.
  const c = await client();
  const start = exitPins().length;
  for (let i = 0; i < 2; i++) {
    const argv = ['curl', '-q', '-sS', '--max-time', '30', `http://isolated-run-${i}.test:${target.port}/`];
    const r = await runEtt(['run', '--socks', c.proxy, '--', ...argv], 60_000);
    assert.notEqual(r.code, 0, 'the exit cannot resolve the name');
    assert.match(String(r.stderr), /refused|resolve|Failed to connect|Could not/i);
  }
  const pins = await newPins(start, 2);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(exitPins().length - start, 2, 'two runs, two circuits');
  assert.notEqual(pins[0], pins[1]);
  const status = (await runEtt(['status', '--control', c.control])).stdout.toString();
  assert.equal((status.match(/isolated: login ett-run #[0-9a-f]{6}/g) ?? []).length, 2, status);
});

/** A SOCKS5 CONNECT with a login, held open; resolves once the client answered success. */
function holdOpen(proxy: string, user: string): Promise<net.Socket> {
  const [host, port] = [
    proxy.slice(0, proxy.lastIndexOf(':')),
    Number(proxy.slice(proxy.lastIndexOf(':') + 1)),
  ];
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    cleanup.add(() => void s.destroy());
    let stage = 0;
    let got = Buffer.alloc(0);
    s.on('error', reject);
    s.on('connect', () => s.write(Buffer.from([5, 1, 2])));
    s.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (stage === 0 && got.length >= 2) {
        got = got.subarray(2);
        stage = 1;
        const u = Buffer.from(user);
        s.write(Buffer.concat([Buffer.from([1, u.length]), u, Buffer.from([2]), Buffer.from('pw')]));
      }
      if (stage === 1 && got.length >= 2) {
        got = got.subarray(2);
        stage = 2;
        const p = Buffer.alloc(2);
        p.writeUInt16BE(target.port);
        s.write(Buffer.concat([Buffer.from([5, 1, 0, 1, 127, 0, 0, 1]), p]));
      }
      if (stage === 2 && got.length >= 10) {
        stage = 3;
        if (got[1] === 0) resolve(s);
        else reject(new Error(`SOCKS reply ${got[1]}`));
      }
    });
  });
}

test('isolated_circuits_max: with every isolated circuit busy a new login gets `limit`; an idle one makes room', async () => {
  const c = await client('[limits]\nisolated_circuits_max = 1');
  const held = await holdOpen(c.proxy, 'alice');
  const refused = await curl(['--proxy', `socks5h://bob:pw@${c.proxy}`, `http://127.0.0.1:${target.port}/`]);
  assert.notEqual(refused.code, 0, 'bob refused while alice holds the only isolated circuit');
  const st = await runEtt(['status', '--json', '--control', c.control]);
  const refusals = (JSON.parse(st.stdout.toString()) as { refusals: Record<string, number> }).refusals;
  assert.equal(refusals['limit'], 1, `refused for the limit: ${JSON.stringify(refusals)}`);
  // No login is not isolated: the shared circuit serves at the limit.
  await fetch(`socks5h://${c.proxy}`);
  held.destroy();
  // alice's stream ends: her circuit is idle and gives way to bob's (bounded retries: the stream's close
  // reaches the client's circuit asynchronously).
  let ok = false;
  for (let i = 0; i < 50 && !ok; i++) {
    const r = await curl(['--proxy', `socks5h://bob:pw@${c.proxy}`, `http://127.0.0.1:${target.port}/`]);
    ok = r.code === 0 && sha256(r.stdout) === body.sha256;
    if (!ok) await new Promise((res) => setTimeout(res, 100));
  }
  assert.ok(ok, 'bob served once alice was idle');
});
