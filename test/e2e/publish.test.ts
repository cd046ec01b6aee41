// Publishing a local service (ssh -R; DESIGN.md §20) between real processes on loopback: a relay with
// publish rules, clients with [[publish]], curl and node sockets as visitors. The chain, sshd and
// healing after a relay restart or link loss run in network namespaces (test/netns/publish.test.ts).

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { encodeOpen, OPEN_INCOMING, OPEN_PUBLISH } from '../../src/link/open.js';
import { ERROR_TABLE } from '../../src/errors.js';
import { RawLink } from '../support/limits.js';
import {
  Cleanup,
  curl,
  keygen,
  runEtt,
  sleep,
  spawnEtt,
  tempDir,
  waitFor,
  withDeadline,
  type EttProcess,
  type Key,
} from '../support/proc.js';
import { sha256, startHttpTarget, testBody, type HttpTarget } from '../support/servers.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

const body = testBody(256 * 1024, 'publish');
let dir: string;
let service: HttpTarget;
let relayKey: Key;
let keyA: Key;
let keyB: Key;
let relay: EttProcess;
let share: string;
const relayConfig = (): string => path.join(dir, 'relay.toml');

/** A port nothing listens on now (the kernel's pick, released at once). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function writeRelayConfig(publish: string[], limits = ''): Promise<void> {
  await writeFile(
    relayConfig(),
    [
      `key = ${JSON.stringify(relayKey.file)}`,
      'listen = "127.0.0.1:0"',
      `control = ${JSON.stringify(path.join(dir, 'relay.sock'))}`,
      `allow = ${JSON.stringify([keyA.pin, keyB.pin])}`,
      'exit = []',
      `publish = ${JSON.stringify(publish)}`,
      'log_level = "debug"',
      limits,
    ].join('\n') + '\n',
  );
}

async function startClient(key: Key, name: string, publish: string): Promise<EttProcess> {
  const file = path.join(dir, `${name}.toml`);
  await writeClientConfig(key, name, publish);
  const proc = spawnEtt(cleanup, ['client', '--config', file]);
  await proc.waitForLine(/listening on \S+:\d+/);
  return proc;
}

async function writeClientConfig(key: Key, name: string, publish: string): Promise<void> {
  await writeFile(
    path.join(dir, `${name}.toml`),
    [
      `key = ${JSON.stringify(key.file)}`,
      'listen = "127.0.0.1:0"',
      `control = ${JSON.stringify(path.join(dir, `${name}.sock`))}`,
      `via = ${JSON.stringify(share)}`,
      'log_level = "debug"',
      publish,
    ].join('\n') + '\n',
  );
}

const publication = (remotePort: number, toPort: number): string =>
  `[[publish]]\nremote = "127.0.0.1:${remotePort}"\nto = "127.0.0.1:${toPort}"\n`;

/** curl straight to a port on the relay's machine (the visitor; no proxy). */
async function visit(
  port: number,
): Promise<{ ok: boolean; hash: string; stderr: string; code: number | null }> {
  const r = await curl(['-sS', '--max-time', '20', '--noproxy', '*', `http://127.0.0.1:${port}/`]);
  return { ok: r.code === 0, hash: sha256(r.stdout), stderr: r.stderr, code: r.code };
}

/** Resolves once a TCP connect to port is refused (the relay stopped listening), polled, bounded. */
async function refusedSoon(port: number, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(false);
      });
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
    });
    if (refused) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}: port ${port} still accepts connections`);
}

before(async () => {
  dir = await tempDir(cleanup);
  service = await startHttpTarget(cleanup, body);
  [relayKey, keyA, keyB] = await Promise.all([keygen(dir, 'relay'), keygen(dir, 'a'), keygen(dir, 'b')]);
  await writeRelayConfig([`${keyA.pin} ports 1024-65535 on 127.0.0.1`, `${keyB.pin} ports 1024-65535`]);
  relay = spawnEtt(cleanup, ['relay', '--config', relayConfig()]);
  share = /(ett:\/\/\S+)/.exec(await relay.waitForLine(/ett:\/\//))![1]!;
});

test('a published port on the relay carries curl to the client-side service; status lists it; the client stopping closes the port', async () => {
  const port = await freePort();
  const a = await startClient(keyA, 'a1', publication(port, service.port));
  await a.waitForLine(/published 127\.0\.0\.1:\d+ on route/, { stderr: true });
  const before = service.requests();
  for (let i = 0; i < 3; i++) {
    const r = await visit(port);
    assert.ok(r.ok, r.stderr);
    assert.equal(r.hash, body.sha256);
  }
  assert.equal(service.requests() - before, 3);
  // Both daemons list it: the relay where it listens, the client where it leads.
  const relayStatus = await runEtt(['status', '--json', '--control', path.join(dir, 'relay.sock')]);
  assert.match(
    relayStatus.stdout.toString(),
    new RegExp(`"kind":\\s*"published"[^}]*127\\.0\\.0\\.1:${port}`),
  );
  const clientStatus = await runEtt(['status', '--control', path.join(dir, 'a1.sock')]);
  assert.match(clientStatus.stdout.toString(), new RegExp(`published.*127\\.0\\.0\\.1:${port}`));
  await a.stop();
  await refusedSoon(port, 'after the publishing client stopped');
  await relay.waitForLine(new RegExp(`127\\.0\\.0\\.1:${port} of client \\S+ closed`), { stderr: true });
});

test('a second key cannot take a published port (in-use); a port or address outside its rule is refused with the reason; nothing listens there', async () => {
  const port = await freePort();
  const a = await startClient(keyA, 'a2', publication(port, service.port));
  await a.waitForLine(/published 127\.0\.0\.1:\d+ on route/, { stderr: true });
  const elsewhere = await freePort();
  const b = await startClient(
    keyB,
    'b2',
    publication(port, service.port) +
      `[[publish]]\nremote = "127.0.0.1:80"\nto = "127.0.0.1:${service.port}"\n`,
  );
  await b.waitForLine(
    new RegExp(`publish 127\\.0\\.0\\.1:${port} .*in-use: .*already published by another client`),
    {
      stderr: true,
    },
  );
  await b.waitForLine(
    /publish 127\.0\.0\.1:80 .*policy: .*port 80 is outside this key's ports \(allowed: 1024-65535\)/,
    {
      stderr: true,
    },
  );
  // Key A may bind 127.0.0.1 only.
  await writeClientConfig(
    keyA,
    'a2',
    publication(port, service.port) +
      `[[publish]]\nremote = "0.0.0.0:${elsewhere}"\nto = "127.0.0.1:${service.port}"\n`,
  );
  a.signal('SIGHUP');
  await a.waitForLine(
    new RegExp(
      `publish 0\\.0\\.0\\.0:${elsewhere} .*policy: .*address 0\\.0\\.0\\.0 is not one this key may bind`,
    ),
    {
      stderr: true,
    },
  );
  await refusedSoon(elsewhere, 'a refused publication');
  const r = await visit(port);
  assert.ok(r.ok, r.stderr);
  assert.equal(r.hash, body.sha256);
  await b.stop();
  await a.stop();
  await refusedSoon(port, 'after both clients stopped');
});

test('the same key running twice: the second is refused in-use while the first link is alive, and takes over once it ends', async () => {
  const port = await freePort();
  const first = await startClient(keyA, 'a6', publication(port, service.port));
  await first.waitForLine(new RegExp(`published 127\\.0\\.0\\.1:${port} `), { stderr: true });
  const mark = relay.errTotal;
  const twin = await startClient(keyA, 'a6b', publication(port, service.port));
  await twin.waitForLine(/in-use: .*already published by this key over another link, which is alive/, {
    stderr: true,
  });
  assert.equal((await visit(port)).hash, body.sha256);
  assert.equal(relay.errSince(mark).filter((l) => /taken over/.test(l)).length, 0, relay.stderr());
  await first.stop();
  await twin.waitForLine(new RegExp(`published 127\\.0\\.0\\.1:${port} `), {
    stderr: true,
    timeoutMs: 60_000,
  });
  assert.equal((await visit(port)).hash, body.sha256);
  await twin.stop();
  await refusedSoon(port, 'after both stopped');
});

test('reload: a publication added or removed in the client config follows; the relay dropping the rule closes the port', async () => {
  const [p1, p2] = [await freePort(), await freePort()];
  const a = await startClient(keyA, 'a3', publication(p1, service.port));
  await a.waitForLine(new RegExp(`published 127\\.0\\.0\\.1:${p1} `), { stderr: true });
  await writeClientConfig(keyA, 'a3', publication(p2, service.port));
  a.signal('SIGHUP');
  await a.waitForLine(new RegExp(`published 127\\.0\\.0\\.1:${p2} `), { stderr: true });
  await refusedSoon(p1, 'a publication removed by the client reload');
  assert.equal((await visit(p2)).hash, body.sha256);
  // The relay's owner takes key A's rule away: its port closes, the client is told why and keeps asking.
  await writeRelayConfig([`${keyB.pin} ports 1024-65535`]);
  relay.signal('SIGHUP');
  await refusedSoon(p2, 'a publication the relay reload no longer allows');
  await a.waitForLine(/policy: .*may publish nothing on this relay/, { stderr: true });
  await a.stop();
  await writeRelayConfig([`${keyA.pin} ports 1024-65535 on 127.0.0.1`, `${keyB.pin} ports 1024-65535`]);
  relay.signal('SIGHUP');
  await relay.waitForLine(/reload: publish rules: added/, { stderr: true });
});

test('the local service refusing: the visitor is reset, the publication stays; a raw client sending INCOMING or a PUBLISH of a name is refused, its link stays up', async () => {
  const port = await freePort();
  const dead = await freePort();
  const a = await startClient(keyA, 'a4', publication(port, dead));
  await a.waitForLine(new RegExp(`published 127\\.0\\.0\\.1:${port} `), { stderr: true });
  const r = await visit(port);
  assert.equal(r.ok, false);
  assert.match(r.stderr, /reset|Empty reply|Recv failure/i);
  await a.waitForLine(/local service: refused/, { stderr: true });
  // Still published: the next visitor is accepted (and reset again, the service is still down).
  assert.equal((await visit(port)).ok, false);
  await a.stop();
  await refusedSoon(port, 'after the client stopped');

  const raw = await RawLink.open(keyA, share, cleanup);
  const incoming = encodeOpen({ command: OPEN_INCOMING, target: { host: '127.0.0.1', port: 9 } });
  raw.frame(0, 0x1, 1, incoming.length, incoming);
  const named = encodeOpen({ command: OPEN_PUBLISH, target: { host: 'localhost', port } });
  raw.frame(0, 0x1, 3, named.length, named);
  const answer = async (id: number): Promise<{ result: number; reason: string }> => {
    const f = await raw.waitFrame((x) => x.streamId === id && x.type === 0 && (x.flags & 0x2) !== 0);
    return { result: f.payload[0]!, reason: Buffer.from(f.payload.subarray(1)).toString('latin1') };
  };
  const i = await answer(1);
  assert.equal(i.result, ERROR_TABLE['command-unsupported'].mux);
  assert.match(i.reason, /INCOMING/);
  const n = await answer(3);
  assert.equal(n.result, ERROR_TABLE['address-type'].mux);
  assert.match(n.reason, /not an IP address/);
  assert.equal(raw.closed, false);
});

test('bounds: publish_ports_per_client and publish_connections_per_port', async () => {
  await writeRelayConfig(
    [`${keyA.pin} ports 1024-65535 on 127.0.0.1`, `${keyB.pin} ports 1024-65535`],
    '[limits]\npublish_ports_per_client = 1\npublish_connections_per_port = 2\n',
  );
  relay.signal('SIGHUP');
  await relay.waitForLine(/publish_ports_per_client: 16 -> 1/, { stderr: true });
  // A service that holds each connection open and answers one line per line.
  const held = new Set<net.Socket>();
  const echo = net.createServer((s) => {
    held.add(s);
    s.on('error', () => undefined);
    s.on('close', () => held.delete(s));
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  cleanup.add(() => new Promise<void>((r) => echo.close(() => r())));
  cleanup.add(() => held.forEach((s) => s.destroy()));
  const echoPort = (echo.address() as net.AddressInfo).port;
  const [p1, p2] = [await freePort(), await freePort()];
  const a = await startClient(keyA, 'a5', publication(p1, echoPort) + publication(p2, echoPort));
  await a.waitForLine(/published 127\.0\.0\.1:\d+ /, { stderr: true });
  await a.waitForLine(/limit: .*publish_ports_per_client \(1\) reached/, { stderr: true });

  const published = /published 127\.0\.0\.1:(\d+) /.exec(
    a.errLines.find((l) => /published 127/.test(l))!,
  )![1]!;
  const port = Number(published);
  const talk = (s: net.Socket, line: string): Promise<string> =>
    withDeadline(talkOnce(s, line), 20_000, `an answer to ${line}: ${a.stderr()}\n${relay.stderr()}`);
  const talkOnce = (s: net.Socket, line: string): Promise<string> =>
    new Promise((resolve) => {
      if (s.destroyed) return resolve(''); // reset before we spoke
      let got = '';
      const done = (): void => resolve(got);
      s.on('data', (d: Buffer) => {
        got += d.toString();
        if (got.includes('\n')) done();
      });
      s.once('close', done);
      s.once('error', done);
      s.write(line + '\n');
    });
  const open = async (): Promise<net.Socket> => {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    cleanup.add(() => void s.destroy());
    // Connected, or reset before the connect was seen (the bound's refusal can be that quick).
    await withDeadline(
      new Promise<void>((r) => {
        s.once('connect', () => r());
        s.once('close', () => r());
      }),
      20_000,
      `a connect to ${port}`,
    );
    return s;
  };
  const first = await open();
  const second = await open();
  assert.equal(await talk(first, 'one'), 'one\n');
  assert.equal(await talk(second, 'two'), 'two\n');
  // The third at once is over the bound: reset at accept, never reaches the service.
  const third = await open();
  assert.equal(await talk(third, 'three'), '');
  assert.equal(held.size, 2);
  first.destroy();
  await waitFor(() => held.size === 1, 10_000, 'the service to see the first connection close');
  // The relay counts a connection until both its halves have closed, a moment after the service saw
  // its end (the service's FIN still travels back to the relay): a fourth in that moment is refused
  // like the third. So a few tries, 100 ms apart; each refused one never reaches the service.
  let fourth = '';
  for (let i = 0; i < 50 && fourth === ''; i++) {
    if (i > 0) await sleep(100);
    fourth = await talk(await open(), 'four');
    if (fourth === '') assert.equal(held.size, 1);
  }
  assert.equal(fourth, 'four\n');
  assert.equal(held.size, 2);
  await a.stop();
  await writeRelayConfig([`${keyA.pin} ports 1024-65535 on 127.0.0.1`, `${keyB.pin} ports 1024-65535`]);
  relay.signal('SIGHUP');
  await relay.waitForLine(/publish_ports_per_client: 1 -> 16/, { stderr: true });
});
