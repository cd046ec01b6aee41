// ett's own benchmark: `npm run bench` (never part of `npm test`). Relays and the client run as real
// `bin/ett` processes on loopback; the target is its own process; this process is the measuring client
// (SOCKS5 to the client's port). For a side-by-side run with ssh, shadowsocks and others, see README.md
// in this folder (the shared harness).
//
//   BULK_MIB=1024  bytes per bulk transfer (default 1024)
//   LAT_N=300      sequential stream opens for the latency figures
//   BURST_N=1000   concurrent 64 KiB echoes
//   IDLE_N=10000   concurrent idle streams held open for the memory figure (0 skips)
//   SCENARIOS=1relay,3relay   a `+scrape` suffix (1relay+scrape) runs the same with a scraper polling
//                             every daemon's /metrics and control `status` every SCRAPE_MS (100)
//   BENCH_PROF_DIR=/tmp/prof   write a V8 CPU profile of every ett process there (node --cpu-prof)
import { spawn, execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const ett = join(root, 'bin', 'ett');
const env = (k, d) => Number(process.env[k] ?? d);
const BULK = env('BULK_MIB', 1024) * 1024 * 1024;
const LAT_N = env('LAT_N', 300);
const BURST_N = env('BURST_N', 1000);
const IDLE_N = env('IDLE_N', 10000);
const SCENARIOS = (process.env.SCENARIOS ?? '1relay,3relay').split(',');
const SCRAPE_MS = env('SCRAPE_MS', 100);
// A quiet spell before the burst, ms: 5000 lets the daemons give back what the bulk phases left (they do
// after 3 quiet seconds, src/cli/memory.ts); 0, the default, starts it at once, as the shared harness does.
const BURST_SETTLE_MS = env('BURST_SETTLE_MS', 0);
const TICK = 100; // clock ticks per second (getconf CLK_TCK on Linux)

const children = [];
const dir = mkdtempSync(join(tmpdir(), 'ett-bench-'));
let keepDir = Boolean(process.env.BENCH_NODE_ARGS); // set when a daemon died: its log stays for reading

function start(args, match) {
  const prof = process.env.BENCH_PROF_DIR
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF_DIR}`]
    : [];
  // BENCH_NODE_ARGS: more node flags for every ett process (e.g. --trace-gc); what they print to
  // stdout is kept in the process's log with its stderr.
  const extra = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...prof, ...extra, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no start line from ${args.join(' ')}`)), 15000);
    child.stdout.on('data', (c) => {
      out += c;
      const m = out.match(match);
      if (m) {
        clearTimeout(timer);
        resolve({ child, m });
      }
    });
    // Keep each process's log: a daemon that dies mid-run must say why.
    const log = createWriteStream(
      join(dir, `${args.find((a) => a === 'relay' || a === 'client')}-${child.pid}.log`),
    );
    child.stderr.pipe(log);
    if (extra.length > 0) child.stdout.pipe(log);
    child.once('exit', (code, signal) => {
      if (code !== 0 && signal !== 'SIGTERM') {
        process.stderr.write(
          `bench: ${args[1]} (pid ${child.pid}) exited ${code ?? signal}; log: ${log.path}\n`,
        );
        keepDir = true;
      }
      reject(new Error(`${args[1]} exited ${code ?? signal}`));
    });
  });
}

function keygen(name) {
  const file = join(dir, `${name}.key`);
  return { file, pin: execFileSync(process.execPath, [ett, 'keygen', file]).toString().trim() };
}

function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
  }
  return ticks / TICK;
}

/**
 * Resets each process's VmHWM to its current RSS (writing 5 to /proc/PID/clear_refs, Linux 4.0+), so a
 * later peakRssMiB covers only what came after; false where the kernel refuses.
 */
function resetPeaks(pids) {
  try {
    for (const pid of pids) writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

function rssMiB(pid) {
  return Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) / 1024;
}

function peakRssMiB(pids) {
  let kb = 0;
  for (const pid of pids)
    kb += Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+)/)[1]);
  return kb / 1024;
}

/** SOCKS5 CONNECT (no auth, ATYP domain "127.0.0.1") to the target through the client's port. */
function socksConnect(port, targetPort) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, noDelay: true });
    let buf = Buffer.alloc(0);
    let stage = 0;
    // Every handshake settles: on error, on a close without a reply, or at a deadline.
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no SOCKS reply (stage ${stage}) in 30 s`));
    }, 30_000);
    s.once('close', () => reject(new Error(`closed during the SOCKS handshake (stage ${stage})`)));
    s.on('error', reject);
    s.on('connect', () => s.write(Buffer.from([5, 1, 0])));
    const onData = (c) => {
      buf = Buffer.concat([buf, c]);
      if (stage === 0 && buf.length >= 2) {
        buf = buf.subarray(2);
        stage = 1;
        const host = Buffer.from('127.0.0.1');
        const req = Buffer.concat([
          Buffer.from([5, 1, 0, 3, host.length]),
          host,
          Buffer.from([targetPort >> 8, targetPort & 255]),
        ]);
        s.write(req);
      }
      if (stage === 1 && buf.length >= 10) {
        clearTimeout(timer);
        if (buf[1] !== 0) return reject(new Error(`SOCKS reply ${buf[1]}`));
        s.off('data', onData);
        s.off('error', reject);
        const rest = buf.subarray(10);
        if (rest.length) s.unshift(rest);
        resolve(s);
      }
    };
    s.on('data', onData);
  });
}

const u64 = (tag, n) => {
  const b = Buffer.alloc(9);
  b[0] = tag;
  b.writeBigUInt64BE(BigInt(n), 1);
  return b;
};

async function bulkDown(port, tport) {
  const s = await socksConnect(port, tport);
  const t0 = process.hrtime.bigint();
  s.write(u64(0x44, BULK));
  let got = 0;
  await new Promise((resolve, reject) => {
    s.on('data', (c) => (got += c.length));
    s.on('end', resolve);
    s.on('error', reject);
  });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  s.destroy();
  if (got !== BULK) throw new Error(`down: got ${got} of ${BULK}`);
  return secs;
}

async function bulkUp(port, tport) {
  const s = await socksConnect(port, tport);
  const chunk = Buffer.alloc(256 * 1024, 1);
  const t0 = process.hrtime.bigint();
  s.write(u64(0x55, BULK));
  const acked = new Promise((resolve, reject) => {
    s.on('data', (c) => c.includes(0x4b) && resolve());
    s.on('error', reject);
  });
  for (let sent = 0; sent < BULK; sent += chunk.length) {
    if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
  }
  await acked;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  s.destroy();
  return secs;
}

async function latency(port, tport) {
  const ms = [];
  for (let i = 0; i < LAT_N; i++) {
    const t0 = process.hrtime.bigint();
    const s = await socksConnect(port, tport);
    s.write('x');
    await new Promise((r) => s.once('data', r));
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    s.destroy();
  }
  ms.sort((a, b) => a - b);
  const q = (p) => (ms.length === 0 ? NaN : ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]);
  return { p50: q(0.5), p99: q(0.99) };
}

async function burst(port, tport) {
  const payload = Buffer.alloc(64 * 1024, 7);
  let fail = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: BURST_N }, async () => {
      try {
        const s = await socksConnect(port, tport);
        const back = [];
        let n = 0;
        s.end(payload);
        await new Promise((resolve, reject) => {
          s.on('data', (c) => {
            back.push(c);
            n += c.length;
          });
          s.on('end', resolve);
          s.on('error', reject);
        });
        if (n !== payload.length || !Buffer.concat(back).equals(payload)) fail++;
        s.destroy();
      } catch {
        fail++;
      }
    }),
  );
  return { secs: Number(process.hrtime.bigint() - t0) / 1e9, fail };
}

async function idle(port, tport, pids) {
  if (IDLE_N === 0) return null;
  const socks = [];
  const errors = new Map();
  let fail = 0;
  for (let i = 0; i < IDLE_N; i += 200) {
    const batch = await Promise.allSettled(
      Array.from({ length: Math.min(200, IDLE_N - i) }, () => socksConnect(port, tport)),
    );
    for (const r of batch) {
      if (r.status === 'fulfilled') socks.push(r.value);
      else {
        fail++;
        errors.set(r.reason.message, (errors.get(r.reason.message) ?? 0) + 1);
      }
    }
  }
  if (errors.size) process.stderr.write(`bench: idle stream failures: ${JSON.stringify([...errors])}\n`);
  const rss = pids.map(
    (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) / 1024,
  );
  for (const s of socks) s.destroy();
  return { open: socks.length, fail, rssMiB: rss.map((r) => Math.round(r)) };
}

/** Starts bench/scraper.mjs on the endpoints; returns stop(), which resolves to its {polls, failures}. */
function startScraper(endpoints) {
  const child = spawn(process.execPath, [join(root, 'bench', 'scraper.mjs'), JSON.stringify(endpoints)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return async () => {
    child.kill('SIGTERM');
    await exited;
    return JSON.parse(out);
  };
}

let runCount = 0;

async function scenario(name, hops, tport) {
  const scrape = name.endsWith('+scrape');
  const seeing = scrape ? ['--metrics', '127.0.0.1:0'] : [];
  const seen = (re) =>
    scrape ? new RegExp(re.source + /[\s\S]*control: (\S+)[\s\S]*metrics: (\S+)/.source) : re;
  const endpoints = [];
  const tag = `${name}-${++runCount}`; // a scenario may be listed more than once
  const client = keygen(`${tag}-client`);
  const relays = [];
  for (let i = 0; i < hops; i++) {
    const k = keygen(`${tag}-r${i}`);
    const { child, m } = await start(
      [
        ett,
        'relay',
        '--key',
        k.file,
        '--listen',
        '127.0.0.1:0',
        '--allow',
        client.pin,
        '--exit',
        'accept 127.0.0.1:*',
        '--log-level',
        'warn',
        ...seeing,
      ],
      seen(/(ett:\/\/\S+)/),
    );
    relays.push({ child, share: m[1] });
    if (scrape) endpoints.push({ control: m[2], metrics: m[3] });
  }
  const { child: cl, m } = await start(
    [
      ett,
      'client',
      '--key',
      client.file,
      '--listen',
      '127.0.0.1:0',
      '--via',
      relays.map((r) => r.share).join(','),
      '--log-level',
      'warn',
      ...seeing,
    ],
    seen(/listening on 127\.0\.0\.1:(\d+)/),
  );
  const port = Number(m[1]);
  if (scrape) endpoints.push({ control: m[2], metrics: m[3] });
  const stopScraper = scrape ? startScraper(endpoints) : null;
  const pids = [cl.pid, ...relays.map((r) => r.child.pid)];
  await latency(port, tport); // warm-up: builds the circuit
  const res = { scenario: name, hops };
  const phase = (p) => process.stderr.write(`bench: ${name}: ${p}\n`);
  // CPU per process too (client first, then relays in route order): where each added hop's cost goes.
  const each = () => pids.map((pid) => cpuSeconds([pid]));
  const since = (c0) => each().map((c, i) => c - c0[i]);
  let c0 = each();
  phase('bulk down');
  res.downSecs = await bulkDown(port, tport);
  res.downCpuEach = since(c0);
  res.downCpu = res.downCpuEach.reduce((a, b) => a + b, 0);
  c0 = each();
  phase('bulk up');
  res.upSecs = await bulkUp(port, tport);
  res.upCpuEach = since(c0);
  res.upCpu = res.upCpuEach.reduce((a, b) => a + b, 0);
  phase('latency');
  res.latency = await latency(port, tport);
  if (BURST_SETTLE_MS > 0) await new Promise((r) => setTimeout(r, BURST_SETTLE_MS));
  phase('burst');
  // The burst's own peak: VmHWM reset just before it (the bulk phases' peak would hide it), read after.
  const burstBase = pids.map((pid) => Math.round(rssMiB(pid)));
  const reset = resetPeaks(pids);
  res.burst = await burst(port, tport);
  res.burst.baseRssMiB = burstBase;
  res.burst.peakRssMiB = reset ? pids.map((pid) => Math.round(peakRssMiB([pid]))) : null;
  phase('idle streams');
  res.idle = await idle(port, tport, pids);
  res.peakRssMiB = pids.map((pid) => Math.round(peakRssMiB([pid])));
  if (stopScraper) res.scrapes = await stopScraper();
  phase('stopping');
  const procs = [cl, ...relays.map((r) => r.child)];
  const slow = setTimeout(() => {
    const left = procs.filter((p) => p.exitCode === null && p.signalCode === null).map((p) => p.pid);
    process.stderr.write(`bench: still running 10 s after SIGTERM: ${left.join(', ')}\n`);
  }, 10_000);
  await Promise.all(
    procs.map(
      (p) =>
        new Promise((resolve) => {
          p.removeAllListeners('exit');
          p.once('exit', resolve);
          p.kill('SIGTERM');
        }),
    ),
  );
  clearTimeout(slow);
  return res;
}

async function main() {
  execFileSync(process.execPath, [ett, 'help'], { stdio: 'ignore' }); // fails early if not built
  const target = spawn(process.execPath, [join(root, 'bench', 'target.mjs')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(target);
  const tport = Number(await new Promise((r) => target.stdout.once('data', (d) => r(String(d).trim()))));
  const results = [];
  for (const s of SCENARIOS) {
    const hops = parseInt(s, 10);
    process.stderr.write(`bench: ${s} ...\n`);
    results.push(await scenario(s, hops, tport));
  }
  const gib = BULK / 2 ** 30;
  const mbps = (secs) => (BULK / 1e6 / secs).toFixed(0);
  const lines = [
    `| scenario | down MB/s | up MB/s | CPU s/GiB down | CPU s/GiB up | open p50 ms | open p99 ms | burst ${BURST_N} s (fail) | burst RSS MiB before → peak (sum) | idle ${IDLE_N} RSS MiB | peak RSS MiB |`,
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${r.scenario} | ${mbps(r.downSecs)} | ${mbps(r.upSecs)} | ${(r.downCpu / gib).toFixed(2)} | ${(r.upCpu / gib).toFixed(2)} | ` +
        `${r.latency.p50.toFixed(2)} | ${r.latency.p99.toFixed(2)} | ${r.burst.secs.toFixed(2)} (${r.burst.fail}) | ` +
        `${r.burst.baseRssMiB.join('/')} → ${r.burst.peakRssMiB ? `${r.burst.peakRssMiB.join('/')} (${r.burst.peakRssMiB.reduce((a, b) => a + b, 0)})` : '?'} | ` +
        `${r.idle ? `${r.idle.rssMiB.join('/')} (${r.idle.fail} failed)` : '-'} | ${r.peakRssMiB.join('/')} |`,
    ),
  ];
  // The cost of being watched: the `+scrape` runs against the runs without the scraper, each side the
  // mean over its runs (list them alternately, 1relay,1relay+scrape,1relay,1relay+scrape, so that
  // drift in the machine's load falls on both).
  const mean = (rs, f) => rs.reduce((sum, r) => sum + f(r), 0) / rs.length;
  for (const name of new Set(results.filter((x) => x.scrapes).map((x) => x.scenario))) {
    const scraped = results.filter((x) => x.scenario === name);
    const plain = results.filter((x) => x.scenario === name.replace('+scrape', ''));
    if (plain.length === 0) continue;
    const ratio = (f) => (mean(plain, f) / mean(scraped, f)).toFixed(3);
    const polls = scraped.map((r) => `${r.scrapes.polls} (${r.scrapes.failures} failed)`).join(', ');
    lines.push(
      '',
      `${name} vs ${name.replace('+scrape', '')} (${scraped.length} vs ${plain.length} runs; scrape rounds ` +
        `every ${SCRAPE_MS} ms: ${polls}): throughput ratio down ${ratio((r) => r.downSecs)}, ` +
        `up ${ratio((r) => r.upSecs)}; open p50 ratio ${ratio((r) => r.latency.p50)}`,
    );
  }
  const per = (xs) => xs.map((c) => (c / gib).toFixed(2)).join('/');
  for (const r of results)
    lines.push(`${r.scenario}: CPU s/GiB per process down ${per(r.downCpuEach)}, up ${per(r.upCpuEach)}`);
  console.log(lines.join('\n'));
  console.log('(RSS and CPU per process: client first, then relays in route order)');
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  const file = join(root, 'bench', 'results', `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), bulkBytes: BULK, results }, null, 2));
  console.log(`wrote ${file}`);
}

main()
  .catch((err) => {
    console.error(`bench: ${err.message}`);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    if (!keepDir) rmSync(dir, { recursive: true, force: true });
    else console.error(`bench: logs kept in ${dir}`);
  });
