// Reload (SIGHUP and `ett reload`) against real processes: a relay and clients driven by curl. What a
// reload changes applies to new links and streams; what stays allowed keeps running (a download in
// progress crosses every reload below); a bad file is refused whole, the running configuration stays.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import {
  Cleanup,
  curl,
  keygen,
  runEtt,
  sleep,
  spawnEtt,
  tempDir,
  waitFor,
  type EttProcess,
  type Key,
} from '../support/proc.js';
import { sha256, startHttpTarget, startSlowTarget, testBody, type HttpTarget } from '../support/servers.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

const body = testBody(64 * 1024, 'reload');
let dir: string;
let target: HttpTarget;
let relayKey: Key;
let keyA: Key;
let keyB: Key;
let relay: EttProcess;
let share: string;
const relayConfig = (): string => path.join(dir, 'relay.toml');
const relayControl = (): string => path.join(dir, 'relay.sock');

async function writeRelayConfig(o: { allow: string[]; exit?: string[]; extra?: string }): Promise<void> {
  const lines = [
    `key = ${JSON.stringify(relayKey.file)}`,
    'listen = "127.0.0.1:0"',
    `control = ${JSON.stringify(relayControl())}`,
    `allow = ${JSON.stringify(o.allow)}`,
    `exit = ${JSON.stringify(o.exit ?? ['accept 127.0.0.1:*'])}`,
    o.extra ?? '',
  ];
  await writeFile(relayConfig(), lines.join('\n') + '\n');
}

/** `ett client` for key via the relay, with its own config file (rewritten by tests). */
async function startClient(
  key: Key,
  name: string,
  toml = '',
): Promise<{ proc: EttProcess; proxy: string; file: string; control: string }> {
  const file = path.join(dir, `${name}.toml`);
  const control = path.join(dir, `${name}.sock`);
  await writeFile(file, clientToml(key, name, toml));
  const proc = spawnEtt(cleanup, ['client', '--config', file]);
  const line = await proc.waitForLine(/listening on \S+:\d+/);
  return { proc, proxy: /listening on (\S+:\d+)/.exec(line)![1]!, file, control };
}

function clientToml(key: Key, name: string, rest: string): string {
  return [
    `key = ${JSON.stringify(key.file)}`,
    'listen = "127.0.0.1:0"',
    `control = ${JSON.stringify(path.join(dir, `${name}.sock`))}`,
    `via = ${JSON.stringify(share)}`,
    rest,
  ].join('\n');
}

async function fetchVia(
  proxy: string,
  extra: string[] = [],
): Promise<{ code: number | null; stderr: string; ok: boolean }> {
  const r = await curl([
    '-sS',
    '--max-time',
    '20',
    '--socks5-hostname',
    proxy,
    ...extra,
    `http://127.0.0.1:${target.port}/`,
  ]);
  return { code: r.code, stderr: r.stderr, ok: r.code === 0 && sha256(r.stdout) === body.sha256 };
}

/** Sends SIGHUP and waits for the nth stderr line matching re (counted from `from`). */
async function hup(p: EttProcess, re: RegExp, from = p.errTotal): Promise<string[]> {
  p.signal('SIGHUP');
  await waitFor(
    () => p.errSince(from).some((l) => re.test(l)),
    15_000,
    `a line ${re} after SIGHUP: ${p.stderr()}`,
  );
  assert.ok(p.alive, 'still running');
  return p.errSince(from);
}

/** A download through proxy from a slow target (about 3 s of data), its bytes counted when it ends. */
async function slowDownload(
  proxy: string,
): Promise<{ done: Promise<{ code: number | null; bytes: number }> }> {
  const slow = await startSlowTarget(cleanup, {
    http: true,
    chunk: 16 * 1024,
    intervalMs: 20,
    maxChunks: 150,
  });
  const done = curl([
    '-sS',
    '--max-time',
    '40',
    '--socks5-hostname',
    proxy,
    `http://127.0.0.1:${slow.port}/`,
  ]).then((r) => ({ code: r.code, bytes: r.stdout.length }));
  await waitFor(() => slow.written() > 0, 10_000, 'the slow download to start');
  return { done }; // in an object: an async function returning the promise itself would wait for it
}

before(async () => {
  dir = await tempDir(cleanup);
  target = await startHttpTarget(cleanup, body);
  relayKey = await keygen(dir, 'relay');
  keyA = await keygen(dir, 'a');
  keyB = await keygen(dir, 'b');
  await writeRelayConfig({ allow: [keyA.pin, keyB.pin] });
  relay = spawnEtt(cleanup, ['relay', '--config', relayConfig()]);
  const line = await relay.waitForLine(/ett:\/\//);
  share = /(ett:\/\/\S+)/.exec(line)![1]!;
});

test('relay: a key removed from the allow list loses its link (GO_AWAY, a log line); other links and their running streams go on', async () => {
  const a = await startClient(keyA, 'ca');
  const b = await startClient(keyB, 'cb');
  assert.ok((await fetchVia(a.proxy)).ok);
  assert.ok((await fetchVia(b.proxy)).ok);
  const { done: running } = await slowDownload(a.proxy);
  const from = relay.errTotal;
  await writeRelayConfig({ allow: [keyA.pin] });
  const lines = await hup(relay, /link closed: client .*no longer allowed/, from);
  assert.ok(
    lines.some((l) => /reload: allow: removed client \S{8}/.test(l)),
    lines.join('\n'),
  );
  assert.ok(!lines.some((l) => l.includes(keyB.pin)), 'no full pin in the log');
  // B's client sees its link go and cannot build another: its key is refused at the handshake.
  await b.proc.waitForLine(/link down: .*/, { stderr: true });
  const refused = await fetchVia(b.proxy);
  assert.notEqual(refused.code, 0);
  // A is untouched: its running download ends complete (150 chunks), and new streams work.
  const done = await running;
  assert.equal(done.code, 0);
  assert.equal(done.bytes, 150 * 16 * 1024);
  assert.ok((await fetchVia(a.proxy)).ok);
  assert.ok(relay.alive && a.proc.alive && b.proc.alive);
  // Allowed again: B's next request builds a link.
  await writeRelayConfig({ allow: [keyA.pin, keyB.pin] });
  await hup(relay, /reload: allow: added client/);
  let ok = false;
  for (let i = 0; i < 10 && !ok; i++) {
    ok = (await fetchVia(b.proxy)).ok;
    if (!ok) await sleep(300);
  }
  assert.ok(ok, `B works again: ${b.proc.stderr()}`);
  await a.proc.stop();
  await b.proc.stop();
});

test('relay: the exit policy applies to new streams after `ett reload`, which prints what changed', async () => {
  const a = await startClient(keyA, 'cpol');
  assert.ok((await fetchVia(a.proxy)).ok);
  const { done: running } = await slowDownload(a.proxy);
  await writeRelayConfig({
    allow: [keyA.pin, keyB.pin],
    exit: [`reject 127.0.0.1:${target.port}`, 'accept 127.0.0.1:*'],
  });
  const r = await runEtt(['reload', '--control', relayControl()]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout.toString(), new RegExp(`exit policy: added "reject 127\\.0\\.0\\.1:${target.port}"`));
  const refused = await fetchVia(a.proxy);
  assert.notEqual(refused.code, 0, 'the target is refused now');
  assert.match(refused.stderr, /connection to 127\.0\.0\.1\. \(2\)|not allowed|ruleset/i);
  const done = await running;
  assert.equal(done.code, 0, 'the stream opened before the reload runs to its end');
  assert.equal(done.bytes, 150 * 16 * 1024);
  // A reload that changes nothing says so.
  await writeRelayConfig({ allow: [keyA.pin, keyB.pin] });
  assert.equal((await runEtt(['reload', '--control', relayControl()])).code, 0);
  const same = await runEtt(['reload', '--control', relayControl()]);
  assert.equal(same.code, 0, same.stderr);
  assert.match(same.stdout.toString(), /no changes/);
  assert.ok((await fetchVia(a.proxy)).ok);
  await a.proc.stop();
});

test('relay: a bad file is refused whole (file, key, reason; exit 2 from ett reload), the running config stays', async () => {
  const a = await startClient(keyA, 'cbad');
  assert.ok((await fetchVia(a.proxy)).ok);
  // Valid TOML, one bad value after a change that alone would be fine (removing B): nothing applies.
  await writeRelayConfig({ allow: [keyA.pin], exit: ['accept 127.0.0.1:*', 'allow everything'] });
  const r = await runEtt(['reload', '--control', relayControl()]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /relay\.toml: exit\[1\]: .*/);
  const lines = await hup(relay, /reload refused, the running configuration stays: .*relay\.toml: exit\[1\]/);
  assert.ok(!lines.some((l) => /allow: removed/.test(l)), lines.join('\n'));
  await writeFile(relayConfig(), 'allow = [\n');
  await hup(relay, /reload refused.*relay\.toml: line \d+, column \d+: invalid TOML/);
  assert.ok((await fetchVia(a.proxy)).ok, 'still serving as before');
  // B is still allowed (the refused file would have removed it).
  const b = await startClient(keyB, 'cbad2');
  assert.ok((await fetchVia(b.proxy)).ok);
  await writeRelayConfig({ allow: [keyA.pin, keyB.pin] });
  await hup(relay, /reload: no changes/);
  await a.proc.stop();
  await b.proc.stop();
});

test('relay: live limits apply at once; one that needs a restart says so and is kept', async () => {
  const a = await startClient(keyA, 'clim');
  const { done: running } = await slowDownload(a.proxy); // one exit socket held
  await writeRelayConfig({
    allow: [keyA.pin, keyB.pin],
    extra: '[limits]\nexit_sockets_per_client = 1\nping_interval_ms = 4000',
  });
  const lines = await hup(
    relay,
    /reload: limits\.ping_interval_ms: 5000 -> 4000 needs a restart \(kept 5000\)/,
  );
  assert.ok(
    lines.some((l) => l.includes('reload: limits.exit_sockets_per_client: 16384 -> 1')),
    lines.join('\n'),
  );
  const refused = await fetchVia(a.proxy);
  assert.notEqual(
    refused.code,
    0,
    `a second exit socket for this key is over the new limit: ${relay.stderr()}`,
  );
  assert.equal((await running).code, 0);
  await writeRelayConfig({ allow: [keyA.pin, keyB.pin] });
  await hup(relay, /reload: limits\.exit_sockets_per_client: 1 -> 16384/);
  assert.ok((await fetchVia(a.proxy)).ok);
  await a.proc.stop();
});

test('relay: a storm of SIGHUPs (100 in about a second) coalesces; the relay serves throughout', async () => {
  const a = await startClient(keyA, 'cstorm');
  const { done: running } = await slowDownload(a.proxy);
  const from = relay.errTotal;
  for (let i = 0; i < 100; i++) {
    relay.signal('SIGHUP');
    if (i % 10 === 0) assert.ok((await fetchVia(a.proxy)).ok, `served during the storm (#${i})`);
    await sleep(10);
  }
  await sleep(1500);
  assert.ok(relay.alive, relay.stderr());
  const reloadLines = relay.errSince(from).filter((l) => l.includes('reload'));
  assert.ok(reloadLines.length >= 1 && reloadLines.length <= 10, reloadLines.join('\n'));
  assert.equal((await running).code, 0);
  const r = await runEtt(['reload', '--control', relayControl()]);
  assert.equal(r.code, 0, r.stderr);
  await a.proc.stop();
});

test('client: rules, forwards and SOCKS users change on reload; running streams stay', async () => {
  const c = await startClient(keyA, 'cli');
  assert.ok((await fetchVia(c.proxy)).ok);
  const { done: running } = await slowDownload(c.proxy);
  // A block rule for the target, a forward to it, and a SOCKS login.
  await writeFile(
    c.file,
    clientToml(
      keyA,
      'cli',
      [
        '[socks_users]',
        'alice = "correct horse battery"',
        '[[rules]]',
        `cidr = "127.0.0.1/32"`,
        `port = ${target.port}`,
        'action = "block"',
        '[[forwards]]',
        'listen = "127.0.0.1:0"',
        `to = "127.0.0.1:${target.port}"`,
      ].join('\n'),
    ),
  );
  const lines = await hup(c.proc, /reload: forward 127\.0\.0\.1:0 listening on 127\.0\.0\.1:\d+/);
  const text = lines.join('\n');
  assert.match(text, /reload: rules: added "cidr=127\.0\.0\.1\/32 port=\d+ -> block"/);
  assert.match(text, /reload: socks user alice added/);
  assert.match(text, /reload: socks_users: a SOCKS login is now required/);
  assert.doesNotMatch(text, /correct horse/, 'no password in the log');
  const forwardPort = Number(
    /listening on 127\.0\.0\.1:(\d+)/.exec(lines.find((l) => /forward .* listening on/.test(l))!)![1],
  );
  // No login: refused. With it: the block rule answers.
  assert.notEqual((await fetchVia(c.proxy)).code, 0);
  const blocked = await fetchVia(c.proxy, ['--proxy-user', 'alice:correct horse battery']);
  assert.notEqual(blocked.code, 0);
  assert.match(blocked.stderr, /connection to 127\.0\.0\.1\. \(2\)|not allowed|ruleset/i);
  // The forward serves (forwards take the default path, not the rules).
  const viaForward = await curl(['-sS', '--max-time', '20', `http://127.0.0.1:${forwardPort}/`]);
  assert.equal(viaForward.code, 0, viaForward.stderr);
  assert.equal(sha256(viaForward.stdout), body.sha256);
  const done = await running;
  assert.equal(done.code, 0, 'the download that started before the reload ends complete');
  assert.equal(done.bytes, 150 * 16 * 1024);
  // Back to the first file: the forward stops listening, no login, no rule.
  await writeFile(c.file, clientToml(keyA, 'cli', ''));
  const back = await hup(c.proc, /reload: forward 127\.0\.0\.1:0 removed/);
  assert.match(back.join('\n'), /reload: socks user alice removed/);
  const gone = await new Promise<boolean>((resolve) => {
    const s = net.connect(forwardPort, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
  assert.ok(gone, 'the removed forward no longer listens');
  assert.ok((await fetchVia(c.proxy)).ok);
  await c.proc.stop();
});

test('client: a relay removed from the config has its link closed; one added serves', async () => {
  // A second relay, allowing key A; the client's route switches to it.
  const key2 = await keygen(dir, 'relay2');
  const r2 = spawnEtt(cleanup, [
    'relay',
    '--key',
    key2.file,
    '--listen',
    '127.0.0.1:0',
    '--allow',
    keyA.pin,
    '--exit',
    'accept 127.0.0.1:*',
  ]);
  const share2 = /(ett:\/\/\S+)/.exec(await r2.waitForLine(/ett:\/\//))![1]!;
  const file = path.join(dir, 'c2.toml');
  const head = [
    `key = ${JSON.stringify(keyA.file)}`,
    'listen = "127.0.0.1:0"',
    `control = ${JSON.stringify(path.join(dir, 'c2.sock'))}`,
  ];
  await writeFile(
    file,
    [...head, 'default = "one"', '[relays]', `one = ${JSON.stringify(share)}`].join('\n') + '\n',
  );
  const c = spawnEtt(cleanup, ['client', '--config', file]);
  const proxy = /listening on (\S+:\d+)/.exec(await c.waitForLine(/listening on \S+:\d+/))![1]!;
  assert.ok((await fetchVia(proxy)).ok);
  await writeFile(
    file,
    [...head, 'default = "two"', '[relays]', `two = ${JSON.stringify(share2)}`].join('\n') + '\n',
  );
  const lines = await hup(c, /link down: \S{8}: no longer in the config \(reload\)/);
  const text = lines.join('\n');
  assert.match(text, /reload: relay two added: \S{8} at 127\.0\.0\.1:\d+/);
  assert.match(text, /reload: relay one removed/);
  assert.match(text, /reload: default: route one -> route two/);
  const from = r2.errTotal;
  assert.ok((await fetchVia(proxy)).ok);
  assert.ok(
    r2.errSince(from).some((l) => l.includes('link up')),
    'the new relay carried it',
  );
  await c.stop();
  await r2.stop();
});

test('ett up: SIGHUP is answered (nothing to re-read), not fatal', async () => {
  const up = spawnEtt(cleanup, ['up', '--listen', '127.0.0.1:0']);
  await up.waitForLine(/ett client listening on/);
  await hup(up, /reload: ett up has no config file: nothing to re-read/);
  await up.stop();
});

test('a relay started without --config: SIGHUP says there is no file, and it keeps serving', async () => {
  const key = await keygen(dir, 'noconf');
  const p = spawnEtt(cleanup, ['relay', '--key', key.file, '--listen', '127.0.0.1:0', '--allow', keyA.pin]);
  await p.waitForLine(/ett:\/\//);
  await hup(p, /reload: no config file \(started without --config\)/);
  await p.stop();
});

test('commands that are not daemons keep SIGHUP’s default: a hangup ends `ett status --watch`', async () => {
  const watch = spawnEtt(cleanup, ['status', '--watch', '--control', relayControl()]);
  await watch.waitForLine(/ett relay/);
  watch.signal('SIGHUP');
  const exit = await watch.exited;
  assert.equal(exit.signal, 'SIGHUP', JSON.stringify(exit));
  assert.ok(relay.alive);
});
