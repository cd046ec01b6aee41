// UDP through ett with a real client: Python's PySocks (Debian python3-socks) doing SOCKS5 UDP ASSOCIATE
// on the mixed port, through one relay and through a chain of three, to a UDP echo server on loopback;
// every answer hash-checked. The exit policy decides UDP apart from TCP; bad datagrams and floods are
// dropped and counted while the daemon keeps serving TCP.

import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import {
  Cleanup,
  curl,
  keygen,
  REPO_ROOT,
  sleep,
  spawnEtt,
  startRelay,
  tempDir,
  waitFor,
  type EttProcess,
  type Key,
  type Relay,
} from '../support/proc.js';
import { sha256, startHttpTarget, testBody, type HttpTarget } from '../support/servers.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = path.join(REPO_ROOT, 'test', 'udp', 'socks_udp_echo.py');
const havePySocks = spawnSync(PYTHON, ['-c', 'import socks'], { timeout: 10_000 }).status === 0;
const skip = havePySocks ? false : 'PySocks is not installed (Debian python3-socks; .ci/run installs it)';

const cleanup = new Cleanup();
after(() => cleanup.run());

let dir: string;
let clientKey: Key;
let echoPort: number;
let echoed = 0;
let target: HttpTarget;
const body = testBody(32 * 1024, 'udp');

/** A UDP echo server on 127.0.0.1, stopped by cleanup. */
async function startEcho(): Promise<number> {
  const s = dgram.createSocket('udp4');
  s.on('message', (m, r) => {
    echoed++;
    s.send(m, r.port, r.address);
  });
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  cleanup.add(() => new Promise<void>((resolve) => s.close(() => resolve())));
  return s.address().port;
}

async function client(
  via: string,
  extra: string[] = [],
): Promise<{ proc: EttProcess; host: string; port: number }> {
  const proc = spawnEtt(cleanup, [
    'client',
    '--key',
    clientKey.file,
    '--listen',
    '127.0.0.1:0',
    '--via',
    via,
    ...extra,
  ]);
  const line = await proc.waitForLine(/listening on \S+:\d+/);
  const [, host, port] = /listening on (\S+):(\d+)/.exec(line)!;
  return { proc, host: host!, port: Number(port) };
}

interface PyResult {
  readonly code: number | null;
  readonly lines: string[];
  readonly answers: number;
}

/**
 * Runs the PySocks client: count datagrams of size bytes to host:port through the proxy. Asynchronous:
 * the echo server lives in this process and must keep answering meanwhile.
 */
function pysocks(
  proxy: { host: string; port: number },
  host: string,
  port: number,
  count: number,
  size: number,
): Promise<PyResult> {
  const args = [SCRIPT, proxy.host, String(proxy.port), host, String(port), String(count), String(size)];
  return new Promise((resolve) => {
    execFile(PYTHON, args, { encoding: 'utf8', timeout: 120_000 }, (err, stdout) => {
      const lines = stdout.trim().split('\n');
      const answers = Number(/^answers (\d+)$/.exec(lines[lines.length - 1] ?? '')?.[1] ?? -1);
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, lines, answers });
    });
  });
}

/** The hash PySocks prints for datagram i of size bytes (its payload is sha256(i) repeated). */
function expectedHash(i: number, size: number): string {
  const unit = createHash('sha256').update(String(i)).digest();
  const payload = Buffer.concat(Array.from({ length: Math.ceil(size / 32) + 1 }, () => unit)).subarray(
    0,
    size,
  );
  return sha256(payload);
}

function checkAnswers(r: PyResult, count: number, size: number, source: string): void {
  assert.equal(r.code, 0, r.lines.join('\n'));
  assert.equal(r.answers, count);
  for (let i = 0; i < count; i++) {
    const line = r.lines.find((l) => l.startsWith(`${i} `));
    assert.ok(line, `answer ${i}`);
    const [, hash, host] = line.split(' ');
    assert.equal(hash, expectedHash(i, size), `datagram ${i} intact`);
    assert.equal(host, source, 'the answer says where it came from, as the application named it');
  }
}

let relay: Relay;

before(async () => {
  dir = await tempDir(cleanup);
  clientKey = await keygen(dir, 'client');
  echoPort = await startEcho();
  target = await startHttpTarget(cleanup, body);
  relay = await startRelay(cleanup, dir, {
    allow: [clientKey.pin],
    exit: [`accept udp 127.0.0.1:${echoPort}`, 'accept 127.0.0.1:*'],
    name: 'relay',
  });
});

test('PySocks UDP through one relay: datagrams of 1 B to 60 000 B come back intact', { skip }, async () => {
  const c = await client(relay.share);
  for (const size of [1, 1200, 60_000])
    checkAnswers(await pysocks(c, '127.0.0.1', echoPort, 8, size), 8, size, '127.0.0.1');
  // A name goes to the exit as a name, and the answer comes back under it.
  checkAnswers(await pysocks(c, 'localhost', echoPort, 4, 100), 4, 100, 'localhost');
  await c.proc.stop();
});

test('PySocks UDP through a chain of three relays', { skip }, async () => {
  const exit = await startRelay(cleanup, dir, {
    allow: [clientKey.pin],
    exit: [`accept udp 127.0.0.1:${echoPort}`],
    name: 'exit3',
  });
  const middle = await startRelay(cleanup, dir, {
    allow: [clientKey.pin],
    exit: [`accept 127.0.0.1:${exit.port}`, 'reject *:*'],
    name: 'mid3',
  });
  const entry = await startRelay(cleanup, dir, {
    allow: [clientKey.pin],
    exit: [`accept 127.0.0.1:${middle.port}`, 'reject *:*'],
    name: 'entry3',
  });
  const c = await client(`${entry.share},${middle.share},${exit.share}`);
  checkAnswers(await pysocks(c, '127.0.0.1', echoPort, 16, 4000), 16, 4000, '127.0.0.1');
  await c.proc.stop();
});

test(
  'the exit policy decides UDP apart from TCP: TCP accepted, UDP to the same host refused',
  { skip },
  async () => {
    // This relay accepts TCP to 127.0.0.1 and has no udp rule: its associations are refused.
    const tcpOnly = await startRelay(cleanup, dir, {
      allow: [clientKey.pin],
      exit: ['accept 127.0.0.1:*'],
      name: 'tcponly',
    });
    const c = await client(tcpOnly.share);
    const before = echoed;
    const r = await pysocks(c, '127.0.0.1', echoPort, 3, 10);
    assert.equal(r.answers, 0, r.lines.join('\n'));
    assert.equal(echoed, before, 'no datagram reached the echo server');
    await c.proc.waitForLine(/udp route via: association refused or failed: policy/, { stderr: true });
    const tcp = await curl([
      '-sS',
      '--socks5-hostname',
      `${c.host}:${c.port}`,
      `http://127.0.0.1:${target.port}/`,
    ]);
    assert.equal(tcp.code, 0, tcp.stderr);
    assert.equal(sha256(tcp.stdout), body.sha256);
    await c.proc.stop();
  },
);

/** A raw SOCKS5 UDP ASSOCIATE from node: the control socket and the relay port the reply gives. */
async function associate(proxyPort: number): Promise<{ control: net.Socket; relayPort: number }> {
  const control = net.connect(proxyPort, '127.0.0.1');
  cleanup.add(() => void control.destroy());
  await new Promise<void>((resolve, reject) => control.once('connect', resolve).once('error', reject));
  const chunks: Buffer[] = [];
  control.on('data', (c: Buffer) => chunks.push(c));
  control.write(Buffer.from([5, 1, 0]));
  await waitFor(() => Buffer.concat(chunks).length >= 2, 5000, 'method reply');
  control.write(Buffer.from([5, 3, 0, 1, 0, 0, 0, 0, 0, 0]));
  await waitFor(() => Buffer.concat(chunks).length >= 12, 5000, 'associate reply');
  const reply = Buffer.concat(chunks).subarray(2);
  assert.equal(reply[1], 0, 'UDP ASSOCIATE succeeded');
  return { control, relayPort: reply.readUInt16BE(8) };
}

function udpHeader(frag: number, port: number): Buffer {
  return Buffer.from([0, 0, frag, 1, 127, 0, 0, 1, port >> 8, port & 0xff]);
}

test(
  'bad datagrams: FRAG ≠ 0, malformed headers, a foreign source; dropped and counted, TCP served meanwhile',
  { skip },
  async () => {
    const c = await client(relay.share, ['--log-level', 'info']);
    const { control, relayPort } = await associate(c.port);
    const app = dgram.createSocket('udp4');
    cleanup.add(() => new Promise<void>((resolve) => app.close(() => resolve())));
    await new Promise<void>((resolve) => app.bind(0, '127.0.0.1', resolve));
    const answers: Buffer[] = [];
    app.on('message', (m) => answers.push(m));
    const send = (b: Buffer, from = app): Promise<void> =>
      new Promise((resolve) => from.send(b, relayPort, '127.0.0.1', () => resolve()));
    await send(Buffer.concat([udpHeader(0, echoPort), Buffer.from('first')])); // fixes the source port
    await waitFor(() => answers.length === 1, 10_000, 'the first answer');
    assert.deepEqual(answers[0]!.subarray(10), Buffer.from('first'));
    await send(Buffer.concat([udpHeader(1, echoPort), Buffer.from('fragment')]));
    await send(Buffer.from([0, 0, 0])); // shorter than any header
    await send(Buffer.from([0, 0, 0, 9, 1, 2, 3])); // unknown ATYP
    const other = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => other.bind(0, '127.0.0.1', resolve));
    await send(Buffer.concat([udpHeader(0, echoPort), Buffer.from('foreign')]), other);
    other.close();
    await send(Buffer.concat([udpHeader(0, echoPort), Buffer.from('last')]));
    await waitFor(() => answers.length === 2, 10_000, 'the last answer');
    assert.deepEqual(answers[1]!.subarray(10), Buffer.from('last'), 'only the good datagrams were carried');
    const tcp = await curl([
      '-sS',
      '--socks5-hostname',
      `${c.host}:${c.port}`,
      `http://127.0.0.1:${target.port}/`,
    ]);
    assert.equal(tcp.code, 0, tcp.stderr);
    control.end();
    const line = await c.proc.waitForLine(/socks5 udp association ended; dropped/, { stderr: true });
    assert.match(line, /1 source/);
    assert.match(line, /1 fragment/);
    assert.match(line, /2 malformed/);
    assert.ok(c.proc.alive);
    await c.proc.stop();
  },
);

test(
  'limits: udp_datagrams_per_second drops a burst beyond it; udp_idle_timeout_ms ends a silent association',
  { skip },
  async () => {
    const toml = path.join(dir, 'udp-limits.toml');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(
      toml,
      [
        `key = ${JSON.stringify(clientKey.file)}`,
        'listen = "127.0.0.1:0"',
        `via = ${JSON.stringify(relay.share)}`,
        '[limits]',
        'udp_datagrams_per_second = 5',
        'udp_idle_timeout_ms = 1500',
      ].join('\n'),
    );
    const proc = spawnEtt(cleanup, ['client', '--config', toml]);
    const port = Number(/listening on \S+:(\d+)/.exec(await proc.waitForLine(/listening on \S+:\d+/))![1]);
    const { control, relayPort } = await associate(port);
    const app = dgram.createSocket('udp4');
    cleanup.add(() => new Promise<void>((resolve) => app.close(() => resolve())));
    await new Promise<void>((resolve) => app.bind(0, '127.0.0.1', resolve));
    let answers = 0;
    app.on('message', () => answers++);
    for (let i = 0; i < 40; i++)
      app.send(Buffer.concat([udpHeader(0, echoPort), Buffer.from(`d${i}`)]), relayPort, '127.0.0.1');
    await sleep(1000);
    // 40 sent within well under a second or two: at most 5 per second got through.
    assert.ok(answers >= 1 && answers <= 10, `answers: ${answers}`);
    // Then silence: the association ends and its control connection is closed by the client.
    const closed = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 15_000);
      control.once('close', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
    assert.ok(closed, 'the idle association closed its control connection');
    const line = await proc.waitForLine(/socks5 udp association ended; dropped/, { stderr: true });
    assert.match(line, /\d+ rate/);
    await proc.stop();
  },
);

test(
  'relay: udp_associations_per_client refuses one more association of the same key',
  { skip },
  async () => {
    const key = await keygen(dir, 'onlyone');
    const rk = await keygen(dir, 'relay-one');
    const { writeFile } = await import('node:fs/promises');
    const rtoml = path.join(dir, 'relay-one.toml');
    await writeFile(
      rtoml,
      [
        `key = ${JSON.stringify(rk.file)}`,
        'listen = "127.0.0.1:0"',
        `allow = [${JSON.stringify(key.pin)}]`,
        `exit = ["accept udp 127.0.0.1:${echoPort}"]`,
        '[limits]',
        'udp_associations_per_client = 1',
      ].join('\n'),
    );
    const r = spawnEtt(cleanup, ['relay', '--config', rtoml, '--log-level', 'debug']);
    const share = /(ett:\/\/\S+)/.exec(await r.waitForLine(/ett:\/\//))![1]!;
    const c = spawnEtt(cleanup, ['client', '--key', key.file, '--listen', '127.0.0.1:0', '--via', share]);
    const port = Number(/listening on \S+:(\d+)/.exec(await c.waitForLine(/listening on \S+:\d+/))![1]);
    const first = await pysocks({ host: '127.0.0.1', port }, '127.0.0.1', echoPort, 1, 10);
    assert.equal(first.answers, 1);
    // The first association's control connection is closed by the script's exit, so one more works…
    await sleep(500);
    const a = await associate(port);
    const b = await associate(port);
    const app = dgram.createSocket('udp4');
    cleanup.add(() => new Promise<void>((resolve) => app.close(() => resolve())));
    await new Promise<void>((resolve) => app.bind(0, '127.0.0.1', resolve));
    app.send(Buffer.concat([udpHeader(0, echoPort), Buffer.from('a')]), a.relayPort, '127.0.0.1');
    await sleep(300);
    app.send(Buffer.concat([udpHeader(0, echoPort), Buffer.from('b')]), b.relayPort, '127.0.0.1');
    await r.waitForLine(/udp association refused: udp_associations_per_client \(1\)/, { stderr: true });
    assert.ok(r.alive && c.alive);
    a.control.end();
    b.control.end();
    await c.stop();
    await r.stop();
  },
);
