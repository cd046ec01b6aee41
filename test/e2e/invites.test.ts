// Invites against real processes on loopback: `ett relay` with an allow file, `ett invite` (through the
// control socket of the running relay, and on the files of a stopped one), `ett join` writing the
// client's config, `ett client` from that config carrying curl, `ett allow list|remove`. Refusals:
// a spent token, an expired one, an unlisted key without a token, too many wrong tokens from one
// address. The relay's log never carries a token.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
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
import { sha256, startHttpTarget, testBody, type HttpTarget } from '../support/servers.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

const body = testBody(32 * 1024, 'invites');
let dir: string;
let target: HttpTarget;
let relay: EttProcess;
let share: string;
const tokens: string[] = [];

const relayToml = (name: string): string => path.join(dir, `${name}.toml`);

async function writeRelay(name: string, o: { port?: number; extra?: string } = {}): Promise<void> {
  const key = await keygen(dir, name);
  await writeFile(
    relayToml(name),
    [
      `key = ${JSON.stringify(key.file)}`,
      `listen = "127.0.0.1:${o.port ?? 0}"`,
      `control = ${JSON.stringify(path.join(dir, `${name}.sock`))}`,
      `allow_file = "${name}-allow.json"`,
      'exit = ["accept 127.0.0.1:*"]',
      o.extra ?? '',
    ].join('\n') + '\n',
  );
}

async function startRelay(name: string): Promise<{ proc: EttProcess; share: string }> {
  const proc = spawnEtt(cleanup, ['relay', '--config', relayToml(name)]);
  const line = await proc.waitForLine(/ett:\/\//);
  return { proc, share: /(ett:\/\/\S+)/.exec(line)![1]! };
}

/** `ett invite --config NAME.toml ARGS`: the invite string, and the expiry it printed. */
async function invite(name: string, args: string[] = []): Promise<{ invite: string; expires: number }> {
  const r = await runEtt(['invite', '--config', relayToml(name), ...args]);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout.toString();
  const inv = /^(ett:\/\/\S+\?invite=(\S+))$/m.exec(out);
  assert.ok(inv, out);
  tokens.push(inv[2]!);
  return { invite: inv[1]!, expires: Date.parse(/expires (\S+)/.exec(out)![1]!) };
}

function join(inv: string, key: Key, config?: string): ReturnType<typeof runEtt> {
  return runEtt(['join', inv, '--key', key.file, ...(config === undefined ? [] : ['--config', config])]);
}

/** A client started from the config `ett join` wrote; its proxy address. */
async function startClient(config: string): Promise<{ proc: EttProcess; proxy: string }> {
  const proc = spawnEtt(cleanup, ['client', '--config', config]);
  const line = await proc.waitForLine(/listening on \S+:\d+/);
  return { proc, proxy: /listening on (\S+:\d+)/.exec(line)![1]! };
}

async function fetchVia(proxy: string): Promise<{ ok: boolean; code: number | null }> {
  const r = await curl(['--max-time', '15', '--socks5-hostname', proxy, `http://127.0.0.1:${target.port}/`]);
  return { ok: r.code === 0 && sha256(r.stdout) === body.sha256, code: r.code };
}

/** A client config with its own port and control socket, no relay yet (join adds it). */
async function clientConfig(key: Key, name: string): Promise<string> {
  const file = path.join(dir, `${name}.toml`);
  await writeFile(
    file,
    [
      '# my client',
      `key = ${JSON.stringify(key.file)}`,
      'listen = "127.0.0.1:0"',
      `control = ${JSON.stringify(path.join(dir, `${name}.sock`))}`,
    ].join('\n') + '\n',
  );
  return file;
}

before(async () => {
  dir = await tempDir(cleanup);
  target = await startHttpTarget(cleanup, body);
  await writeRelay('relay');
  ({ proc: relay, share } = await startRelay('relay'));
});

test('join with an invite: the key is allowed at once, the client config gains the relay, curl goes through; allow list shows it; a second use fails', async () => {
  const alice = await keygen(dir, 'alice');
  const { invite: inv } = await invite('relay', ['--name', 'alice laptop']);
  assert.ok(inv.startsWith(`${share}?invite=`), `${inv} is the share string and a token`);
  const config = await clientConfig(alice, 'alice');
  const r = await join(inv, alice, config);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout.toString();
  assert.match(out, /joined relay \S{8} at 127\.0\.0\.1:\d+: key \S{8} is allowed as "alice laptop"/);
  assert.match(out, /added relays\.relay to .*alice\.toml/);
  const text = await readFile(config, 'utf8');
  assert.match(text, /^default = "relay"$/m);
  assert.match(text, /^# my client$/m, 'the file keeps its comment');
  assert.ok(text.includes(`share = ${JSON.stringify(share)}`), text);
  const { proc, proxy } = await startClient(config);
  assert.ok((await fetchVia(proxy)).ok, proc.stderr());
  // The allow file: mode 0600, listed with label and time.
  assert.equal((await stat(path.join(dir, 'relay-allow.json'))).mode & 0o777, 0o600);
  assert.equal((await stat(path.join(dir, 'relay-allow.json.invites'))).mode & 0o777, 0o600);
  const list = await runEtt(['allow', 'list', '--config', relayToml('relay')]);
  assert.equal(list.code, 0, list.stderr);
  const row = new RegExp(`^${alice.pin.replace(/[+/]/g, '\\$&')}  (\\S+)  "alice laptop"$`, 'm');
  const m = row.exec(list.stdout.toString());
  assert.ok(m, list.stdout.toString());
  assert.ok(!Number.isNaN(Date.parse(m[1]!)), m[1]);
  // The same token again, by another key: refused with a clear message, exit 1; that key stays out.
  const bob = await keygen(dir, 'bob');
  const again = await join(inv, bob);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /join refused by relay \S{8} at 127\.0\.0\.1:\d+: invite already used/);
  assert.doesNotMatch(
    (await runEtt(['allow', 'list', '--config', relayToml('relay')])).stdout.toString(),
    /bob/,
  );
  // ett allow remove: the running relay closes alice's link; curl through it fails from then on.
  const from = relay.errTotal;
  const rm = await runEtt(['allow', 'remove', alice.pin, '--config', relayToml('relay')]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.match(rm.stdout.toString(), /removed \S{8}… \("alice laptop"\) from the running relay's allow file/);
  await waitFor(
    () => relay.errSince(from).some((l) => /link closed: client \S{8}: its key is no longer allowed/.test(l)),
    10_000,
    `the link closed: ${relay.stderr()}`,
  );
  await proc.waitForLine(/link down/, { stderr: true });
  assert.notEqual((await fetchVia(proxy)).code, 0, 'refused after removal');
  assert.match(
    (await runEtt(['allow', 'list', '--config', relayToml('relay')])).stdout.toString(),
    /no keys in/,
  );
  await proc.stop();
});

test('an expired invite fails with a clear message (exit 1); a multi-use invite serves two keys', async () => {
  const { invite: short, expires } = await invite('relay', ['--expires', '1s']);
  const carol = await keygen(dir, 'carol');
  for (let i = 0; i < 40 && Date.now() <= expires + 50; i++) await sleep(100);
  const r = await join(short, carol);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /join refused by relay .*: invite expired/);
  const { invite: two } = await invite('relay', ['--uses', '2', '--name', 'team']);
  const dave = await keygen(dir, 'dave');
  const erin = await keygen(dir, 'erin');
  assert.equal((await join(two, dave)).code, 0);
  assert.equal((await join(two, erin)).code, 0);
  const third = await join(two, carol);
  assert.equal(third.code, 1);
  assert.match(third.stderr, /invite already used/);
  const list = (await runEtt(['allow', 'list', '--config', relayToml('relay')])).stdout.toString();
  assert.ok(list.includes(dave.pin) && list.includes(erin.pin) && !list.includes(carol.pin), list);
});

test('an unlisted key without a valid token is refused as before: a client on ett/1, and a join with a wrong token', async () => {
  const mallory = await keygen(dir, 'mallory');
  const from = relay.errTotal;
  const wrong = `${share}?invite=${randomBytes(32).toString('base64url')}`;
  const r = await join(wrong, mallory);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /invite not known to this relay/);
  const config = await clientConfig(mallory, 'mallory');
  await writeFile(config, (await readFile(config, 'utf8')) + `via = ${JSON.stringify(share)}\n`);
  const { proc, proxy } = await startClient(config);
  const f = await fetchVia(proxy);
  assert.notEqual(f.code, 0);
  await waitFor(
    () => relay.errSince(from).some((l) => /refused client \S{8} from 127\.0\.0\.1$/.test(l)),
    10_000,
    relay.stderr(),
  );
  await proc.stop();
});

test('wrong tokens from one address: after join_failures_per_source the relay refuses even a valid one, unread; an invite made while the relay was stopped', async () => {
  // A port chosen now: an invite made on the files must name it before the relay runs.
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  await writeRelay('strict', { port, extra: '[limits]\njoin_failures_per_source = 3' });
  // The relay is not running: ett invite writes its files.
  const { invite: valid } = await invite('strict');
  const { proc: strict, share: strictShare } = await startRelay('strict');
  const key = await keygen(dir, 'frank');
  let attempts = 0;
  for (let i = 0; i < 3; i++) {
    attempts++;
    const r = await join(`${strictShare}?invite=${randomBytes(32).toString('base64url')}`, key);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /invite not known/);
  }
  const limited = await join(valid, key);
  attempts++;
  assert.equal(limited.code, 1);
  assert.match(limited.stderr, /too many failed joins from 127\.0\.0\.1/);
  assert.equal(attempts, 4);
  assert.match(
    (await runEtt(['allow', 'list', '--config', relayToml('strict')])).stdout.toString(),
    /no keys in/,
  );
  // The first relay keeps counts of its own: it takes an invite from this address at once.
  const other = await keygen(dir, 'grace');
  const { invite: fresh } = await invite('relay');
  assert.equal((await join(fresh, other)).code, 0);
  for (const t of tokens) {
    assert.ok(!strict.stderr().includes(t), 'no token in the strict relay log');
    assert.ok(!strict.stderr().includes(t.slice(0, 16)));
  }
  await strict.stop();
});

test('a relay without an allow file does not take invites: join says so (exit 1), the key stays refused', async () => {
  const key = await keygen(dir, 'plain');
  const someone = await keygen(dir, 'someone');
  const plain = spawnEtt(cleanup, [
    'relay',
    '--key',
    key.file,
    '--listen',
    '127.0.0.1:0',
    '--allow',
    someone.pin,
    '--control',
    'off',
  ]);
  const line = await plain.waitForLine(/ett:\/\//);
  const plainShare = /(ett:\/\/\S+)/.exec(line)![1]!;
  const r = await join(
    `${plainShare}?invite=${randomBytes(32).toString('base64url')}`,
    await keygen(dir, 'h'),
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /does not take invites \(it runs without an allow file\)/);
  await plain.stop();
});

test('no token ever appears in the relay log', () => {
  assert.ok(tokens.length >= 5);
  const log = relay.stderr();
  assert.match(log, /join: client \S{8} from 127\.0\.0\.1 joined as "alice laptop"/);
  for (const t of tokens) {
    assert.ok(!log.includes(t), 'token in the log');
    assert.ok(!log.includes(t.slice(0, 16)), 'part of a token in the log');
  }
});
