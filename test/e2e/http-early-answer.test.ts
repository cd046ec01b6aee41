// An origin that answers before it has read the request body, and closes: what the HTTP proxy must pass
// on. A server refusing a large upload (413 right after the headers of a 2 MB PUT, then a close that the
// unread body turns into a RST) and python's http.server (501 for a method it does not serve) are the
// common cases. Through the client's mixed port (to a relay, and direct) and through the relay's own
// HTTP mode, curl must get the origin's answer every time, and never a 100 Continue the origin did not
// send; an origin that does send 100 Continue has it passed on, and then gets the whole body.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import {
  Cleanup,
  Proc,
  certFile,
  curl,
  keygen,
  spawnEtt,
  startClient,
  startRelay,
  tempDir,
  type Key,
  type Relay,
} from '../support/proc.js';
import { seededBytes, sha256 } from '../support/servers.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

const TRIES = 10;
const upload = seededBytes(2 * 1024 * 1024, 'early-answer');
let uploadFile: string;
let early: { port: number; heads: string[] };
let python: number;
let continuing: { port: number; expects: number };
let relay: Relay;
let viaRelay: string; // the client's mixed port, routed through the relay
let direct: string; // a client whose default is `direct`
let relayMode: string[]; // curl's flags for the relay's HTTP mode

/** Answers 413 as soon as a request head is in, then closes with the body unread (the kernel sends RST). */
async function startEarlyAnswer(): Promise<{ port: number; heads: string[] }> {
  const heads: string[] = [];
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    let head = '';
    s.on('data', function onData(chunk: Buffer) {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      s.off('data', onData);
      heads.push(head.slice(0, end));
      s.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 10\r\nConnection: close\r\n\r\ntoo large\n');
      s.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.add(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as net.AddressInfo).port, heads };
}

/** Answers 100 Continue only to a request that asks for it, reads the body, and replies with its SHA-256. */
async function startContinuing(): Promise<{ port: number; expects: number }> {
  const state = { port: 0, expects: 0 };
  const server = http.createServer((req, res) => {
    const hash = createHash('sha256');
    req.on('data', (c: Buffer) => hash.update(c));
    req.on('end', () => res.end(hash.digest('hex')));
  });
  server.on('checkContinue', (req, res) => {
    state.expects++;
    res.writeContinue();
    server.emit('request', req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.add(() => new Promise<void>((resolve) => server.close(() => resolve())));
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}

/** python3 -m http.server on a free port (its 501 for PUT/POST is the answer under test). */
async function startPython(dir: string): Promise<number> {
  const p = new Proc('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', dir]);
  cleanup.add(async () => void (await p.stop()));
  const line = await p.waitForLine(/Serving HTTP on .* port \d+/);
  return Number(/port (\d+)/.exec(line)![1]);
}

before(async () => {
  const dir = await tempDir(cleanup);
  uploadFile = path.join(dir, 'upload.bin');
  await writeFile(uploadFile, upload);
  early = await startEarlyAnswer();
  continuing = await startContinuing();
  python = await startPython(dir);
  const clientKey = await keygen(dir, 'client');
  relay = await startRelay(cleanup, dir, { allow: [clientKey.pin], exit: ['accept 127.0.0.1:*'] });
  viaRelay = (await startClient(cleanup, clientKey, relay.share)).proxy;
  const d = spawnEtt(cleanup, [
    'client',
    ...['--key', clientKey.file, '--listen', '127.0.0.1:0', '--default', 'direct'],
  ]);
  direct = /listening on (\S+:\d+)/.exec(await d.waitForLine(/listening on \S+:\d+/))![1]!;
  const cert = await certFile(clientKey, dir, 'client');
  relayMode = proxyFlags(relay, clientKey, cert);
});

function proxyFlags(r: Relay, key: Key, cert: string): string[] {
  return [
    ...['--proxy', `https://127.0.0.1:${r.port}`, '--proxy-insecure'],
    ...['--proxy-pinnedpubkey', `sha256//${r.key.pin}`, '--proxy-cert', cert, '--proxy-key', key.file],
  ];
}

interface Answer {
  readonly status: string;
  readonly body: string;
  /** Status lines curl received, in order (from -v). */
  readonly statusLines: string[];
  readonly stderr: string;
}

/** A 2 MB PUT by curl through `proxy` (its flags) to port, with extra headers. */
async function put(proxy: string[], port: number, headers: string[] = []): Promise<Answer> {
  const r = await curl([
    ...proxy,
    ...['-v', '-X', 'PUT', '--data-binary', `@${uploadFile}`, '-w', '\n%{http_code}'],
    ...headers.flatMap((h) => ['-H', h]),
    `http://127.0.0.1:${port}/`,
  ]);
  const out = r.stdout.toString('utf8');
  const cut = out.lastIndexOf('\n');
  return {
    status: out.slice(cut + 1),
    body: out.slice(0, cut),
    statusLines: r.stderr.split('\n').filter((l) => /^< HTTP\//.test(l)),
    stderr: r.stderr,
  };
}

const ways = (): [string, string[]][] => [
  ['mixed port through a relay', ['-x', `http://${viaRelay}`]],
  ['mixed port, direct rule', ['-x', `http://${direct}`]],
  ["relay's HTTP mode", relayMode],
];

for (const [expect, headers] of [
  ['Expect: 100-continue (curl asks for it on a large body)', []],
  ['no Expect', ['Expect:']],
] as const) {
  test(`413 right after the head, then a close: passed on every time (${expect})`, async () => {
    for (const [way, proxy] of ways()) {
      const seen: string[] = [];
      for (let i = 0; i < TRIES; i++) {
        const a = await put(proxy, early.port, [...headers]);
        seen.push(a.status);
        assert.equal(a.body, 'too large\n', `${way}, try ${i + 1}: ${a.stderr.slice(-600)}`);
        // The origin never sent 100 Continue: nobody may invent one.
        assert.deepEqual(
          a.statusLines.map((l) => l.trim()),
          ['< HTTP/1.1 413 Payload Too Large'],
          way,
        );
      }
      assert.deepEqual(seen, Array(TRIES).fill('413'), way);
    }
  });
}

test("python's http.server refusing a 2 MB PUT (501): the 501 comes back every time", async () => {
  for (const [way, proxy] of ways()) {
    for (let i = 0; i < TRIES; i++) {
      const a = await put(proxy, python, ['Expect:']);
      assert.equal(a.status, '501', `${way}, try ${i + 1}: ${a.body}\n${a.stderr.slice(-600)}`);
    }
  }
});

test('Expect: 100-continue reaches the origin; its 100 comes back, then the whole body goes up', async () => {
  for (const [way, proxy] of ways()) {
    const before = continuing.expects;
    const a = await put(proxy, continuing.port);
    assert.equal(a.status, '200', `${way}: ${a.stderr.slice(-600)}`);
    assert.equal(a.body, sha256(upload), way);
    assert.equal(continuing.expects, before + 1, `${way}: the origin saw the Expect`);
    assert.deepEqual(
      a.statusLines.map((l) => l.trim()),
      ['< HTTP/1.1 100 Continue', '< HTTP/1.1 200 OK'],
      way,
    );
  }
  assert.ok(early.heads.length > 0);
});
