// The control endpoint: a Unix socket on which the daemon's owner asks for its status or a reload.
// Protocol (DESIGN.md §13): one JSON request per line, one JSON response per line, in order.
//   → {"cmd":"status"}            ← {"ok":true,"status":{…Snapshot…}}
//   → {"cmd":"reload"}            ← {"ok":true,"lines":["…",…]} | {"ok":false,"error":"…","code":"config"}
//   → {"cmd":"watch","interval_ms":1000}  ← a status line as for `status` every interval, until the peer goes
//   anything else                 ← {"ok":false,"error":"…"} and the connection closes
// A request may carry "id" (a string or number); its response carries the same. A daemon may add
// commands of its own (ControlOptions.commands: a relay's invite, allow-file, allow-remove).
//
// Who may connect: the socket is created mode 0600 (under umask 0177, so there is no moment it is
// wider) in a directory of mode 0700 that we own (runtime.ts). Node cannot read SO_PEERCRED, so the
// peer's uid is not checked again: the file modes are the whole of the access control.
//
// Bounds: controlConnectionsMax connections (more are answered "busy" and closed), controlLineMax
// bytes per request line, one request served at a time per connection with at most PIPELINE_MAX
// waiting, controlIdleTimeoutMs without a request and the connection closes. No peer's mistake stops
// the daemon or its other control connections.

import { existsSync, unlinkSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import * as net from 'node:net';
import type { ErrorCode } from '../errors.js';
import { TunnelError, isTunnelError } from '../errors.js';
import type { Census } from '../link/census.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';

/** Requests a connection may have waiting behind the one being served; more closes it. */
export const PIPELINE_MAX = 8;
/** `watch`: the shortest interval a watcher may ask for, ms, and the bytes that may wait for it unread. */
export const WATCH_INTERVAL_MIN_MS = 250;
export const WATCH_BUFFERED_MAX = 4 * 1024 * 1024;

export interface ControlOptions {
  readonly path: string;
  readonly census: Census;
  readonly limits: Limits;
  readonly log: Logger;
  /** Re-reads the config; resolves to the lines saying what changed, rejects with TunnelError('config'). */
  readonly reload?: () => Promise<string[]>;
  /**
   * More commands by name (a relay's `invite`, `allow-remove`): each gets the request object and
   * resolves with the fields of its ok response, or rejects (a TunnelError's code is answered).
   */
  readonly commands?: Readonly<Record<string, ControlCommand>>;
}

/** A daemon's own control command (see ControlOptions.commands). */
export type ControlCommand = (req: Readonly<Record<string, unknown>>) => Promise<Record<string, unknown>>;

export interface ControlHandle {
  readonly path: string;
  /** Stops listening, closes every control connection and removes the socket file. Never rejects. */
  close(): Promise<void>;
}

type Response =
  { ok: true; [k: string]: unknown } | { ok: false; error: string; code?: ErrorCode; id?: string | number };

/**
 * Listens on opts.path (which must not be held by a running daemon; a stale socket file is replaced).
 * Rejects with TunnelError('config') if it cannot listen there.
 */
export async function startControl(opts: ControlOptions): Promise<ControlHandle> {
  const { limits, log } = opts;
  const open = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    if (open.size >= limits.controlConnectionsMax) {
      sock.end(line({ ok: false, error: `busy: ${limits.controlConnectionsMax} control connections open` }));
      setTimeout(() => sock.destroy(), 1000).unref();
      return;
    }
    open.add(sock);
    sock.once('close', () => open.delete(sock));
    serveConnection(sock, opts);
  });
  await removeStale(opts.path);
  const umask = process.umask(0o177); // the socket file is created 0600: no window in which it is wider
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    throw new TunnelError('config', `control: cannot listen on ${opts.path}: ${(err as Error).message}`, {
      cause: err,
    });
  } finally {
    process.umask(umask);
  }
  await chmod(opts.path, 0o600);
  server.on('error', (err) => log.warn(`control: ${err.message}`));
  let closed = false;
  return {
    path: opts.path,
    close: () => {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise<void>((resolve) => {
        server.close(() => resolve()); // removes the socket file
        for (const s of open) s.destroy();
      });
    },
  };
}

// A socket file with nobody listening is left over from a daemon that died: replaced. One with a live
// daemon behind it is not ours to take.
async function removeStale(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new TunnelError('config', `control: ${path} is in use by a running daemon`);
  try {
    unlinkSync(path);
  } catch {
    // listen reports it
  }
}

function serveConnection(sock: net.Socket, opts: ControlOptions): void {
  const { limits, log } = opts;
  let pending = '';
  const queue: string[] = [];
  let busy = false;
  let idle: NodeJS.Timeout;
  const armIdle = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      log.debug(`control: connection idle for ${limits.controlIdleTimeoutMs} ms, closed`);
      sock.destroy();
    }, limits.controlIdleTimeoutMs);
    idle.unref();
  };
  armIdle();
  sock.once('close', () => clearTimeout(idle));
  sock.on('error', () => sock.destroy());
  sock.setEncoding('utf8');
  const refuse = (error: string): void => {
    log.debug(`control: ${error}`);
    queue.length = 0;
    sock.removeAllListeners('data');
    sock.end(line({ ok: false, error }));
    setTimeout(() => sock.destroy(), 1000).unref();
  };
  const next = (): void => {
    if (busy || sock.destroyed) return;
    const text = queue.shift();
    if (text === undefined) return;
    busy = true;
    clearTimeout(idle); // a reload may take a while: the deadline is for a silent peer, not a slow answer
    void answer(text, opts).then(({ response, fatal, watch }) => {
      if (sock.destroyed) return;
      if (fatal) return refuse(response.ok ? 'bad request' : response.error);
      if (watch !== undefined) return follow(watch);
      armIdle(); // again from here: a peer that does not read its answer is silent too
      sock.write(line(response), () => {
        busy = false;
        next();
      });
    });
  };
  // `watch`: a status every intervalMs until the peer goes. A peer that does not read is dropped once
  // WATCH_BUFFERED_MAX bytes wait for it; one that sends anything more is refused.
  let watching = false;
  const follow = (intervalMs: number): void => {
    watching = true;
    const send = (): void => {
      if (sock.writableLength > WATCH_BUFFERED_MAX) {
        log.debug('control: a watcher that does not read, closed');
        sock.destroy();
        return;
      }
      sock.write(line({ ok: true, status: opts.census.snapshot(limits.statusStreamsMax) }));
    };
    send();
    const timer = setInterval(send, intervalMs);
    timer.unref();
    sock.once('close', () => clearInterval(timer));
  };
  sock.on('data', (chunk: string) => {
    if (watching) return refuse('bad request: nothing may follow watch');
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const text = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (Buffer.byteLength(text) > limits.controlLineMax) {
        return refuse(`bad request: line over ${limits.controlLineMax} bytes`);
      }
      if (queue.length >= PIPELINE_MAX) return refuse(`bad request: over ${PIPELINE_MAX} requests waiting`);
      queue.push(text);
    }
    if (Buffer.byteLength(pending) > limits.controlLineMax) {
      return refuse(`bad request: line over ${limits.controlLineMax} bytes`);
    }
    next();
  });
}

/** One request line to its response; `fatal` closes the connection after it (a malformed request). */
async function answer(
  text: string,
  opts: ControlOptions,
): Promise<{ response: Response; fatal: boolean; watch?: number }> {
  let req: unknown;
  try {
    req = JSON.parse(text);
  } catch {
    return { response: { ok: false, error: 'bad request: not JSON' }, fatal: true };
  }
  if (typeof req !== 'object' || req === null || Array.isArray(req)) {
    return { response: { ok: false, error: 'bad request: not a JSON object' }, fatal: true };
  }
  const { cmd, id, interval_ms: interval } = req as { cmd?: unknown; id?: unknown; interval_ms?: unknown };
  const withId = (r: Response): Response =>
    typeof id === 'string' || typeof id === 'number' ? { ...r, id } : r;
  switch (cmd) {
    case 'status':
      return {
        response: withId({ ok: true, status: opts.census.snapshot(opts.limits.statusStreamsMax) }),
        fatal: false,
      };
    case 'watch': {
      const ms = interval ?? 1000;
      if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < WATCH_INTERVAL_MIN_MS || ms > 60_000) {
        return {
          response: {
            ok: false,
            error: `bad request: interval_ms must be an integer ${WATCH_INTERVAL_MIN_MS}..60000`,
          },
          fatal: true,
        };
      }
      return { response: { ok: true }, fatal: false, watch: ms };
    }
    case 'reload':
      if (opts.reload === undefined) {
        return {
          response: withId({ ok: false, error: 'reload: not available in this daemon' }),
          fatal: false,
        };
      }
      try {
        return { response: withId({ ok: true, lines: await opts.reload() }), fatal: false };
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        const code = isTunnelError(err) ? err.code : 'general';
        return { response: withId({ ok: false, error: message, code }), fatal: false };
      }
    default:
      if (typeof cmd === 'string' && opts.commands !== undefined && Object.hasOwn(opts.commands, cmd)) {
        try {
          const fields = await opts.commands[cmd]!(req as Record<string, unknown>);
          return { response: withId({ ...fields, ok: true }), fatal: false };
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          const code = isTunnelError(err) ? err.code : 'general';
          return { response: withId({ ok: false, error: message, code }), fatal: false };
        }
      }
      return {
        response: withId({
          ok: false,
          error: `bad request: unknown cmd ${JSON.stringify(cmd) ?? 'undefined'}`,
        }),
        fatal: true,
      };
  }
}

function line(r: Response): string {
  return JSON.stringify(r) + '\n';
}
