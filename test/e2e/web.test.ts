// The live web view in a real browser: a relay and a client (real processes), a stream through them,
// `ett status --web` on loopback, and headless Chromium (Debian's, driven by playwright-core) opening the
// printed URL: the link and the stream appear, their bytes update, a screenshot is saved. Requests with
// a wrong token, a foreign Host (DNS rebinding) or a foreign Origin are refused.

import assert from 'node:assert/strict';
import { copyFileSync, existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { shortPin } from '../../src/wire/share-string.js';
import { startEcho } from '../support/limits.js';
import { Cleanup, startTunnel, spawnEtt, type EttProcess, type Tunnel } from '../support/proc.js';
import { socks5Connect, type Conn } from '../support/socks.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOT_COPY = '/tmp/ett-web-shot.png';
const skip = existsSync(CHROMIUM) ? false : `no ${CHROMIUM} (apt-get install chromium)`;

const cleanup = new Cleanup();
after(() => cleanup.run());

let tunnel: Tunnel;
let echoPort: number;
let web: EttProcess;
let url: URL;
let browser: BrowserContext;
let page: Page;
let stream: Conn;

before(async () => {
  if (skip) return;
  echoPort = (await startEcho(cleanup)).port;
  tunnel = await startTunnel(cleanup, { exit: [`accept 127.0.0.1:${echoPort}`] });
  const control = /control: (\S+)/.exec(await tunnel.client.proc.waitForLine(/ett client control: /))![1]!;
  web = spawnEtt(cleanup, ['status', '--web', '--control', control, '--listen', '127.0.0.1:0']);
  url = new URL(/web: (\S+)/.exec(await web.waitForLine(/ett status web: http:/))![1]!);
  const profile = path.join(tunnel.dir, 'chromium-profile');
  await fs.mkdir(profile);
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
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
    ],
    viewport: { width: 1280, height: 800 },
  });
  cleanup.add(() => browser.close());
  page = await browser.newPage();
});

/** Writes n bytes on the stream and reads the echo back. */
async function echo(n: number): Promise<void> {
  stream.socket.write(Buffer.alloc(n, 7));
  await stream.read(n, 20_000);
}

test('the page shows the link and the stream it started, and their bytes update', { skip }, async (t) => {
  const r = await socks5Connect(tunnel.client.port, '127.0.0.1', echoPort);
  assert.equal(r.reply, 0);
  stream = r.conn;
  cleanup.add(() => void stream.destroy());
  await echo(10_000);
  await page.goto(url.href);
  const target = `127.0.0.1:${echoPort}`;
  const relayPeer = shortPin(/^ett:\/\/([^@]+)@/.exec(tunnel.relay.share)![1]!);
  await page.locator('#live.on').waitFor({ timeout: 20_000 });
  await page.locator('#links td', { hasText: relayPeer }).first().waitFor({ timeout: 20_000 });
  const row = page.locator('#streams tr', { hasText: target });
  await row.waitFor({ timeout: 20_000 });
  const outCell = row.locator('td').nth(5);
  const before = await outCell.textContent();
  assert.match(before ?? '', /^\d+(\.\d)?[BKM]$/);
  // Traffic for a few seconds, so the plot has points and the counters move.
  for (let i = 0; i < 10; i++) {
    await echo(100_000 * (1 + (i % 4)));
    await new Promise((resolve) => setTimeout(resolve, 600));
  }
  // The page redraws every second: within a bounded number of redraws the count moves.
  let now = before;
  for (let i = 0; i < 40 && now === before; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    now = await outCell.textContent();
  }
  assert.notEqual(now, before, "the stream's bytes on the page did not change");
  assert.ok((await page.locator('#links svg polyline.in').count()) >= 1, 'a traffic plot per link');
  const shot = path.join(tunnel.dir, 'ett-web.png');
  await page.screenshot({ path: shot, fullPage: true });
  copyFileSync(shot, SHOT_COPY);
  t.diagnostic(`screenshot: ${shot} (copied to ${SHOT_COPY})`);
});

/** A GET to the web view with the given path and headers: its status. */
function get(pathAndQuery: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: url.hostname, port: Number(url.port), path: pathAndQuery, headers, timeout: 10_000 },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
  });
}

test('a wrong token, a foreign Host or a foreign Origin is refused', { skip }, async () => {
  const token = url.searchParams.get('token')!;
  const host = url.host;
  assert.equal(await get(`/?token=${token}`, { host }), 200);
  assert.equal(await get('/?token=wrong', { host }), 403);
  assert.equal(await get('/', { host }), 403);
  assert.equal(await get(`/events?token=${token.slice(0, -1)}x`, { host }), 403);
  // DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends its own name as Host.
  assert.equal(await get(`/?token=${token}`, { host: `evil.example:${url.port}` }), 421);
  assert.equal(await get(`/?token=${token}`, { host, origin: 'http://evil.example' }), 403);
  // No CORS: a cross-origin fetch from a page elsewhere cannot read it (the browser sees no ACAO).
  const res = await fetch(url.href, { headers: { origin: url.origin } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('access-control-allow-origin'), null);
  assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
});

test('at most 8 event streams at once: the next gets 503', { skip }, async () => {
  const token = url.searchParams.get('token')!;
  const held: http.ClientRequest[] = [];
  const statuses: number[] = [];
  // The page above holds one; 8 more are asked for, so at least the last is refused.
  for (let i = 0; i < 8; i++) {
    statuses.push(
      await new Promise<number>((resolve, reject) => {
        const req = http.get(
          {
            host: url.hostname,
            port: Number(url.port),
            path: `/events?token=${token}`,
            headers: { host: url.host },
          },
          (res) => resolve(res.statusCode ?? 0),
        );
        req.on('error', reject);
        held.push(req);
      }),
    );
  }
  for (const r of held) r.destroy();
  assert.ok(statuses.filter((s) => s === 200).length <= 7, statuses.join(' '));
  assert.equal(statuses.at(-1), 503);
});

test('the view refuses to listen off loopback', { skip }, async () => {
  const control = /control: (\S+)/.exec(await tunnel.client.proc.waitForLine(/ett client control: /))![1]!;
  const p = spawnEtt(cleanup, ['status', '--web', '--control', control, '--listen', '0.0.0.0:0']);
  const exit = await p.exited;
  assert.equal(exit.code, 2);
  assert.match(p.stderr(), /loopback only/);
});

test('when the daemon stops, the page says so and the view exits 1', { skip }, async () => {
  await tunnel.client.proc.stop();
  await page.locator('#live.off', { hasText: 'daemon stopped' }).waitFor({ timeout: 20_000 });
  const exit = await web.exited;
  assert.equal(exit.code, 1);
  assert.match(web.stderr(), /the daemon stopped answering/);
});
