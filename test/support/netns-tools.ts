// A small program the namespace tests run inside their namespaces (`node netns-tools.js …`), since a
// process cannot move itself into one:
//   serve HOST HTTP_PORT HASH_PORT  HTTP: `/` the 20 MB test body, `/small` its first 64 KiB, `/paced` the
//                                   whole body at about 2.5 MB/s (256 KiB per 100 ms), `/bytes/N` its
//                                   first N bytes at once, `/paced/N` those at 32 KiB per 50 ms. HASH: reads
//                                   until EOF, answers SHA-256 (32 bytes) of what it read, then ends.
//                                   Prints `ready`, then `peer http|hash ADDRESS` for each connection.
//   send HOST PORT SIZE SEED        connects, sends SIZE seeded bytes, half-closes, prints one JSON line:
//                                   {"bytes":n,"digest":hex,"ended":bool,"error":code|null}.
// Both exit on SIGTERM; `send` exits by itself (bounded by a 60 s timer).

import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import { pathToFileURL } from 'node:url';
import { seededBytes, testBody } from './servers.js';

export const SMALL = 64 * 1024;
const PACE_CHUNK = 256 * 1024;
const PACE_MS = 100;
const SLOW_CHUNK = 32 * 1024;
const SLOW_MS = 50;

/** What an HTTP path asks for: a prefix of the body, at once or paced (chunk bytes per ms). */
function route(url: string | undefined, size: number): { length: number; chunk: number; ms: number } {
  const m = /^\/(bytes|paced)\/(\d+)$/.exec(url ?? '');
  if (m) {
    const length = Math.min(Number(m[2]), size);
    return m[1] === 'paced' ? { length, chunk: SLOW_CHUNK, ms: SLOW_MS } : { length, chunk: 0, ms: 0 };
  }
  if (url === '/small') return { length: SMALL, chunk: 0, ms: 0 };
  if (url === '/paced') return { length: size, chunk: PACE_CHUNK, ms: PACE_MS };
  return { length: size, chunk: 0, ms: 0 };
}

function serve(host: string, httpPort: number, hashPort: number): void {
  const body = testBody();
  const web = http.createServer((req, res) => {
    req.resume();
    const how = route(req.url, body.bytes.length);
    const bytes = body.bytes.subarray(0, how.length);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
    if (how.chunk === 0) return void res.end(bytes);
    // Paced, so a download is surely still running when a relay is killed (whatever the buffers hold).
    let at = 0;
    const next = (): void => {
      if (res.destroyed) return;
      if (at >= bytes.length) return void res.end();
      const chunk = bytes.subarray(at, at + how.chunk);
      at += chunk.length;
      res.write(chunk, () => setTimeout(next, how.ms));
    };
    next();
  });
  web.on('connection', (s: net.Socket) => console.log(`peer http ${s.remoteAddress}`));
  const hash = net.createServer({ allowHalfOpen: true }, (sock) => {
    console.log(`peer hash ${sock.remoteAddress}`);
    const h = createHash('sha256');
    sock.on('error', () => sock.destroy());
    sock.on('data', (chunk: Buffer) => h.update(chunk));
    sock.on('end', () => sock.end(h.digest()));
  });
  let ready = 0;
  const up = (): void => {
    if (++ready === 2) console.log('ready');
  };
  web.listen({ host, port: httpPort }, up);
  hash.listen({ host, port: hashPort }, up);
  process.once('SIGTERM', () => process.exit(0));
}

function send(host: string, port: number, size: number, seed: string): void {
  const data = seededBytes(size, seed);
  const sock = net.connect({ host, port, allowHalfOpen: true });
  const got: Buffer[] = [];
  let ended = false;
  let error: string | null = null;
  const timer = setTimeout(() => {
    error = 'TIMEOUT';
    sock.destroy();
  }, 60_000);
  sock.on('data', (chunk: Buffer) => got.push(chunk));
  sock.on('end', () => (ended = true));
  sock.on('error', (err: Error & { code?: string }) => (error = err.code ?? err.message));
  sock.on('connect', () => {
    for (let at = 0; at < data.length; at += 64 * 1024) sock.write(data.subarray(at, at + 64 * 1024));
    sock.end();
  });
  sock.on('close', () => {
    clearTimeout(timer);
    const all = Buffer.concat(got);
    console.log(JSON.stringify({ bytes: all.length, digest: all.toString('hex'), ended, error }));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [cmd, ...a] = process.argv.slice(2);
  if (cmd === 'serve') serve(a[0]!, Number(a[1]), Number(a[2]));
  else if (cmd === 'send') send(a[0]!, Number(a[1]), Number(a[2]), a[3]!);
  else {
    console.error('usage: netns-tools serve HOST HTTP_PORT HASH_PORT | send HOST PORT SIZE SEED');
    process.exitCode = 2;
  }
}
