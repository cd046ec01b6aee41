// Network namespaces for the chain tests: a topology given as data (hosts, point-to-point links, names),
// built with iproute2 inside namespaces this process creates and removes, and processes run inside them
// by `ip netns exec` (which execs, so the PID we hold is the program's own). No namespace has a default
// route or forwarding: each reaches only its direct neighbours. The host's own network is never touched:
// veth pairs are created straight into their namespaces (`ip -n A link add … peer … netns B`).

import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { CHILD_ENV, Proc, REPO_ROOT, type Cleanup } from './proc.js';

export const HOSTS = ['client', 'r1', 'r2', 'r3', 'target'] as const;
export type Host = (typeof HOSTS)[number];

/** Point-to-point links, each its own 10.99.NET.0/24: `a` (toward the client) is .1, `b` is .2. */
export const LINKS: readonly { readonly net: number; readonly a: Host; readonly b: Host }[] = [
  { net: 1, a: 'client', b: 'r1' },
  { net: 2, a: 'r1', b: 'r2' },
  { net: 3, a: 'r2', b: 'r3' },
  { net: 4, a: 'r3', b: 'target' },
];

/**
 * /etc/hosts lines per namespace: `target.test` resolves only where relay 3 runs; `near.test` (a second
 * target in r2's namespace, for one-relay circuits with r1 as the exit) only where relay 1 runs.
 */
export const HOST_NAMES: Partial<Record<Host, readonly string[]>> = {
  r1: ['10.99.2.2 near.test'],
  r3: ['10.99.4.2 target.test', '10.99.4.2 blocked.test'],
  client: ['10.99.1.1 local.test'],
};

export const RELAY_PORT = 7000;
export const HTTP_PORT = 8080;
export const HASH_PORT = 9090;

/** host's address on link `net`. */
export function addr(host: Host, net: number): string {
  const link = LINKS.find((l) => l.net === net && (l.a === host || l.b === host));
  if (!link) throw new Error(`${host} is not on link ${net}`);
  return `10.99.${net}.${link.a === host ? 1 : 2}`;
}

/** host's interface name on link `net` (inside host's namespace). */
export function iface(host: Host, net: number): string {
  const link = LINKS.find((l) => l.net === net && (l.a === host || l.b === host))!;
  return `ve${net}${link.a === host ? 'a' : 'b'}`;
}

/** A relay's (or the target's) address on the link toward the client: where it listens. */
export function upstreamAddr(host: Host): string {
  const link = LINKS.find((l) => l.b === host);
  if (!link) throw new Error(`${host} has no upstream link`);
  return addr(host, link.net);
}

// Last resort if the test process dies before its `after` hook: kill our children, drop our namespaces.
const live = new Set<number>();
const namespaces = new Set<string>();
process.on('exit', () => {
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const ns of namespaces) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 5_000 });
    } catch {
      // already gone
    }
    rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
  }
});

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion (bounded); never rejects. */
export function run(file: string, args: string[], timeoutMs = 20_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, env: CHILD_ENV }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function must(file: string, args: string[]): Promise<string> {
  const r = await run(file, args);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** null if namespace tests can run here, else why not (for the skip message). */
export async function unavailable(): Promise<string | null> {
  const why = 'needs root and iproute2/tcpdump/curl';
  if (process.getuid?.() !== 0) return `${why}: not root`;
  for (const [file, args] of [
    ['ip', ['-V']],
    ['tcpdump', ['--version']],
    ['curl', ['--version']],
  ] as const) {
    const r = await run(file, [...args], 5_000);
    if (r.code !== 0) return `${why}: \`${file}\` is missing or failed (${r.code})`;
  }
  const probe = `ett-${process.pid}-probe`;
  const r = await run('ip', ['netns', 'add', probe], 5_000);
  if (r.code !== 0) return `${why}: cannot create a network namespace: ${r.stderr.trim()}`;
  await run('ip', ['netns', 'del', probe], 5_000);
  return null;
}

let serial = 0;

/** The namespaces of one topology, built by create() and removed by the cleanup it registers. */
export class Topology {
  readonly ns: Record<Host, string>;

  private constructor() {
    const tag = `ett-${process.pid}-${serial++}`;
    this.ns = Object.fromEntries(HOSTS.map((h) => [h, `${tag}-${h}`])) as Record<Host, string>;
  }

  static async create(cleanup: Cleanup): Promise<Topology> {
    const t = new Topology();
    // /etc/netns itself is removed at the end if this run made it (and it is empty by then).
    const hadEtcNetns = await fs.stat('/etc/netns').then(
      () => true,
      () => false,
    );
    if (!hadEtcNetns) cleanup.add(() => fs.rmdir('/etc/netns').catch(() => undefined));
    for (const host of HOSTS) {
      const ns = t.ns[host];
      namespaces.add(ns);
      // Registered before creation, so a half-built topology is removed too (cleanups run in reverse).
      cleanup.add(async () => {
        await run('ip', ['netns', 'del', ns], 10_000);
        await fs.rm(`/etc/netns/${ns}`, { recursive: true, force: true });
        namespaces.delete(ns);
      });
      await must('ip', ['netns', 'add', ns]);
      const etc = `/etc/netns/${ns}`;
      await fs.mkdir(etc, { recursive: true });
      await fs.writeFile(path.join(etc, 'resolv.conf'), '');
      const names = ['127.0.0.1 localhost', '::1 localhost', ...(HOST_NAMES[host] ?? [])];
      await fs.writeFile(path.join(etc, 'hosts'), names.join('\n') + '\n');
      await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await must('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=0']);
      await must('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=0']);
    }
    for (const { net, a, b } of LINKS) {
      const [ia, ib] = [iface(a, net), iface(b, net)];
      await must('ip', [
        '-n',
        t.ns[a],
        'link',
        'add',
        ia,
        'type',
        'veth',
        'peer',
        'name',
        ib,
        'netns',
        t.ns[b],
      ]);
      await must('ip', ['-n', t.ns[a], 'addr', 'add', `${addr(a, net)}/24`, 'dev', ia]);
      await must('ip', ['-n', t.ns[b], 'addr', 'add', `${addr(b, net)}/24`, 'dev', ib]);
      await must('ip', ['-n', t.ns[a], 'link', 'set', ia, 'up']);
      await must('ip', ['-n', t.ns[b], 'link', 'set', ib, 'up']);
    }
    for (const host of HOSTS) {
      const routes = await must('ip', ['-n', t.ns[host], '-4', 'route', 'show']);
      if (/default/.test(routes)) throw new Error(`${host} has a default route: ${routes}`);
    }
    return t;
  }

  /** Whether host's namespace has a route to ip (asks the kernel; sends nothing). */
  async routes(host: Host, ip: string): Promise<boolean> {
    return (await run('ip', ['-n', this.ns[host], 'route', 'get', ip], 5_000)).code === 0;
  }

  /** Runs a command inside host's namespace to completion (bounded). */
  exec(host: Host, args: string[], timeoutMs = 20_000): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.ns[host], ...args], timeoutMs);
  }

  /** Starts a command inside host's namespace; it is stopped (by PID) by cleanup. */
  spawn(cleanup: Cleanup, host: Host, argv: string[]): NsProcess {
    const p = new NsProcess(this.ns[host], argv);
    cleanup.add(async () => {
      await p.stop();
    });
    return p;
  }
}

/** A process inside a namespace (`ip netns exec NS ARGV…`); see Proc for what it offers. */
export class NsProcess extends Proc {
  constructor(ns: string, argv: string[]) {
    super('ip', ['netns', 'exec', ns, ...argv]);
  }
}

/** The helper script (servers and a TCP client) run inside namespaces; see netns-tools.ts. */
export const TOOLS = path.join(REPO_ROOT, 'dist', 'test', 'support', 'netns-tools.js');

/** A target server process: HTTP body on HTTP_PORT, half-close hash on HASH_PORT, logging each peer. */
export class TargetServer {
  constructor(readonly proc: NsProcess) {}

  /** Source addresses of the connections accepted so far on one port, in order. */
  peers(kind: 'http' | 'hash'): string[] {
    return this.proc.lines.filter((l) => l.startsWith(`peer ${kind} `)).map((l) => l.split(' ')[2]!);
  }
}

export async function startTarget(
  cleanup: Cleanup,
  topo: Topology,
  host: Host,
  listen: string,
): Promise<TargetServer> {
  const proc = topo.spawn(cleanup, host, [
    process.execPath,
    TOOLS,
    'serve',
    listen,
    String(HTTP_PORT),
    String(HASH_PORT),
  ]);
  await proc.waitForLine(/^ready$/);
  return new TargetServer(proc);
}

export interface Fetch {
  /** Exit status; null if killed by a signal. */
  readonly code: number | null;
  readonly bytes: number;
  readonly sha256: string;
  readonly stderr: string;
}

export interface Download {
  readonly pid: number;
  /** Body bytes received so far. */
  received(): number;
  readonly done: Promise<Fetch>;
}

/** curl (-q -sS --max-time) inside host's namespace, streaming its body into a hash. */
export function curlIn(topo: Topology, host: Host, args: string[], timeoutMs = 60_000): Download {
  const maxTime = String(Math.max(1, Math.floor(timeoutMs / 1000) - 2));
  return streamIn(topo, host, ['curl', '-q', '-sS', '--max-time', maxTime, ...args], timeoutMs);
}

/** Any command inside host's namespace, its stdout streamed into a hash; killed after timeoutMs + 2 s. */
export function streamIn(topo: Topology, host: Host, argv: string[], timeoutMs = 60_000): Download {
  return streamInNs(topo.ns[host], argv, timeoutMs);
}

/** As streamIn, in a namespace given by name (one made beside a topology, as a LAN host). */
export function streamInNs(ns: string, argv: string[], timeoutMs = 60_000): Download {
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: CHILD_ENV,
  });
  const pid = child.pid!;
  live.add(pid);
  const hash = createHash('sha256');
  let bytes = 0;
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    hash.update(chunk);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4096);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 2_000);
  const done = new Promise<Fetch>((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      live.delete(pid);
      resolve({ code, bytes, sha256: hash.digest('hex'), stderr });
    });
  });
  return { pid, received: () => bytes, done };
}
