// Processes for the end-to-end tests: `bin/ett` children found from the repo root, a curl runner, temp
// dirs and keys, and one cleanup list per test file. Every child is stopped by its PID in the file's
// `after` hook; a last-resort 'exit' handler SIGKILLs any child still alive if the file dies early.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs as dist/test/support/proc.js). */
export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const ETT = path.join(REPO_ROOT, 'bin', 'ett');
export const CURL = '/usr/bin/curl';

/** The environment for children, without proxy variables that could send curl elsewhere. */
export const CHILD_ENV: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/(^|_)proxy$/i.test(k)),
);

const live = new Set<number>();
process.on('exit', () => {
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** A stack of async cleanups run in reverse order; failures are collected, never skip the rest. */
export class Cleanup {
  private readonly jobs: (() => Promise<void> | void)[] = [];
  add(job: () => Promise<void> | void): void {
    this.jobs.push(job);
  }
  async run(): Promise<void> {
    const errors: unknown[] = [];
    while (this.jobs.length > 0) {
      const job = this.jobs.pop()!;
      try {
        await job();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
  }
}

/** Resolves after ms (unref'd timer, so it never holds the process open). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Rejects with `what` if p does not settle within ms. */
export function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`deadline (${ms} ms): ${what}`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** Polls cond every 20 ms until it holds; rejects after ms. */
export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const rounds = Math.ceil(ms / 20);
  for (let i = 0; i < rounds; i++) {
    if (cond()) return;
    await sleep(20);
  }
  if (!cond()) throw new Error(`deadline (${ms} ms): ${what}`);
}

/** A temp dir under os.tmpdir(), removed by cleanup. */
export async function tempDir(cleanup: Cleanup): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ett-e2e-'));
  cleanup.add(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface RunResult {
  /** Exit status; null if killed (e.g. by the timeout). */
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

function run(file: string, args: string[], timeoutMs: number, env = CHILD_ENV): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs, env },
      (err, stdout, stderr) => {
        let code: number | null = 0;
        if (err) code = typeof err.code === 'number' ? err.code : null;
        resolve({ code, stdout, stderr: stderr.toString('utf8') });
      },
    );
  });
}

/** Runs `bin/ett ARGS` to completion (bounded), with `env` added to the children's environment. */
export function runEtt(args: string[], timeoutMs = 20_000, env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return run(process.execPath, [ETT, ...args], timeoutMs, { ...CHILD_ENV, ...env });
}

/** Runs /usr/bin/curl with -q (no .curlrc), -sS and a --max-time, then ARGS. */
export function curl(args: string[], timeoutMs = 45_000): Promise<RunResult> {
  const maxTime = String(Math.max(1, Math.floor(timeoutMs / 1000) - 2));
  return run(CURL, ['-q', '-sS', '--max-time', maxTime, ...args], timeoutMs);
}

/** The HTTP status curl gets for url through the HTTP proxy at proxy (HOST:PORT), as text ('000' if none). */
export async function httpStatusVia(proxy: string, url: string): Promise<RunResult & { status: string }> {
  const r = await curl(['-x', `http://${proxy}`, '-o', '/dev/null', '-w', '%{http_code}', url]);
  return { ...r, status: r.stdout.toString() };
}

export interface Key {
  readonly file: string;
  /** Pin as `ett keygen` printed it (base64). */
  readonly pin: string;
}

/** `bin/ett keygen DIR/NAME.key`; checks the file is mode 0600. */
export async function keygen(dir: string, name: string): Promise<Key> {
  const file = path.join(dir, `${name}.key`);
  const r = await runEtt(['keygen', file]);
  if (r.code !== 0) throw new Error(`ett keygen failed (${r.code}): ${r.stderr}`);
  const mode = (await fs.stat(file)).mode & 0o777;
  if (mode !== 0o600) throw new Error(`ett keygen wrote mode ${mode.toString(8)}`);
  return { file, pin: r.stdout.toString('utf8').trim() };
}

/** `bin/ett cert KEY` written to DIR/NAME.pem; returns the path. */
export async function certFile(key: Key, dir: string, name: string): Promise<string> {
  const r = await runEtt(['cert', key.file]);
  if (r.code !== 0) throw new Error(`ett cert failed (${r.code}): ${r.stderr}`);
  const file = path.join(dir, `${name}.pem`);
  await fs.writeFile(file, r.stdout, { mode: 0o600 });
  return file;
}

/** A pin in base64url without padding, the share-string spelling. */
export function pinUrl(pin: string): string {
  return Buffer.from(pin, 'base64').toString('base64url');
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * A child process we started, with its stdout lines and its last stderr lines; stopped only by its own
 * PID (the tests' rule), and killed by the exit hook above if the test process dies first.
 */
export class Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly lines: string[] = [];
  /** The last 400 lines of stderr. */
  readonly errLines: string[] = [];
  /** Lines of stderr so far, all of them counted (errLines keeps the last 400). */
  errTotal = 0;
  readonly exited: Promise<Exit>;
  private exit: Exit | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(command: string, args: string[]) {
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: CHILD_ENV });
    if (this.child.pid === undefined) throw new Error(`could not spawn ${command}`);
    this.pid = this.child.pid;
    live.add(this.pid);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        live.delete(this.pid);
        this.exit = { code, signal };
        this.notify();
        resolve(this.exit);
      });
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.lines.push(line);
      this.notify();
    });
    createInterface({ input: this.child.stderr! }).on('line', (line) => {
      this.errLines.push(line);
      this.errTotal++;
      if (this.errLines.length > 400) this.errLines.shift();
      this.notify();
    });
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  /** The stderr lines after the first `mark` (an errTotal taken earlier), as far as errLines holds them. */
  errSince(mark: number): string[] {
    return this.errLines.slice(Math.max(0, this.errLines.length - (this.errTotal - mark)));
  }

  /** The last stderr lines, for assertion messages. */
  stderr(): string {
    return this.errLines.join('\n');
  }

  private notify(): void {
    for (const w of this.waiters) w();
  }

  /** The first stdout (or stderr) line matching re; rejects if the process exits first or on timeout. */
  waitForLine(re: RegExp, opts: { stderr?: boolean; timeoutMs?: number } = {}): Promise<string> {
    const source = opts.stderr ? this.errLines : this.lines;
    const timeoutMs = opts.timeoutMs ?? 15_000;
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = source.find((l) => re.test(l));
        if (hit !== undefined) finish(null, hit);
        else if (this.exit) {
          finish(
            new Error(`pid ${this.pid} exited (${JSON.stringify(this.exit)}) before ${re}: ${this.stderr()}`),
          );
        }
      };
      const timer = setTimeout(
        () => finish(new Error(`no line ${re} within ${timeoutMs} ms: ${this.stderr()}`)),
        timeoutMs,
      );
      const finish = (err: Error | null, line?: string): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve(line!);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Sends a signal to this child's PID (no-op if it already exited). */
  signal(sig: NodeJS.Signals): void {
    if (!this.alive) return;
    try {
      process.kill(this.pid, sig);
    } catch {
      // exited meanwhile
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited within graceMs; resolves when it has exited. */
  async stop(graceMs = 5_000): Promise<Exit> {
    if (this.exit) return this.exit;
    this.signal('SIGTERM');
    const first = await Promise.race([this.exited, sleep(graceMs).then(() => undefined)]);
    if (first) return first;
    this.signal('SIGKILL');
    return withDeadline(this.exited, 5_000, `pid ${this.pid} to exit after SIGKILL`);
  }
}

/** A running `bin/ett ARGS`. */
export class EttProcess extends Proc {
  /** With openFiles, under `prlimit --nofile=N`, which sets that limit and execs bin/ett (same PID). */
  constructor(args: string[], openFiles?: number) {
    if (openFiles === undefined) super(process.execPath, [ETT, ...args]);
    else super('prlimit', [`--nofile=${openFiles}`, process.execPath, ETT, ...args]);
  }
}

/** Spawns `bin/ett ARGS`, registered with cleanup (stopped by PID). */
export function spawnEtt(cleanup: Cleanup, args: string[], openFiles?: number): EttProcess {
  const p = new EttProcess(args, openFiles);
  cleanup.add(async () => {
    await p.stop();
  });
  return p;
}

export interface Relay {
  readonly proc: EttProcess;
  readonly key: Key;
  readonly share: string;
  readonly port: number;
}

/**
 * `ett relay --key K --listen 127.0.0.1:0 [--allow PIN]... [--exit RULE]... [EXTRA...]`, waited for its
 * share string.
 */
export async function startRelay(
  cleanup: Cleanup,
  dir: string,
  opts: { allow: string[]; exit?: string[]; name?: string; allowAny?: boolean; extra?: string[] },
): Promise<Relay> {
  const key = await keygen(dir, opts.name ?? 'relay');
  const args = ['relay', '--key', key.file, '--listen', '127.0.0.1:0'];
  for (const pin of opts.allow) args.push('--allow', pin);
  if (opts.allowAny) args.push('--allow-any');
  for (const rule of opts.exit ?? []) args.push('--exit', rule);
  args.push(...(opts.extra ?? []));
  const proc = spawnEtt(cleanup, args);
  const line = await proc.waitForLine(/ett:\/\//);
  const share = /(ett:\/\/\S+)/.exec(line)![1]!;
  const port = Number(/:(\d+)$/.exec(share)![1]);
  return { proc, key, share, port };
}

export interface Client {
  readonly proc: EttProcess;
  /** 127.0.0.1:PORT as printed. */
  readonly proxy: string;
  readonly port: number;
}

/** `ett client --key KEY --listen 127.0.0.1:0 --via SHARE [EXTRA...]`, waited for its `listening on` line. */
export async function startClient(
  cleanup: Cleanup,
  key: Key,
  via: string,
  extra: string[] = [],
): Promise<Client> {
  const proc = spawnEtt(cleanup, [
    'client',
    '--key',
    key.file,
    '--listen',
    '127.0.0.1:0',
    '--via',
    via,
    ...extra,
  ]);
  const line = await proc.waitForLine(/listening on \S+:\d+/);
  const proxy = /listening on (\S+:\d+)/.exec(line)![1]!;
  return { proc, proxy, port: Number(/:(\d+)$/.exec(proxy)![1]) };
}

export interface Tunnel {
  readonly dir: string;
  readonly relay: Relay;
  readonly clientKey: Key;
  readonly client: Client;
}

/** A temp dir, a relay allowing one client key, and that client linked to it. */
export async function startTunnel(cleanup: Cleanup, opts: { exit?: string[] } = {}): Promise<Tunnel> {
  const dir = await tempDir(cleanup);
  const clientKey = await keygen(dir, 'client');
  const relay = await startRelay(cleanup, dir, { allow: [clientKey.pin], exit: opts.exit ?? [] });
  const client = await startClient(cleanup, clientKey, relay.share);
  return { dir, relay, clientKey, client };
}

let curlVersionCache: Promise<[number, number, number]> | undefined;

/** /usr/bin/curl's version as [major, minor, patch]. */
export function curlVersion(): Promise<[number, number, number]> {
  curlVersionCache ??= run(CURL, ['--version'], 10_000).then((r) => {
    const m = /^curl (\d+)\.(\d+)\.(\d+)/.exec(r.stdout.toString('utf8'));
    if (!m) throw new Error(`cannot read curl --version: ${r.stdout.toString('utf8').slice(0, 80)}`);
    return [Number(m[1]), Number(m[2]), Number(m[3])];
  });
  return curlVersionCache;
}

/** A field of /proc/PID/status in MiB (VmRSS: resident now; VmHWM: the peak resident size so far). */
export function statusMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

/** This process's open-file limits, from /proc/self/limits. */
export function fileLimits(): { soft: number; hard: number } {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  const n = (s: string | undefined): number => (s === 'unlimited' ? Infinity : Number(s));
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}
