// Chains on loopback with real processes: a two-hop circuit carries a body intact, and the key the
// client shows each relay is what the route says: its own key by default, a relay's own key file, or a
// fresh ephemeral key, so that an exit need not learn who is talking. (The namespace tests in
// test/netns prove what each hop can and cannot see on the wire; these prove the identities.)

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  Cleanup,
  curl,
  keygen,
  spawnEtt,
  startClient,
  startRelay,
  tempDir,
  waitFor,
  type Key,
  type Relay,
} from '../support/proc.js';
import { sha256, startHttpTarget, testBody, type HttpTarget } from '../support/servers.js';

const cleanup = new Cleanup();
const body = testBody(4 * 1024 * 1024, 'ett-chain-body');
let dir: string;
let target: HttpTarget;
let own: Key; // the client's key
let hopKey: Key; // a key registered with the exit only
let entry: Relay; // allows the client's key; exits only to the other relays
let exitOwn: Relay; // allows the client's key
let exitHop: Relay; // allows only hopKey
let exitAny: Relay; // --allow-any

const short = (pin: string): string => pin.slice(0, 8);

before(async () => {
  dir = await tempDir(cleanup);
  target = await startHttpTarget(cleanup, body);
  own = await keygen(dir, 'client');
  hopKey = await keygen(dir, 'hop');
  const toTarget = [`accept 127.0.0.1:${target.port}`, 'reject *:*'];
  exitOwn = await startRelay(cleanup, dir, { allow: [own.pin], exit: toTarget, name: 'exit-own' });
  exitHop = await startRelay(cleanup, dir, { allow: [hopKey.pin], exit: toTarget, name: 'exit-hop' });
  exitAny = await startRelay(cleanup, dir, { allow: [], exit: toTarget, name: 'exit-any', allowAny: true });
  const toRelays = [exitOwn, exitHop, exitAny].map((r) => `accept 127.0.0.1:${r.port}`);
  entry = await startRelay(cleanup, dir, {
    allow: [own.pin],
    exit: [...toRelays, 'reject *:*'],
    name: 'entry',
  });
});

after(() => cleanup.run());

async function clientWithConfig(toml: string) {
  const file = path.join(dir, `client-${Math.random().toString(36).slice(2)}.toml`);
  await writeFile(file, `key = "${own.file}"\nlisten = "127.0.0.1:0"\n${toml}`);
  const proc = spawnEtt(cleanup, ['client', '--config', file]);
  const line = await proc.waitForLine(/listening on \S+:\d+/);
  return { proc, proxy: /listening on (\S+:\d+)/.exec(line)![1]! };
}

async function fetchVia(proxy: string): Promise<void> {
  const r = await curl(['--socks5-hostname', proxy, `http://127.0.0.1:${target.port}/`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(sha256(r.stdout), body.sha256);
}

/** The client pins a relay logged on `link up`, once it has logged one (bounded wait). */
async function linkPins(relay: Relay): Promise<string[]> {
  await waitFor(() => /link up: client/.test(relay.proc.stderr()), 5000, 'link up logged');
  return [...relay.proc.stderr().matchAll(/link up: client (\S{8})/g)].map((m) => m[1]!);
}

test(
  'two hops, own key at both: the body arrives intact, and the exit sees the client key',
  { timeout: 60_000 },
  async () => {
    const client = await startClient(cleanup, own, `${entry.share},${exitOwn.share}`);
    await fetchVia(client.proxy);
    assert.ok((await linkPins(entry)).includes(short(own.pin)));
    assert.deepEqual(await linkPins(exitOwn), [short(own.pin)]);
  },
);

test(
  'an exit that allows only another key refuses the client key: the app sees a failure',
  { timeout: 60_000 },
  async () => {
    const client = await startClient(cleanup, own, `${entry.share},${exitHop.share}`);
    const r = await curl(['--socks5-hostname', client.proxy, `http://127.0.0.1:${target.port}/`]);
    assert.notEqual(r.code, 0);
    assert.match(
      exitHop.proc.stderr(),
      new RegExp(`refused client ${short(own.pin).replace(/[+/]/g, '\\$&')}`),
    );
  },
);

test('a relay given its own key file sees that key, never the client key', { timeout: 60_000 }, async () => {
  const client = await clientWithConfig(
    `default = "chain"\n[relays]\nentry = "${entry.share}"\nexit = { share = "${exitHop.share}", key = "${hopKey.file}" }\n` +
      `[routes]\nchain = ["entry", "exit"]\n`,
  );
  await fetchVia(client.proxy);
  const pins = await linkPins(exitHop);
  // Only the hop key was ever accepted here (the earlier test's refusal of the client key is logged as
  // "refused client", not "link up").
  assert.deepEqual(pins, [short(hopKey.pin)]);
});

test(
  'an ephemeral key: an --allow-any exit learns a throwaway pin, new for each circuit',
  { timeout: 60_000 },
  async () => {
    const toml =
      `default = "chain"\n[relays]\nentry = "${entry.share}"\nexit = { share = "${exitAny.share}", key = "ephemeral" }\n` +
      `[routes]\nchain = ["entry", "exit"]\n`;
    const first = await clientWithConfig(toml);
    await fetchVia(first.proxy);
    const second = await clientWithConfig(toml);
    await fetchVia(second.proxy);
    await waitFor(
      () => (exitAny.proc.stderr().match(/link up: client/g) ?? []).length >= 2,
      5000,
      'two links',
    );
    const pins = await linkPins(exitAny);
    assert.equal(pins.length, 2);
    assert.ok(!pins.includes(short(own.pin)), 'the exit never saw the client key');
    assert.notEqual(pins[0], pins[1], 'each circuit shows a new key');
  },
);
