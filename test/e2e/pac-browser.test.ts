// The namespace also shows what loopback-only means: with socks_users set, the PAC file goes to a
// peer on 127.0.0.1 and not to one on 192.0.2.1; without, each gets its own address in PROXY.
//
// Headless Chromium (Debian's, driven by playwright-core) with --proxy-pac-url pointing at a real
// client's /proxy.pac: one page through ett and a relay, one DIRECT, one blocked by ett with a page that
// says why. Chromium never consults a PAC file for loopback addresses or localhost names, so the pages
// live on 192.0.2.x (TEST-NET-1) addresses put on the loopback device of a network namespace this test
// creates; Chromium, the relay, the client and the page server all run in it. Needs root.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type BrowserContext } from 'playwright-core';
import { run, unavailable } from '../support/netns.js';
import { Cleanup, ETT, keygen, Proc, tempDir } from '../support/proc.js';

const CHROMIUM = '/usr/bin/chromium';
const NS = `docs-pac-${process.pid}`;
const VIA = '192.0.2.1'; // a CIDR rule sends it through the relay
const DIRECT = '192.0.2.2'; // direct.test maps here in Chromium; a host rule makes it DIRECT
const BLOCKED = '192.0.2.3'; // blocked.test: a host rule blocks it

const cleanup = new Cleanup();
after(() => cleanup.run());

let skip: string | false = existsSync(CHROMIUM) ? false : `no ${CHROMIUM} (apt-get install chromium)`;
let dir: string;
let webPort: number;
let page: Proc;
let client: Proc;
let proxy: string;

/** A process in the namespace (ip netns exec execs it: the PID is the process's own). */
function inNs(command: string, args: string[]): Proc {
  const p = new Proc('ip', ['netns', 'exec', NS, command, ...args]);
  cleanup.add(async () => {
    await p.stop();
  });
  return p;
}

const PAGE_SERVER = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  console.log('request ' + req.headers.host);
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end('<title>page</title><p id="host">served ' + req.headers.host + '</p>');
});
server.listen(0, '0.0.0.0', () => console.log('listening ' + server.address().port));
`;

before(async () => {
  skip = skip || ((await unavailable()) ?? false);
  if (skip) return;
  dir = await tempDir(cleanup);
  for (const args of [
    ['netns', 'add', NS],
    ['-n', NS, 'link', 'set', 'lo', 'up'],
    ...[VIA, DIRECT, BLOCKED].map((a) => ['-n', NS, 'addr', 'add', `${a}/32`, 'dev', 'lo']),
  ]) {
    const r = await run('ip', args);
    assert.equal(r.code, 0, `ip ${args.join(' ')}: ${r.stderr}`);
    if (args[1] === 'add' && args[0] === 'netns')
      cleanup.add(async () => void (await run('ip', ['netns', 'del', NS])));
  }
  page = inNs(process.execPath, ['-e', PAGE_SERVER]);
  webPort = Number(/listening (\d+)/.exec(await page.waitForLine(/^listening \d+/))![1]);

  const clientKey = await keygen(dir, 'client');
  const relayKey = await keygen(dir, 'relay');
  const relay = inNs(process.execPath, [
    ETT,
    'relay',
    '--key',
    relayKey.file,
    '--listen',
    '127.0.0.1:0',
    '--allow',
    clientKey.pin,
    '--exit',
    `accept ${VIA}:${webPort}`,
  ]);
  const share = /(ett:\/\/\S+)/.exec(await relay.waitForLine(/ett:\/\//))![1]!;
  const config = path.join(dir, 'client.toml');
  // Everything not named here is blocked at the client: Chromium's own background requests never
  // reach the relay (which would try to resolve their names).
  await fs.writeFile(
    config,
    `key = ${JSON.stringify(clientKey.file)}
listen = "127.0.0.1:0"
log_level = "debug"
default = "block"

[relays]
r = ${JSON.stringify(share)}

[[rules]]
cidr = "${VIA}/32"
port = ${webPort}
action = "r"

[[rules]]
host = "direct.test"
action = "direct"

[[rules]]
host = ".blocked.test"
action = "block"
`,
  );
  client = inNs(process.execPath, [ETT, 'client', '--config', config]);
  proxy = /listening on (\S+:\d+)/.exec(await client.waitForLine(/listening on \S+:\d+/))![1]!;
});

test('Chromium with --proxy-pac-url: through ett, DIRECT, and blocked by ett', async (t) => {
  if (skip) return void t.skip(skip);
  // Chromium runs in the namespace through a wrapper that playwright starts in its place.
  const wrapper = path.join(dir, 'chromium-in-ns');
  await fs.writeFile(wrapper, `#!/bin/sh\nexec ip netns exec ${NS} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  const profile = path.join(dir, 'chromium-profile');
  await fs.mkdir(profile);
  const browser: BrowserContext = await chromium.launchPersistentContext(profile, {
    executablePath: wrapper,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--proxy-pac-url=http://${proxy}/proxy.pac`,
      `--host-resolver-rules=MAP direct.test ${DIRECT}`,
    ],
  });
  cleanup.add(() => browser.close());
  const tab = await browser.newPage();
  const log = (): string => client.errLines.join('\n');

  // Through ett and the relay: the client logs the request.
  await tab.goto(`http://${VIA}:${webPort}/`, { timeout: 30_000 });
  assert.equal(await tab.textContent('#host'), `served ${VIA}:${webPort}`);
  await client.waitForLine(new RegExp(`http GET ${VIA.replace(/\./g, '\\.')}:${webPort}$`), { stderr: true });

  // DIRECT: Chromium resolves direct.test itself (to 192.0.2.2) and connects; ett never sees it.
  await tab.goto(`http://direct.test:${webPort}/`, { timeout: 30_000 });
  assert.equal(await tab.textContent('#host'), `served direct.test:${webPort}`);

  // Blocked: sent to ett, which refuses it with a page that says why; the page server sees nothing.
  const served = page.lines.length;
  const res = await tab.goto(`http://ads.blocked.test:${webPort}/`, { timeout: 30_000 });
  assert.equal(res?.status(), 403);
  assert.match((await tab.textContent('body')) ?? '', /ett: policy: blocked by a client rule/);
  await client.waitForLine(/http GET http:\/\/ads\.blocked\.test:\d+\/: policy: blocked by a client rule/, {
    stderr: true,
  });
  assert.equal(page.lines.length, served);
  // ett's log has the blocked request, logged after anything of direct.test's would be: there is none.
  assert.ok(!log().includes('direct.test'), log());
});

/** A client listening on every address of the namespace; `extra` is appended to its config. */
async function wideClient(name: string, extra: string): Promise<number> {
  const key = await keygen(dir, name);
  const config = path.join(dir, `${name}.toml`);
  await fs.writeFile(
    config,
    `key = ${JSON.stringify(key.file)}\nlisten = "0.0.0.0:0"\ndefault = "block"\n${extra}\n`,
  );
  const p = inNs(process.execPath, [ETT, 'client', '--config', config]);
  return Number(/listening on \S+:(\d+)/.exec(await p.waitForLine(/listening on \S+:\d+/))![1]);
}

/** curl in the namespace: the status line and the body. */
async function fetchPac(url: string): Promise<{ status: string; body: string }> {
  const r = await run('ip', [
    'netns',
    'exec',
    NS,
    'curl',
    '-q',
    '-sS',
    '--max-time',
    '10',
    '-w',
    '\n%{http_code}',
    url,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const cut = r.stdout.lastIndexOf('\n');
  return { status: r.stdout.slice(cut + 1), body: r.stdout.slice(0, cut) };
}

test('the PAC names the address it was fetched on; with socks_users, only loopback gets it', async (t) => {
  if (skip) return void t.skip(skip);
  const open = await wideClient('open', '');
  const local = await fetchPac(`http://127.0.0.1:${open}/proxy.pac`);
  assert.equal(local.status, '200');
  assert.ok(local.body.includes(`"PROXY 127.0.0.1:${open}"`), local.body);
  const wide = await fetchPac(`http://${VIA}:${open}/proxy.pac`);
  assert.equal(wide.status, '200');
  assert.ok(wide.body.includes(`"PROXY ${VIA}:${open}"`), wide.body);

  const users = await wideClient('users', '[socks_users]\nalice = "a long password"');
  assert.equal((await fetchPac(`http://127.0.0.1:${users}/proxy.pac`)).status, '200');
  const refused = await fetchPac(`http://${VIA}:${users}/proxy.pac`);
  assert.equal(refused.status, '403');
  assert.match(refused.body, /served to this machine only/);
});
