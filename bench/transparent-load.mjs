// Load generator for bench/transparent.mjs: bulk download and stream opens to HOST:PORT (a
// bench/target.mjs), either through a SOCKS5 port (`socks SOCKSPORT`) or by plain connect (`direct`,
// for the transparent port's and `ett run --isolate`'s kernel redirect). Prints one JSON line.
//   node transparent-load.mjs HOST PORT BULK_MIB OPEN_N socks SOCKSPORT | direct
import net from 'node:net';

const [host, port, bulkMib, openN, mode, socksPort] = process.argv.slice(2);
const PORT = Number(port);
const BULK = Number(bulkMib) * 1024 * 1024;

/** A connected socket to HOST:PORT, straight or by a SOCKS5 CONNECT (IPv4 literal). */
function open() {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (s.destroy(), reject(new Error('no connection in 30 s'))), 30_000);
    const done = (sock) => (clearTimeout(timer), s.off('error', fail), resolve(sock));
    const fail = (e) => (clearTimeout(timer), reject(e));
    const s =
      mode === 'socks'
        ? net.connect({ host: '127.0.0.1', port: Number(socksPort), noDelay: true })
        : net.connect({ host, port: PORT, noDelay: true });
    s.on('error', fail);
    if (mode !== 'socks') return void s.once('connect', () => done(s));
    let buf = Buffer.alloc(0);
    let stage = 0;
    s.once('connect', () => s.write(Buffer.from([5, 1, 0])));
    const onData = (c) => {
      buf = Buffer.concat([buf, c]);
      if (stage === 0 && buf.length >= 2) {
        buf = buf.subarray(2);
        stage = 1;
        const a = host.split('.').map(Number);
        s.write(Buffer.from([5, 1, 0, 1, ...a, PORT >> 8, PORT & 255]));
      }
      if (stage === 1 && buf.length >= 10) {
        s.off('data', onData);
        if (buf[1] !== 0) return fail(new Error(`SOCKS reply ${buf[1]}`));
        if (buf.length > 10) s.unshift(buf.subarray(10));
        done(s);
      }
    };
    s.on('data', onData);
  });
}

async function bulk() {
  const s = await open();
  const head = Buffer.alloc(9);
  head[0] = 0x44;
  head.writeBigUInt64BE(BigInt(BULK), 1);
  const t0 = process.hrtime.bigint();
  s.write(head);
  let got = 0;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bulk: ${got} of ${BULK} in 60 s`)), 60_000);
    s.on('data', (c) => (got += c.length));
    s.on('end', () => (clearTimeout(timer), resolve()));
    s.on('error', reject);
  });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  s.destroy();
  if (got !== BULK) throw new Error(`bulk: got ${got} of ${BULK}`);
  return BULK / 1e6 / secs;
}

async function opens() {
  const ms = [];
  for (let i = 0; i < Number(openN); i++) {
    const t0 = process.hrtime.bigint();
    const s = await open();
    s.write('x');
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no echo in 10 s')), 10_000);
      s.once('data', () => (clearTimeout(timer), resolve()));
    });
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    s.destroy();
  }
  ms.sort((a, b) => a - b);
  const q = (p) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))];
  return { p50: q(0.5), p99: q(0.99) };
}

const mbps = await bulk();
const lat = await opens();
console.log(JSON.stringify({ mbps, ...lat }));
