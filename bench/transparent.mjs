// The transparent port and `ett run --isolate` beside the SOCKS port (`npm run bench` runs it after
// udp.mjs): one relay and bench/target.mjs in a network namespace "s", the client (SOCKS port and
// `--transparent`) and the load generator (bench/transparent-load.mjs) in a namespace "c", joined by a
// veth pair (10.213.0.1 / 10.213.0.2, nothing else routed). In "c" an nft `redirect` rule sends every
// TCP connection to the target's address and port to the transparent port, so that path is really
// kernel-redirected. For each of TP_ROUNDS (3) rounds, in turn: SOCKS, transparent, and the same load
// generator as `ett run --isolate --via SHARE -- node transparent-load.mjs` (its own redirect path).
// Each: bulk download of TP_BULK_MIB (256) MiB, TP_OPEN_N (500) opens timed from connect to the first
// byte of an echo. Prints the medians and their ratios to SOCKS. Needs root, ip and nft; else skips.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const ett = join(root, 'bin', 'ett');
const load = join(root, 'bench', 'transparent-load.mjs');
const ROUNDS = Number(process.env.TP_ROUNDS ?? 3);
const BULK_MIB = Number(process.env.TP_BULK_MIB ?? 256);
const OPEN_N = Number(process.env.TP_OPEN_N ?? 500);
const tag = String(process.pid % 100000);
const NSC = `ettb-c-${tag}`;
const NSS = `ettb-s-${tag}`;
const C_ADDR = '10.213.0.1';
const S_ADDR = '10.213.0.2';
const TPORT = 19040;
const dir = mkdtempSync(join(tmpdir(), 'ett-bench-tp-'));
const children = [];

const have = (cmd) => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const sh = (...args) => execFileSync(args[0], args.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });

function setup() {
  sh('ip', 'netns', 'add', NSC);
  sh('ip', 'netns', 'add', NSS);
  sh('ip', 'link', 'add', `vc${tag}`, 'netns', NSC, 'type', 'veth', 'peer', 'name', `vs${tag}`, 'netns', NSS);
  for (const [ns, dev, addr] of [
    [NSC, `vc${tag}`, C_ADDR],
    [NSS, `vs${tag}`, S_ADDR],
  ]) {
    sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    sh('ip', '-n', ns, 'addr', 'add', `${addr}/30`, 'dev', dev);
    sh('ip', '-n', ns, 'link', 'set', dev, 'up');
  }
}

function teardown() {
  for (const ns of [NSC, NSS]) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* not created */
    }
  }
}

function start(ns, args, match) {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, TARGET_HOST: S_ADDR },
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no start line from ${args.join(' ')}`)), 15000);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}`)));
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

/** Runs argv in namespace "c" to the end (bounded) and returns the JSON line it printed last. */
function measure(argv) {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', NSC, process.execPath, ...argv], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    let out = '';
    const timer = setTimeout(
      () => (child.kill('SIGKILL'), reject(new Error('a measurement took over 90 s'))),
      90_000,
    );
    child.stdout.on('data', (c) => (out += c));
    child.once('exit', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop();
      if (code !== 0 || !line?.startsWith('{'))
        return reject(new Error(`load exited ${code}: ${out.trim()}`));
      resolve(JSON.parse(line));
    });
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const tgtPort = Number((await start(NSS, [join(root, 'bench', 'target.mjs')], /(\d+)\n/))[1]);
  const keygen = (name) => {
    const file = join(dir, `${name}.key`);
    return { file, pin: execFileSync(process.execPath, [ett, 'keygen', file], { encoding: 'utf8' }).trim() };
  };
  const ck = keygen('client');
  const rk = keygen('relay');
  const quiet = ['--log-level', 'warn', '--control', 'off'];
  const share = (
    await start(
      NSS,
      [
        ett,
        'relay',
        '--key',
        rk.file,
        '--listen',
        `${S_ADDR}:0`,
        '--allow',
        ck.pin,
        '--exit',
        `accept ${S_ADDR}:*`,
        ...quiet,
      ],
      /(ett:\/\/\S+)/,
    )
  )[1];
  const client = spawn(
    'ip',
    [
      'netns',
      'exec',
      NSC,
      process.execPath,
      ett,
      'client',
      '--key',
      ck.file,
      '--via',
      share,
      '--listen',
      '127.0.0.1:0',
      '--transparent',
      `127.0.0.1:${TPORT}`,
      ...quiet,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(client);
  const socksPort = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`client did not start: ${out}`)), 15000);
    client.stdout.on('data', (c) => {
      out += c;
      const m = out.match(/listening on 127\.0\.0\.1:(\d+)/);
      if (m && /transparent port on/.test(out)) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  // The redirect, as `ett transparent-rules` would for this one destination (the client's own link
  // to the relay is to another port, so it is not caught), and a guard after it: a connection to the
  // target that was not redirected is reset, so no figure can come from going around ett.
  execFileSync('ip', ['netns', 'exec', NSC, 'nft', '-f', '-'], {
    input: [
      'table ip ettbench {',
      '  chain out {',
      '    type nat hook output priority -100;',
      `    ip daddr ${S_ADDR} tcp dport ${tgtPort} redirect to :${TPORT}`,
      '  }',
      '  chain guard {',
      '    type filter hook output priority 0;',
      `    ip daddr ${S_ADDR} tcp dport ${tgtPort} reject with tcp reset`,
      '  }',
      '}',
      '',
    ].join('\n'),
  });
  const common = [load, S_ADDR, String(tgtPort), String(BULK_MIB), String(OPEN_N)];
  const paths = {
    socks: [...common, 'socks', String(socksPort)],
    transparent: [...common, 'direct'],
    isolate: [
      ett,
      'run',
      '--isolate',
      '--key',
      ck.file,
      '--via',
      share,
      '--log-level',
      'warn',
      '--',
      process.execPath,
      ...common,
      'direct',
    ],
  };
  const got = { socks: [], transparent: [], isolate: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, argv] of Object.entries(paths)) {
      process.stderr.write(`bench transparent: round ${r + 1}/${ROUNDS} ${name} ...\n`);
      got[name].push(await measure(argv));
    }
  }
  const fig = (name, k) => median(got[name].map((x) => x[k]));
  const rows = Object.keys(got).map((name) => ({
    name,
    mbps: fig(name, 'mbps'),
    p50: fig(name, 'p50'),
    p99: fig(name, 'p99'),
  }));
  const s = rows[0];
  console.log(
    [
      `| path (1 relay, median of ${ROUNDS}) | bulk MB/s | open p50 ms | open p99 ms | bulk ÷ SOCKS | p50 ÷ SOCKS | p99 ÷ SOCKS |`,
      '|---|---|---|---|---|---|---|',
      ...rows.map(
        (r) =>
          `| ${r.name} | ${r.mbps.toFixed(0)} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ` +
          `${(r.mbps / s.mbps).toFixed(2)} | ${(r.p50 / s.p50).toFixed(2)} | ${(r.p99 / s.p99).toFixed(2)} |`,
      ),
    ].join('\n'),
  );
}

if (process.getuid?.() !== 0 || !have('ip') || !have('nft')) {
  console.error('bench transparent: skipped (needs root, ip and nft to create its network namespaces)');
} else {
  const onSignal = () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    teardown();
    process.exit(130);
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    setup();
    await main();
  } catch (err) {
    console.error(`bench transparent: ${err.message}`);
    process.exitCode = 1;
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    teardown();
    rmSync(dir, { recursive: true, force: true });
  }
}
