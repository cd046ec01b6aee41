// In-process microbenchmark of the link's data path (never part of `npm test`): a pinned TLS 1.3 pair on
// loopback with a Session at each end, one stream, MIB mebibytes written by the accepting side and read
// (and dropped) by the opener. Both ends run in this process, so the CPU figure is for both together.
// MODE=tls measures the same TLS pair without the multiplexer (the floor the mux adds to). PIPE=1 adds
// what a relay and a client do around the link: the writer's bytes come from a loopback TCP socket and
// the reader's bytes go into one (both counted, as they run in this process too).
//
//   npm run build && MIB=512 node bench/mux-micro.mjs   (MODE=mux|tls, PIPE=0|1, CHUNK=65536, REPS=1)
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { pathToFileURL } from 'node:url';

// DIST=/path/to/another/dist compares a build against this one (A/B runs on a busy machine).
const dist = process.env.DIST
  ? pathToFileURL(`${process.env.DIST}/`).href
  : new URL('../dist/', import.meta.url).href;
const { ephemeralIdentity } = await import(`${dist}src/identity/identity.js`);
const { withLimits } = await import(`${dist}src/limits.js`);
const { silentLogger } = await import(`${dist}src/log.js`);
const { Session } = await import(`${dist}src/link/session.js`);
const { connectPinned, pinOfCertificate, serverTlsOptions } = await import(`${dist}src/link/tls.js`);

const MIB = Number(process.env.MIB ?? 512);
const MODE = process.env.MODE ?? 'mux';
const CHUNK = Number(process.env.CHUNK ?? 65536);
const REPS = Number(process.env.REPS ?? 1);
const PIPE = process.env.PIPE === '1';
const TOTAL = MIB * 1024 * 1024;

const identity = await ephemeralIdentity();
const pin = pinOfCertificate(new X509Certificate(identity.certPem));
const limits = withLimits({});

async function tcpPair() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const a = net.connect(server.address().port, '127.0.0.1');
  const [[b]] = await Promise.all([accepted, once(a, 'connect')]);
  server.close();
  a.setNoDelay(true);
  b.setNoDelay(true);
  return [a, b];
}

// With PIPE, `w` is fed through a TCP pair (as a relay's exit socket feeds its stream).
async function source(w, total) {
  if (!PIPE) return pump(w, total);
  const [a, b] = await tcpPair();
  b.pipe(w);
  pump(a, total);
}

// With PIPE, `r` is piped into a TCP pair (as a client's stream feeds the application's socket).
async function sink(r) {
  if (!PIPE) return r;
  const [a, b] = await tcpPair();
  r.pipe(a);
  return b;
}

function pump(w, total) {
  // Writes `total` bytes of one reused buffer with backpressure.
  const buf = Buffer.alloc(CHUNK, 0x61);
  let left = total;
  const go = () => {
    while (left > 0) {
      const n = Math.min(left, CHUNK);
      left -= n;
      const ok = w.write(n === CHUNK ? buf : buf.subarray(0, n));
      if (!ok) return void w.once('drain', go);
    }
    w.end();
  };
  go();
}

async function runOnce() {
  const server = tls.createServer(serverTlsOptions(identity, 10000));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = server.address().port;
  const accepted = once(server, 'secureConnection');
  const client = await connectPinned({ identity, pin, host: '127.0.0.1', port, timeoutMs: 10000 });
  const [srv] = await accepted;
  srv.setNoDelay(true);
  let reader;
  let sessions = [];
  if (MODE === 'tls') {
    await source(srv, TOTAL);
    reader = await sink(client);
  } else {
    const s = new Session(srv, {
      role: 'server',
      limits,
      log: silentLogger,
      peer: 's',
      onStream: (stream) => {
        stream.accept();
        void source(stream, TOTAL);
      },
    });
    const c = new Session(client, { role: 'client', limits, log: silentLogger, peer: 'c' });
    sessions = [s, c];
    reader = await sink(c.open({ host: '127.0.0.1', port: 9 }));
  }
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  let got = 0;
  reader.on('data', (d) => {
    got += d.length;
  });
  await new Promise((resolve, reject) => {
    reader.on('end', resolve);
    reader.on('error', reject);
    if (MODE === 'tls' || PIPE) reader.on('data', () => got >= TOTAL && resolve());
  });
  const cpu = process.cpuUsage(cpu0);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (got !== TOTAL) throw new Error(`got ${got} of ${TOTAL}`);
  for (const s of sessions) s.destroy();
  client.destroy();
  srv.destroy();
  server.close();
  const cpuS = (cpu.user + cpu.system) / 1e6;
  return { MBps: TOTAL / 1e6 / secs, cpuPerGiB: cpuS / (TOTAL / 2 ** 30) };
}

const rows = [];
for (let i = 0; i < REPS; i++) rows.push(await runOnce());
const med = (k) => rows.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(rows.length / 2)];
for (const r of rows)
  console.log(`${MODE} ${MIB} MiB: ${r.MBps.toFixed(0)} MB/s, ${r.cpuPerGiB.toFixed(2)} CPU s/GiB`);
console.log(
  `${MODE}${PIPE ? '+pipe' : ''} median: ${med('MBps').toFixed(0)} MB/s, ${med('cpuPerGiB').toFixed(2)} CPU s/GiB`,
);
