// The load of the fault runs, a program run inside the client's namespace (`node fault-load.js …`):
// CONCURRENCY workers, each fetching bodies from the target through the client's SOCKS5 port one after
// another (every CURL_EVERY-th fetch with curl, the rest with a small SOCKS5 + HTTP/1.1 client below),
// each body hashed and judged against the known SHA-256 of that prefix of the test body:
//   ok         the whole body, right SHA-256, then a clean end (the server closes: Connection: close)
//   loud       the application was told: a reset, a socket error, a SOCKS refusal, a non-zero curl exit
//   corrupt    a clean end with the wrong bytes (or too many)
//   truncated  a clean end (FIN) before the whole body: the failure the tunnel must never produce
//   stalled    nothing ended within the stream deadline (the app gave up; the tunnel said nothing)
// The test steers it over HTTP on a unix socket (a path in the test's temp dir, reachable from the
// host's namespace since filesystem sockets are not namespaced):
//   GET /take          the tally since the last take, as JSON
//   POST /pause        no new fetches; answers once the running ones have ended
//   POST /resume       fetching (again); the load starts paused
//   POST /probe?via=node|curl&deadline=MS   a new small fetch, retried until one is ok or the deadline
//                      passes: {"ok":bool,"attempts":n,"last":"..."}
//
// usage: fault-load SOCKS_PORT TARGET_HOST TARGET_PORT CONTROL_SOCKET CONCURRENCY CURL_EVERY

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import { pathToFileURL } from 'node:url';
import { testBody } from './servers.js';

export type Result = 'ok' | 'loud' | 'corrupt' | 'truncated' | 'stalled';
export const RESULTS: readonly Result[] = ['ok', 'loud', 'corrupt', 'truncated', 'stalled'];

export interface Outcome {
  readonly result: Result;
  readonly via: 'node' | 'curl';
  readonly bytes: number;
  readonly detail: string;
}

export interface Tally {
  readonly counts: Record<Result, number>;
  /** Fetches done with curl, of the counts above. */
  readonly curl: number;
  /** Body bytes received, all fetches together (partial ones too). */
  readonly bytes: number;
  /** Why fetches failed loudly: message → count. */
  readonly loudWhy: Record<string, number>;
  /** Every corrupt, truncated or stalled fetch (the first 50). */
  readonly bad: string[];
}

export interface ProbeResult {
  readonly ok: boolean;
  readonly attempts: number;
  readonly last: string;
}

/** The paths the workers fetch, in turn: sizes from 1 kB to 400 kB, some paced so faults hit them mid-body. */
export const LOAD_PATHS = [
  '/bytes/1000',
  '/paced/65536',
  '/bytes/100003',
  '/paced/200007',
  '/bytes/12345',
  '/paced/400000',
];
const PROBE_PATH = '/bytes/4096';
/** The largest body the load or a probe fetches: every body is a prefix of the test body this long. */
export const LARGEST_BODY = Math.max(...[...LOAD_PATHS, PROBE_PATH].map((p) => Number(/(\d+)$/.exec(p)![1])));
const STREAM_DEADLINE_MS = 60_000;

const body = testBody();
const wantSha = new Map<number, string>();
function expected(path: string): { size: number; sha256: string } {
  const size = Number(/(\d+)$/.exec(path)![1]);
  let sha = wantSha.get(size);
  if (sha === undefined) {
    sha = createHash('sha256').update(body.bytes.subarray(0, size)).digest('hex');
    wantSha.set(size, sha);
  }
  return { size, sha256: sha };
}

interface Where {
  readonly socksPort: number;
  readonly host: string;
  readonly port: number;
}

/** One fetch by SOCKS5 (no auth, CONNECT by name) and HTTP/1.1 with Connection: close. */
function fetchNode(w: Where, path: string, deadlineMs: number): Promise<Outcome> {
  const want = expected(path);
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port: w.socksPort, allowHalfOpen: true });
    let stage: 'greet' | 'reply' | 'head' | 'body' = 'greet';
    let buf = Buffer.alloc(0);
    let length = -1;
    let got = 0;
    const hash = createHash('sha256');
    let settled = false;
    const done = (result: Result, detail: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ result, via: 'node', bytes: got, detail: `${path}: ${detail}` });
    };
    const timer = setTimeout(
      () => done('stalled', `nothing ended in ${deadlineMs} ms (${stage}, local port ${sock.localPort})`),
      deadlineMs,
    );
    const onBody = (chunk: Buffer): void => {
      got += chunk.length;
      if (got <= length) hash.update(chunk);
    };
    sock.on('connect', () => sock.write(Buffer.from([5, 1, 0])));
    sock.on('data', (chunk: Buffer) => {
      if (stage === 'body') return onBody(chunk);
      buf = Buffer.concat([buf, chunk]);
      if (stage === 'greet') {
        if (buf.length < 2) return;
        if (buf[0] !== 5 || buf[1] !== 0) return done('loud', `SOCKS method ${buf[1]}`);
        buf = buf.subarray(2);
        const name = Buffer.from(w.host);
        const port = Buffer.alloc(2);
        port.writeUInt16BE(w.port);
        sock.write(Buffer.concat([Buffer.from([5, 1, 0, 3, name.length]), name, port]));
        stage = 'reply';
      }
      if (stage === 'reply') {
        if (buf.length < 5) return;
        if (buf[1] !== 0) return done('loud', `SOCKS reply ${buf[1]}`);
        const atyp = buf[3];
        const total = 4 + (atyp === 1 ? 4 : atyp === 4 ? 16 : 1 + buf[4]!) + 2;
        if (buf.length < total) return;
        buf = buf.subarray(total);
        sock.write(`GET ${path} HTTP/1.1\r\nHost: ${w.host}\r\nConnection: close\r\n\r\n`);
        stage = 'head';
      }
      if (stage === 'head') {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (buf.length > 16_384) done('corrupt', 'no end of the HTTP head in 16 KiB');
          return;
        }
        const head = buf.subarray(0, end).toString('latin1');
        const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
        if (!/^HTTP\/1\.1 200 /.test(head) || !cl) return done('corrupt', `bad head ${JSON.stringify(head)}`);
        length = Number(cl[1]);
        stage = 'body';
        onBody(buf.subarray(end + 4));
      }
    });
    sock.on('end', () => {
      // Node may report a RST that arrives with unread data as an end (libuv takes POLLHUP after a
      // partial read for EOF); the kernel knows better: after a RST getpeername fails, after a FIN not.
      if (wasReset(sock)) return done('loud', `${stage}: reset (reported as an end)`);
      if (stage === 'greet' || stage === 'reply') return done('loud', `clean close before the SOCKS reply`);
      if (stage === 'head')
        return done('truncated', 'clean end after the SOCKS success, before the HTTP head');
      if (got < length) return done('truncated', `clean end after ${got} of ${length} bytes`);
      if (got > length || length !== want.size) return done('corrupt', `${got} bytes for ${want.size}`);
      const sha = hash.digest('hex');
      if (sha !== want.sha256)
        return done('corrupt', `SHA-256 ${sha.slice(0, 16)} ≠ ${want.sha256.slice(0, 16)}`);
      done('ok', 'ok');
    });
    sock.on('error', (err: Error & { code?: string }) =>
      done('loud', `${stage}: ${err.code ?? err.message}`),
    );
    sock.on('close', () => done('loud', `${stage}: closed`));
  });
}

/** True if this TCP socket (whose write side we never ended) was reset rather than closed with a FIN. */
function wasReset(sock: net.Socket): boolean {
  const handle = (sock as net.Socket & { _handle?: { getpeername?: (out: object) => number } })._handle;
  return typeof handle?.getpeername === 'function' && handle.getpeername({}) < 0;
}

/** One fetch by curl --socks5-hostname; its exit status says how it ended. */
function fetchCurl(w: Where, path: string, deadlineMs: number): Promise<Outcome> {
  const want = expected(path);
  return new Promise((resolve) => {
    const maxTime = String(Math.max(1, Math.floor(deadlineMs / 1000)));
    const url = `http://${w.host}:${w.port}${path}`;
    const child = spawn(
      'curl',
      ['-q', '-sS', '--max-time', maxTime, '--socks5-hostname', `127.0.0.1:${w.socksPort}`, url],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const hash = createHash('sha256');
    let got = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      got += chunk.length;
      hash.update(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-300)));
    const killer = setTimeout(() => child.kill('SIGKILL'), deadlineMs + 5_000);
    child.once('close', (code) => {
      clearTimeout(killer);
      const say = (result: Result, detail: string): void =>
        resolve({ result, via: 'curl', bytes: got, detail: `${path}: curl ${code}: ${detail}` });
      if (code === 0) {
        const sha = hash.digest('hex');
        if (got === want.size && sha === want.sha256) return say('ok', 'ok');
        return say('corrupt', `${got} bytes for ${want.size}, SHA-256 ${sha.slice(0, 16)}`);
      }
      // 18: the connection closed cleanly before Content-Length bytes; 52: cleanly, before any reply.
      if (code === 18 || code === 52) return say('truncated', stderr.trim());
      if (code === 28) return say('stalled', stderr.trim());
      say('loud', stderr.trim().replace(/\d+ (bytes|ms)/g, 'N $1'));
    });
  });
}

function emptyTally(): Tally {
  return {
    counts: { ok: 0, loud: 0, corrupt: 0, truncated: 0, stalled: 0 },
    curl: 0,
    bytes: 0,
    loudWhy: {},
    bad: [],
  };
}

class Load {
  private tally = emptyTally();
  private paused = true; // until the first /resume
  private inflight = 0;
  private next = 0;
  private wake: (() => void)[] = [];
  private idle: (() => void)[] = [];

  constructor(
    private readonly where: Where,
    private readonly curlEvery: number,
  ) {}

  start(workers: number): void {
    for (let i = 0; i < workers; i++) void this.worker();
  }

  private async worker(): Promise<void> {
    for (;;) {
      if (this.paused) await new Promise<void>((r) => this.wake.push(r));
      const n = this.next++;
      const path = LOAD_PATHS[n % LOAD_PATHS.length]!;
      const useCurl = this.curlEvery > 0 && n % this.curlEvery === this.curlEvery - 1;
      this.inflight++;
      const o = await (useCurl ? fetchCurl : fetchNode)(this.where, path, STREAM_DEADLINE_MS);
      this.inflight--;
      this.record(o);
      if (this.inflight === 0) for (const r of this.idle.splice(0)) r();
      // A fetch refused at once would otherwise spin: a short breath after a failure.
      if (o.result !== 'ok') await new Promise((r) => setTimeout(r, 50));
    }
  }

  private record(o: Outcome): void {
    const t = this.tally;
    t.counts[o.result]++;
    if (o.via === 'curl') (t as { curl: number }).curl++;
    (t as { bytes: number }).bytes += o.bytes;
    if (o.result === 'loud') {
      const why = o.detail.replace(/^\/\w+\/\d+: /, '');
      t.loudWhy[why] = (t.loudWhy[why] ?? 0) + 1;
    } else if (o.result !== 'ok' && t.bad.length < 50) t.bad.push(`${o.result} (${o.via}) ${o.detail}`);
  }

  take(): Tally {
    const t = this.tally;
    this.tally = emptyTally();
    return t;
  }

  async pause(): Promise<void> {
    this.paused = true;
    if (this.inflight > 0) await new Promise<void>((r) => this.idle.push(r));
  }

  resume(): void {
    this.paused = false;
    for (const r of this.wake.splice(0)) r();
  }

  async probe(via: 'node' | 'curl', deadlineMs: number): Promise<ProbeResult> {
    const until = Date.now() + deadlineMs;
    let attempts = 0;
    let last = 'no attempt';
    while (Date.now() < until) {
      attempts++;
      const left = until - Date.now();
      const o = await (via === 'curl' ? fetchCurl : fetchNode)(this.where, PROBE_PATH, Math.max(left, 1));
      if (o.result === 'ok') return { ok: true, attempts, last: 'ok' };
      last = `${o.result}: ${o.detail}`;
      if (o.result !== 'loud') return { ok: false, attempts, last }; // never retry past a wrong body
      await new Promise((r) => setTimeout(r, 100));
    }
    return { ok: false, attempts, last };
  }
}

function control(load: Load, socketPath: string): void {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://load');
    const reply = (value: unknown): void => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    req.resume();
    if (url.pathname === '/take') return reply(load.take());
    if (url.pathname === '/pause') return void load.pause().then(() => reply({}));
    if (url.pathname === '/resume') return reply((load.resume(), {}));
    if (url.pathname === '/probe') {
      const via = url.searchParams.get('via') === 'curl' ? 'curl' : 'node';
      const deadline = Number(url.searchParams.get('deadline') ?? 5000);
      return void load.probe(via, deadline).then(reply);
    }
    res.writeHead(404).end();
  });
  server.listen(socketPath, () => console.log('ready'));
  process.once('SIGTERM', () => process.exit(0));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [socksPort, host, port, socketPath, workers, curlEvery] = process.argv.slice(2);
  if (!curlEvery) {
    console.error(
      'usage: fault-load SOCKS_PORT TARGET_HOST TARGET_PORT CONTROL_SOCKET CONCURRENCY CURL_EVERY',
    );
    process.exit(2);
  }
  const load = new Load({ socksPort: Number(socksPort), host: host!, port: Number(port) }, Number(curlEvery));
  control(load, socketPath!);
  load.start(Number(workers));
}
