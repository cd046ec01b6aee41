// In-process experiment for the inner hop of a chain (never part of `npm test`; issue 16, "chains"):
// client ↔ A (outer pinned TLS + Session) ↔ (A splices the stream to TCP, as a relay does) ↔ B (an inner
// pinned TLS server, as the next relay is). The client's inner TLS runs over the mux stream itself, which
// node wraps in its JavaScript stream adapter (INNER=js, what ett does), or over one end of a Unix
// socket pair whose other end is piped to the mux stream (INNER=pair), so that node's native TLS stream
// handles the inner layer. Everything runs in this process; MB/s and CPU s/GiB are for all of it.
//
//   npm run build && INNER=js|pair DIR=down|up MIB=256 node bench/inner-hop.mjs   (needs the native addon)
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { pathToFileURL } from 'node:url';
const dist = process.env.DIST
  ? pathToFileURL(`${process.env.DIST}/`).href
  : new URL('../dist/', import.meta.url).href;
const { ephemeralIdentity } = await import(`${dist}src/identity/identity.js`);
const { withLimits } = await import(`${dist}src/limits.js`);
const { silentLogger } = await import(`${dist}src/log.js`);
const { Session } = await import(`${dist}src/link/session.js`);
const { connectPinned, pinOfCertificate, serverTlsOptions } = await import(`${dist}src/link/tls.js`);
const { loadAddon } = await import(`${dist}src/run/native.js`);
const addon = await loadAddon('bench/inner-hop.mjs');
if ('why' in addon && process.env.INNER === 'pair') throw new Error(addon.why);
const MIB = Number(process.env.MIB ?? 256),
  TOTAL = MIB * 1024 * 1024;
const INNER = process.env.INNER ?? 'js';
const DIR = process.env.DIR ?? 'down';
const identity = await ephemeralIdentity();
const pin = pinOfCertificate(new X509Certificate(identity.certPem));
const limits = withLimits({});
function pump(w, total) {
  const buf = Buffer.alloc(65536, 0x61);
  let left = total;
  const go = () => {
    while (left > 0) {
      const n = Math.min(left, 65536);
      left -= n;
      if (!w.write(n === 65536 ? buf : buf.subarray(0, n))) return void w.once('drain', go);
    }
  };
  go();
}
async function run() {
  // B: inner TLS server; it sends TOTAL bytes to its peer (down) or counts them (up).
  const B = tls.createServer(serverTlsOptions(identity, 10000));
  B.listen(0, '127.0.0.1');
  await once(B, 'listening');
  let bDone;
  const bFinished = new Promise((r) => (bDone = r));
  B.on('secureConnection', (s) => {
    s.setNoDelay(true);
    if (DIR === 'down') pump(s, TOTAL);
    else {
      let g = 0;
      s.on('data', (d) => {
        g += d.length;
        if (g >= TOTAL) bDone();
      });
    }
  });
  // A: outer TLS server with a Session; each stream is spliced to a TCP connection to B.
  const A = tls.createServer(serverTlsOptions(identity, 10000));
  A.listen(0, '127.0.0.1');
  await once(A, 'listening');
  A.on('secureConnection', (srv) => {
    srv.setNoDelay(true);
    new Session(srv, {
      role: 'server',
      limits,
      log: silentLogger,
      peer: 'a',
      onStream: (stream) => {
        const up = net.connect(B.address().port, '127.0.0.1', () => {
          up.setNoDelay(true);
          stream.accept();
          stream.pipe(up);
          up.pipe(stream);
        });
      },
    });
  });
  const outer = await connectPinned({
    identity,
    pin,
    host: '127.0.0.1',
    port: A.address().port,
    timeoutMs: 10000,
  });
  const c = new Session(outer, { role: 'client', limits, log: silentLogger, peer: 'c' });
  const stream = c.open({ host: '127.0.0.1', port: B.address().port });
  let carrier = stream;
  if (INNER === 'pair') {
    const [fa, fb] = addon.socketPair();
    const sa = new net.Socket({ fd: fa, readable: true, writable: true });
    const sb = new net.Socket({ fd: fb, readable: true, writable: true });
    sb.pipe(stream);
    stream.pipe(sb);
    carrier = sa;
  }
  const inner = await connectPinned({ identity, pin, socket: carrier, timeoutMs: 10000 });
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  if (DIR === 'down') {
    let got = 0;
    await new Promise((r) =>
      inner.on('data', (d) => {
        got += d.length;
        if (got >= TOTAL) r();
      }),
    );
  } else {
    pump(inner, TOTAL);
    await bFinished;
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  console.log(
    `${INNER} ${DIR}: ${(TOTAL / 1e6 / secs).toFixed(0)} MB/s, CPU ${((cpu.user + cpu.system) / 1e6 / (TOTAL / 2 ** 30)).toFixed(2)} s/GiB (all in this process)`,
  );
  process.exit(0);
}
await run();
