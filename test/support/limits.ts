// Helpers for the limit and abuse tests: relays and clients started from config files with a [limits]
// table, an echo target, a target whose connects hang, the relay's RSS, and a raw ett/1 peer (pinned TLS
// and hand-built frames) that misbehaves on purpose.

import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import type * as tls from 'node:tls';
import { loadIdentity } from '../../src/identity/identity.js';
import { connectPinned } from '../../src/link/tls.js';
import {
  encodeHeader,
  FrameDecoder,
  MAX_DATA_PAYLOAD,
  type Frame,
  type FrameType,
} from '../../src/link/frame.js';
import { encodeOpen, OPEN_CONNECT } from '../../src/link/open.js';
import { parseShareString } from '../../src/wire/share-string.js';
import {
  Cleanup,
  Proc,
  spawnEtt,
  waitFor,
  withDeadline,
  type Client,
  type EttProcess,
  type Key,
  type Relay,
} from './proc.js';

export type LimitTable = Record<string, number>;

function limitsToml(limits: LimitTable): string {
  return ['[limits]', ...Object.entries(limits).map(([k, v]) => `${k} = ${v}`)].join('\n') + '\n';
}

/** `ett relay --config F` with the given allow list, exit rules and [limits]; log level debug. */
export async function startLimitedRelay(
  cleanup: Cleanup,
  dir: string,
  key: Key,
  opts: { allow: string[]; exit?: string[]; limits?: LimitTable; name?: string; openFilesMax?: number },
): Promise<Relay> {
  const file = path.join(dir, `${opts.name ?? 'relay'}.toml`);
  await fs.writeFile(
    file,
    [
      `key = ${JSON.stringify(key.file)}`,
      'listen = "127.0.0.1:0"',
      `allow = ${JSON.stringify(opts.allow)}`,
      `exit = ${JSON.stringify(opts.exit ?? [])}`,
      'log_level = "debug"',
      limitsToml(opts.limits ?? {}),
    ].join('\n'),
  );
  const args = ['relay', '--config', file];
  const proc = spawnEtt(cleanup, args, opts.openFilesMax);
  const line = await proc.waitForLine(/ett:\/\//);
  const share = /(ett:\/\/\S+)/.exec(line)![1]!;
  return { proc, key, share, port: Number(/:(\d+)$/.exec(share)![1]) };
}

/** `ett client --config F` via one share string, with [limits]; log level debug. */
export async function startLimitedClient(
  cleanup: Cleanup,
  dir: string,
  key: Key,
  via: string,
  limits: LimitTable = {},
  name = 'client',
): Promise<Client> {
  const file = path.join(dir, `${name}.toml`);
  await fs.writeFile(
    file,
    [
      `key = ${JSON.stringify(key.file)}`,
      'listen = "127.0.0.1:0"',
      `via = ${JSON.stringify(via)}`,
      'log_level = "debug"',
      limitsToml(limits),
    ].join('\n'),
  );
  const proc = spawnEtt(cleanup, ['client', '--config', file]);
  const line = await proc.waitForLine(/listening on \S+:\d+/);
  const proxy = /listening on (\S+:\d+)/.exec(line)![1]!;
  return { proc, proxy, port: Number(/:(\d+)$/.exec(proxy)![1]) };
}

/** A TCP echo server on 127.0.0.1 (stopped by cleanup); counts connections open now. */
export async function startEcho(cleanup: Cleanup): Promise<{ port: number; open(): number }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.add(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return { port: (server.address() as net.AddressInfo).port, open: () => sockets.size };
}

/**
 * A port on 127.0.0.1 where TCP connects hang: a child node process listens with backlog 0, is stopped
 * (SIGSTOP) so it never accepts, and one connection fills its queue; the kernel then drops further
 * SYNs. Cleanup continues and stops the child by its PID.
 */
export async function startHangingTarget(cleanup: Cleanup): Promise<number> {
  const code =
    "const s=require('net').createServer();s.listen({host:'127.0.0.1',port:0,backlog:1},()=>console.log(s.address().port))";
  const child = new Proc(process.execPath, ['-e', code]);
  cleanup.add(async () => {
    child.signal('SIGCONT');
    await child.stop();
  });
  const port = Number(await child.waitForLine(/^\d+$/));
  child.signal('SIGSTOP');
  // Fill the accept queue (its size is the kernel's business): connect until one does not complete.
  for (let i = 0; i < 8; i++) {
    const filler = net.connect({ host: '127.0.0.1', port });
    filler.on('error', () => undefined);
    cleanup.add(() => void filler.destroy());
    const done = await new Promise<boolean>((r) => {
      filler.once('connect', () => r(true));
      setTimeout(() => r(false), 1000).unref();
    });
    if (!done) return port;
  }
  throw new Error(`connects to the stopped listener on port ${port} never started to hang`);
}

/** VmRSS of a process in KiB, from /proc. */
export async function rssKiB(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]);
}

/** The relay's log (stderr) has a line matching re, within ms. */
export function relayLogged(proc: EttProcess, re: RegExp, ms = 20_000): Promise<string> {
  return proc.waitForLine(re, { stderr: true, timeoutMs: ms });
}

/** A raw ett/1 link: pinned TLS with a real client key, then frames built by hand. */
export class RawLink {
  readonly frames: Frame[] = [];
  closed = false;
  /** Answer the relay's PINGs (a well-behaved peer); false to play dead. */
  answerPings = true;
  private readonly decoder = new FrameDecoder(MAX_DATA_PAYLOAD);

  private constructor(readonly sock: tls.TLSSocket) {
    sock.on('data', (d: Buffer) => {
      let got: Frame[] = [];
      try {
        got = this.decoder.push(d);
      } catch {
        // what the relay sends is not under test here
      }
      this.frames.push(...got);
      for (const f of got) {
        if (this.answerPings && f.type === 2 && f.flags & 0x1) this.frame(2, 0x2, 0, f.length);
      }
    });
    sock.on('error', () => undefined);
    sock.once('close', () => (this.closed = true));
  }

  static async open(key: Key, share: string, cleanup: Cleanup): Promise<RawLink> {
    const s = parseShareString(share);
    const sock = await connectPinned({
      identity: await loadIdentity(key.file),
      pin: s.pin,
      host: s.target.host,
      port: s.target.port,
      timeoutMs: 10_000,
    });
    const link = new RawLink(sock);
    cleanup.add(() => void sock.destroy());
    return link;
  }

  /** Writes a frame header (and payload); the length field is whatever is given. */
  frame(type: FrameType, flags: number, streamId: number, length: number, payload?: Buffer): boolean {
    if (this.sock.destroyed) return false;
    this.sock.write(encodeHeader(type, flags, streamId, length));
    return payload === undefined || payload.length === 0 ? true : this.sock.write(payload);
  }

  /** A SYN on streamId carrying an OPEN for host:port and optional data. */
  open(streamId: number, host: string, port: number, data: Buffer = Buffer.alloc(0)): void {
    const payload = Buffer.concat([encodeOpen({ command: OPEN_CONNECT, target: { host, port } }), data]);
    this.frame(0, 0x1, streamId, payload.length, payload);
  }

  /** Resolves once the relay has closed this link (bounded). */
  async waitClosed(ms = 20_000): Promise<void> {
    await withDeadline(
      new Promise<void>((r) => (this.closed ? r() : this.sock.once('close', () => r()))),
      ms,
      'the relay to close the raw link',
    );
  }

  /** The GO_AWAY code the relay sent, if any. */
  goAway(): number | undefined {
    return this.frames.find((f) => f.type === 3)?.length;
  }

  async waitFrame(pred: (f: Frame) => boolean, ms = 20_000, what = 'a frame'): Promise<Frame> {
    await waitFor(() => this.frames.some(pred), ms, what);
    return this.frames.find(pred)!;
  }
}
