// The join step's bounds against a real relay: a join connection holds its handshake slot until it
// ends (so handshakes_per_source counts it), is closed when no request comes within
// handshake_timeout_ms, and a request line over 512 bytes is refused unread. Raw TLS from node:tls,
// with a client key of our own, on loopback.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { after, before, test } from 'node:test';
import { loadIdentity, type Identity } from '../../src/identity/identity.js';
import { Cleanup, keygen, runEtt, spawnEtt, tempDir, waitFor, type EttProcess } from '../support/proc.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

let relay: EttProcess;
let port: number;
let client: Identity;
let dir: string;

before(async () => {
  dir = await tempDir(cleanup);
  const key = await keygen(dir, 'relay');
  client = await loadIdentity((await keygen(dir, 'client')).file);
  const file = path.join(dir, 'relay.toml');
  await writeFile(
    file,
    [
      `key = ${JSON.stringify(key.file)}`,
      'listen = "127.0.0.1:0"',
      'control = "off"',
      'allow_file = "allow.json"',
      '[limits]',
      'handshakes_per_source = 2',
      'handshake_timeout_ms = 3000',
    ].join('\n') + '\n',
  );
  relay = spawnEtt(cleanup, ['relay', '--config', file]);
  const line = await relay.waitForLine(/ett:\/\//);
  port = Number(/:(\d+)$/.exec(line.trim())![1]);
});

/** A TLS connection offering ett-join/1 with the client's key; resolves once the handshake is done. */
function joinConnection(): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({
      host: '127.0.0.1',
      port,
      rejectUnauthorized: false,
      ALPNProtocols: ['ett-join/1'],
      minVersion: 'TLSv1.3',
      key: client.keyPem,
      cert: client.certPem,
    });
    sock.once('secureConnect', () => resolve(sock));
    sock.once('error', reject);
  });
}

/** Everything the relay sends until it closes (bounded). */
function untilClosed(sock: tls.TLSSocket, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => reject(new Error(`not closed within ${ms} ms`)), ms);
    sock.on('data', (d: Buffer) => (got += d.toString('utf8')));
    sock.on('error', () => undefined);
    sock.once('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

test('two silent join connections fill handshakes_per_source (2): a third connection is closed at once; both are closed at handshake_timeout_ms', async () => {
  const a = await joinConnection();
  const b = await joinConnection();
  assert.equal(a.alpnProtocol, 'ett-join/1');
  const closedA = untilClosed(a, 20_000);
  const closedB = untilClosed(b, 20_000);
  const from = relay.errTotal;
  const third = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => {
    third.on('error', () => undefined);
    third.once('close', () => resolve());
  });
  await waitFor(
    () =>
      relay
        .errSince(from)
        .some((l) => /handshake limit: closed 1 new connection\(s\) at handshakes_per_source \(2\)/.test(l)),
    10_000,
    relay.stderr(),
  );
  assert.equal(await closedA, '', 'a silent join gets no answer, only the close');
  assert.equal(await closedB, '');
  assert.ok(relay.stderr().includes('no request within 3000 ms'), relay.stderr());
  // The slots are free again: a join is served (and refused for its token).
  const c = await joinConnection();
  const answer = untilClosed(c, 20_000);
  c.write('{"token":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}\n');
  assert.match(await answer, /^\{"ok":false,"code":"link-auth","error":"invite not known to this relay/);
});

test('a join request line over 512 bytes is refused (bad-request) and the key is not added', async () => {
  const s = await joinConnection();
  const answer = untilClosed(s, 20_000);
  s.write('x'.repeat(600));
  assert.match(await answer, /"code":"bad-request","error":"join request too long"/);
  const list = await runEtt(['allow', 'list', '--allow-file', path.join(dir, 'allow.json')]);
  assert.match(list.stdout.toString(), /no keys in/);
  assert.ok(relay.alive);
});
