// Where control sockets live, and the requesting side of the control protocol (`ett status`,
// `ett reload`, the web view).
//
// The runtime directory is $XDG_RUNTIME_DIR/ett (systemd makes $XDG_RUNTIME_DIR per user, mode 0700),
// else /tmp/ett-UID. Either way it must be a directory (not a symlink) owned by us with no access for
// group or others: one in /tmp that another user created first is refused, not used.

import { lstatSync, mkdirSync, readdirSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TunnelError } from '../errors.js';
import type { Daemon, Snapshot } from '../link/census.js';

/** A control request that gets no answer in this long fails ('timeout'). */
export const REQUEST_TIMEOUT_MS = 10_000;
/** Longest response line a requester reads, bytes (a status with statusStreamsMax streams fits). */
export const RESPONSE_MAX = 16 * 1024 * 1024;

/** The directory for control sockets (see the file comment). Never throws. */
export function runtimeDir(): string {
  const xdg = process.env['XDG_RUNTIME_DIR'];
  return xdg ? join(xdg, 'ett') : join(tmpdir(), `ett-${process.getuid?.() ?? 'user'}`);
}

/** A daemon's control socket path by default: RUNTIME/DAEMON-PID.sock. */
export function defaultControlPath(daemon: Daemon): string {
  return join(runtimeDir(), `${daemon}-${process.pid}.sock`);
}

/**
 * Creates the runtime directory (mode 0700) if needed and checks it is ours alone.
 * Throws TunnelError('config') if it is not a directory we own with mode 0700 or stricter.
 */
export function ensureRuntimeDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new TunnelError('config', `control: cannot create ${dir}: ${(err as Error).message}`);
  }
  const st = lstatSync(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0) {
    throw new TunnelError(
      'config',
      `control: ${dir} must be a directory owned by this user with mode 0700 (fix it, or pass --control PATH)`,
    );
  }
}

/** The control sockets in the runtime directory that a daemon answers on. Never rejects. */
export async function liveSockets(dir = runtimeDir()): Promise<string[]> {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.sock'));
  } catch {
    return [];
  }
  const paths = names.sort().map((n) => join(dir, n));
  const alive = await Promise.all(
    paths.map((p) =>
      request(p, { cmd: 'status' }, 2000).then(
        () => true,
        () => false,
      ),
    ),
  );
  return paths.filter((_, i) => alive[i]);
}

/**
 * The socket to talk to: `given`, or the only live one in the runtime directory.
 * Rejects with TunnelError('config') when there is none, or several (naming them).
 */
export async function findControl(given: string | undefined): Promise<string> {
  if (given !== undefined) return given;
  const dir = runtimeDir();
  const live = await liveSockets(dir);
  if (live.length === 1) return live[0]!;
  if (live.length === 0) {
    throw new TunnelError(
      'config',
      `no running ett daemon found in ${dir} (start one, or pass --control PATH)`,
    );
  }
  throw new TunnelError(
    'config',
    `${live.length} ett daemons are running; choose one with --control PATH:\n  ${live.join('\n  ')}`,
  );
}

export interface ControlResponse {
  readonly ok: boolean;
  readonly error?: string;
  readonly code?: string;
  readonly status?: Snapshot;
  readonly lines?: string[];
}

/**
 * Sends one request on a new connection and resolves with its response. Rejects with TunnelError:
 * 'refused' (no daemon there), 'timeout', 'protocol' (an answer that is not one JSON line).
 */
export async function request(
  path: string,
  req: object,
  timeoutMs = REQUEST_TIMEOUT_MS,
): Promise<ControlResponse> {
  const c = new ControlConnection(path);
  try {
    return await c.ask(req, timeoutMs);
  } finally {
    c.close();
  }
}

/** One connection for many requests in turn (`ett status --watch`, the web view). */
export class ControlConnection {
  private readonly sock: net.Socket;
  private buffered = '';
  private waiting: { resolve: (r: ControlResponse) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;

  constructor(readonly path: string) {
    this.sock = net.connect(path);
    this.sock.setEncoding('utf8');
    this.sock.on('data', (chunk: string) => this.onData(chunk));
    this.sock.on('error', (err: Error & { code?: string }) => {
      const code = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'refused' : 'link-down';
      this.fail(new TunnelError(code, `control ${path}: ${err.message}`));
    });
    this.sock.on('close', () =>
      this.fail(new TunnelError('link-down', `control ${path}: daemon closed the connection`)),
    );
  }

  /** Sends req and waits for its response (one at a time). Rejects as `request` does. */
  ask(req: object, timeoutMs = REQUEST_TIMEOUT_MS): Promise<ControlResponse> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new TunnelError('timeout', `control ${this.path}: no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.sock.write(JSON.stringify(req) + '\n');
    });
  }

  close(): void {
    this.sock.destroy();
  }

  private onData(chunk: string): void {
    this.buffered += chunk;
    if (this.buffered.length > RESPONSE_MAX) {
      return this.fail(
        new TunnelError('protocol', `control ${this.path}: response over ${RESPONSE_MAX} bytes`),
      );
    }
    const nl = this.buffered.indexOf('\n');
    if (nl < 0) return;
    const text = this.buffered.slice(0, nl);
    this.buffered = this.buffered.slice(nl + 1);
    const w = this.waiting;
    this.waiting = null;
    let r: ControlResponse;
    try {
      r = JSON.parse(text) as ControlResponse;
    } catch {
      return this.fail(new TunnelError('protocol', `control ${this.path}: answer is not JSON`));
    }
    w?.resolve(r);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.sock.destroy();
    const w = this.waiting;
    this.waiting = null;
    w?.reject(err);
  }
}

/**
 * `watch`: calls onStatus with each status the daemon sends (every intervalMs) until stop() or the
 * daemon goes. Resolves when stopped; rejects with TunnelError ('refused', 'link-down' when the daemon
 * closed the connection, 'protocol' for an answer that is not a status).
 */
export function watchStatus(
  path: string,
  intervalMs: number,
  onStatus: (s: Snapshot) => void,
): { done: Promise<void>; stop: () => void } {
  const sock = net.connect(path);
  let stopped = false;
  const done = new Promise<void>((resolve, reject) => {
    let buffered = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > RESPONSE_MAX) {
        sock.destroy(new TunnelError('protocol', `control ${path}: response over ${RESPONSE_MAX} bytes`));
        return;
      }
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const text = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let r: ControlResponse;
        try {
          r = JSON.parse(text) as ControlResponse;
        } catch {
          r = { ok: false, error: 'answer is not JSON' };
        }
        if (!r.ok || r.status === undefined) {
          sock.destroy(new TunnelError('protocol', `control ${path}: ${r.error ?? 'no status'}`));
          return;
        }
        onStatus(r.status);
      }
    });
    sock.on('error', (err: Error & { code?: string }) => {
      if (err instanceof TunnelError) return reject(err);
      const code = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'refused' : 'link-down';
      reject(new TunnelError(code, `control ${path}: ${err.message}`));
    });
    sock.on('close', () =>
      stopped
        ? resolve()
        : reject(new TunnelError('link-down', `control ${path}: daemon closed the connection`)),
    );
    sock.write(JSON.stringify({ cmd: 'watch', interval_ms: intervalMs }) + '\n');
  });
  return {
    done,
    stop: () => {
      stopped = true;
      sock.destroy();
    },
  };
}
