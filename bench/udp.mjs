// UDP through ett (`npm run bench` runs it after run.mjs): a SOCKS5 UDP ASSOCIATE client in this process,
// a UDP echo server in a process of its own, relays and the client as real `bin/ett` processes on
// loopback. For each of: the echo straight (no ett, the floor), 1 relay, 3 relays:
//   - round trip of one 100-byte datagram at a time: p50 / p99 over UDP_RTT_N (2000)
//   - a burst of UDP_BURST_N (10 000) 512-byte datagrams sent as fast as the socket takes them: how
//     many came back within 3 s of the last send (loss reported, not hidden), and answers per second.
import { execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const ett = join(root, 'bin', 'ett');
const RTT_N = Number(process.env.UDP_RTT_N ?? 2000);
const BURST_N = Number(process.env.UDP_BURST_N ?? 10_000);
const dir = mkdtempSync(join(tmpdir(), 'ett-bench-udp-'));
const children = [];

const ECHO = `const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => s.send(m, r.port, r.address));
s.bind(0, '127.0.0.1', () => console.log(s.address().port));`;

function start(args, match) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no start line from ${args.join(' ')}`)), 15000);
    child.stdout.on('data', (c) => {
      out += c;
      const m = out.match(match);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
  });
}

function keygen(name) {
  const file = join(dir, `${name}.key`);
  return { file, pin: execFileSync(process.execPath, [ett, 'keygen', file], { encoding: 'utf8' }).trim() };
}

/** SOCKS5 UDP ASSOCIATE on the client's port: the control socket and the relay port. */
async function associate(port) {
  const control = net.connect(port, '127.0.0.1');
  await new Promise((r, j) => control.once('connect', r).once('error', j));
  let got = Buffer.alloc(0);
  const need = (n) =>
    new Promise((resolve) => {
      const check = () =>
        got.length >= n ? resolve() : control.once('data', (c) => ((got = Buffer.concat([got, c])), check()));
      check();
    });
  control.write(Buffer.from([5, 1, 0]));
  await need(2);
  control.write(Buffer.from([5, 3, 0, 1, 0, 0, 0, 0, 0, 0]));
  await need(12);
  if (got[3] !== 0) throw new Error(`UDP ASSOCIATE refused: ${got[3]}`);
  return { control, relayPort: got.readUInt16BE(10) };
}

/** A sender for echo at echoPort: straight, or wrapped in SOCKS5 UDP headers to relayPort. */
async function channel(echoPort, relayPort) {
  const sock = dgram.createSocket('udp4');
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  const head = Buffer.from([0, 0, 0, 1, 127, 0, 0, 1, echoPort >> 8, echoPort & 0xff]);
  const send = (payload) =>
    relayPort === null
      ? sock.send(payload, echoPort, '127.0.0.1')
      : sock.send(Buffer.concat([head, payload]), relayPort, '127.0.0.1');
  const strip = (msg) => (relayPort === null ? msg : msg.subarray(10));
  return { sock, send, strip };
}

async function rtt(ch) {
  const times = [];
  for (let i = 0; i < RTT_N; i++) {
    const payload = Buffer.alloc(100, i & 0xff);
    payload.writeUInt32BE(i, 0);
    const t0 = process.hrtime.bigint();
    const answered = await new Promise((resolve) => {
      const timer = setTimeout(() => (ch.sock.off('message', on), resolve(false)), 2000);
      const on = (m) => {
        if (ch.strip(m).readUInt32BE(0) !== i) return;
        clearTimeout(timer);
        ch.sock.off('message', on);
        resolve(true);
      };
      ch.sock.on('message', on);
      ch.send(payload);
    });
    if (answered) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? NaN;
  return { p50: q(0.5), p99: q(0.99), lost: RTT_N - times.length };
}

async function burst(ch) {
  let answers = 0;
  let last = 0;
  const on = () => {
    answers++;
    last = performance.now();
  };
  ch.sock.on('message', on);
  const t0 = performance.now();
  for (let i = 0; i < BURST_N; i++) {
    const payload = Buffer.alloc(512);
    payload.writeUInt32BE(i, 0);
    ch.send(payload);
    if (i % 64 === 63) await new Promise((r) => setImmediate(r)); // let the socket drain
  }
  await new Promise((r) => setTimeout(r, 3000));
  ch.sock.off('message', on);
  const secs = ((last || performance.now()) - t0) / 1000;
  return { answers, loss: 1 - answers / BURST_N, perSec: answers / secs };
}

async function scenario(name, hops, echoPort) {
  if (hops === 0) {
    const ch = await channel(echoPort, null);
    const r = { name, rtt: await rtt(ch), burst: await burst(ch) };
    ch.sock.close();
    return r;
  }
  const client = keygen(`${name}-client`);
  const shares = [];
  for (let i = 0; i < hops; i++) {
    const k = keygen(`${name}-r${i}`);
    const exit = i === hops - 1 ? ['--exit', `accept udp 127.0.0.1:${echoPort}`] : [];
    const m = await start(
      [
        ett,
        'relay',
        '--key',
        k.file,
        '--listen',
        '127.0.0.1:0',
        '--allow',
        client.pin,
        ...exit,
        '--exit',
        'accept 127.0.0.1:*',
        '--log-level',
        'warn',
        '--control',
        'off',
      ],
      /(ett:\/\/\S+)/,
    );
    shares.push(m[1]);
  }
  const m = await start(
    [
      ett,
      'client',
      '--key',
      client.file,
      '--listen',
      '127.0.0.1:0',
      '--via',
      shares.join(','),
      '--log-level',
      'warn',
      '--control',
      'off',
    ],
    /listening on 127\.0\.0\.1:(\d+)/,
  );
  const { control, relayPort } = await associate(Number(m[1]));
  const ch = await channel(echoPort, relayPort);
  const r = { name, rtt: await rtt(ch), burst: await burst(ch) };
  ch.sock.close();
  control.destroy();
  return r;
}

async function main() {
  const echoPort = Number((await start(['-e', ECHO], /(\d+)/))[1]);
  const results = [];
  for (const [name, hops] of [
    ['udp-direct', 0],
    ['udp-1relay', 1],
    ['udp-3relay', 3],
  ]) {
    process.stderr.write(`bench: ${name} ...\n`);
    results.push(await scenario(name, hops, echoPort));
  }
  console.log(
    [
      `| scenario | RTT p50 ms | RTT p99 ms | RTT lost (of ${RTT_N}) | burst ${BURST_N}: answered | loss | answers/s |`,
      '|---|---|---|---|---|---|---|',
      ...results.map(
        (r) =>
          `| ${r.name} | ${r.rtt.p50.toFixed(3)} | ${r.rtt.p99.toFixed(3)} | ${r.rtt.lost} | ${r.burst.answers} | ` +
          `${(100 * r.burst.loss).toFixed(1)} % | ${r.burst.perSec.toFixed(0)} |`,
      ),
    ].join('\n'),
  );
}

main()
  .catch((err) => {
    console.error(`bench udp: ${err.message}`);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
