// The PAC file on a real client's mixed port: fetched with curl and evaluated (node:vm) for sample
// URLs, the same port still a proxy through a real relay; `pac = false` turns it off. (A real browser
// using it: pac-browser.test.ts.) The target is a *.localhost name (RFC 6761: loopback by definition),
// which the relay's exit serves without a resolver.

import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import vm from 'node:vm';
import { after, before, test } from 'node:test';
import { Cleanup, curl, keygen, spawnEtt, startRelay, tempDir, type EttProcess } from '../support/proc.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

let dir: string;
let webPort: number;
/** Host headers the page server saw, in order. */
const seen: string[] = [];
let proxy: string;

/** `ett client --config` with `extra` appended to a config naming relay `r` as the default. */
async function startConfigured(
  share: string,
  keyFile: string,
  name: string,
  extra: string,
  listen = '127.0.0.1:0',
): Promise<[EttProcess, string]> {
  const file = path.join(dir, `${name}.toml`);
  await fs.writeFile(
    file,
    `key = ${JSON.stringify(keyFile)}\nlisten = "${listen}"\nlog_level = "debug"\n${extra}\n` +
      `[relays]\nr = ${JSON.stringify(share)}\n`,
  );
  const proc = spawnEtt(cleanup, ['client', '--config', file]);
  const line = await proc.waitForLine(/listening on \S+:\d+/);
  return [proc, /listening on (\S+:\d+)/.exec(line)![1]!];
}

// Anything else is blocked at the client, so nothing asks the relay to resolve a name on the Internet.
const RULES = `
default = "block"

[[rules]]
host = "app.localhost"
action = "r"

[[rules]]
host = "direct.localhost"
action = "direct"

[[rules]]
host = ".blocked.localhost"
action = "block"
`;

before(async () => {
  dir = await tempDir(cleanup);
  const server = http.createServer((req, res) => {
    seen.push(req.headers.host ?? '');
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<title>page</title><p id="host">served ${req.headers.host ?? ''}</p>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.add(() => new Promise<void>((resolve) => server.close(() => resolve())));
  webPort = (server.address() as AddressInfo).port;
  const clientKey = await keygen(dir, 'client');
  const relay = await startRelay(cleanup, dir, {
    allow: [clientKey.pin],
    exit: [`accept 127.0.0.1:${webPort}`],
  });
  [, proxy] = await startConfigured(relay.share, clientKey.file, 'client', RULES);
});

function evaluate(script: string): (url: string) => string {
  const context = vm.createContext({});
  vm.runInContext(script, context, { timeout: 1000 });
  const find = context['FindProxyForURL'] as (url: string, host: string) => string;
  return (url) => find(url, new URL(url).hostname);
}

test('GET /proxy.pac: a PAC file that follows the rules, and the port is still a proxy', async () => {
  const r = await curl(['-D', '-', `http://${proxy}/proxy.pac`]);
  assert.equal(r.code, 0, r.stderr);
  const text = r.stdout.toString();
  const [head, script] = text.split('\r\n\r\n') as [string, string];
  assert.match(head, /^HTTP\/1\.1 200 /);
  assert.match(head, /\r\ncontent-type: application\/x-ns-proxy-autoconfig\r\n/i);
  const find = evaluate(script);
  assert.equal(find(`http://direct.localhost:${webPort}/`), 'DIRECT');
  assert.equal(find(`http://ads.blocked.localhost:${webPort}/`), `PROXY ${proxy}`);
  assert.equal(find('https://www.example.org/'), `PROXY ${proxy}`);
  // /wpad.dat is the same file; other methods are refused.
  const wpad = await curl([`http://${proxy}/wpad.dat`]);
  assert.equal(wpad.stdout.toString(), script);
  const post = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-d', 'x', `http://${proxy}/proxy.pac`]);
  assert.equal(post.stdout.toString(), '405');
  // The same port goes on proxying: a plain http:// request through the relay.
  const page = await curl(['-x', `http://${proxy}`, `http://app.localhost:${webPort}/`]);
  assert.equal(page.code, 0, page.stderr);
  assert.match(page.stdout.toString(), /served app\.localhost:\d+/);
});

test('pac = false: /proxy.pac is an ordinary origin-form request to a proxy (400)', async () => {
  const relayKey = await keygen(dir, 'r2-client');
  const relay = await startRelay(cleanup, dir, { allow: [relayKey.pin], name: 'r2' });
  const [, port] = await startConfigured(relay.share, relayKey.file, 'nopac', 'pac = false\ndefault = "r"');
  const r = await curl(['-o', '/dev/null', '-w', '%{http_code}', `http://${port}/proxy.pac`]);
  assert.equal(r.stdout.toString(), '400');
});

test('a client on [::1] names itself in brackets', async (t) => {
  const relayKey = await keygen(dir, 'r3-client');
  const relay = await startRelay(cleanup, dir, { allow: [relayKey.pin], name: 'r3' });
  let port: string;
  try {
    [, port] = await startConfigured(relay.share, relayKey.file, 'v6', 'default = "r"', '[::1]:0');
  } catch (err) {
    return void t.skip(`no IPv6 loopback: ${(err as Error).message}`);
  }
  const r = await curl([`http://${port}/proxy.pac`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(evaluate(r.stdout.toString())('https://www.example.org/'), `PROXY ${port}`);
  assert.match(port, /^\[::1\]:\d+$/);
});
