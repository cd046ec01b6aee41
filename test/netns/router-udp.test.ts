// Router mode with UDP (`ett transparent-rules --router … --udp`): a LAN host with no proxy settings
// sends datagrams by name (target.test, which only the exit r3 resolves) to a UDP echo in the target's
// namespace, through the three-relay chain whose exit carries UDP there: all come back intact, from
// the address the LAN host sent to; dig to a resolver on port 5300 that only the exit's side reaches
// gets its answer. The capture between router and r1 holds no UDP packet, no name and no payload. A
// datagram sent straight to the transparent port is dropped with a reason and the port goes on.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadAddon } from '../../src/run/native.js';
import { Cleanup } from '../support/proc.js';
import { iface, unavailable, upstreamAddr, type NsProcess } from '../support/netns.js';
import { Capture, readPcap } from '../support/netns-capture.js';
import { startChain, type Chain } from '../support/netns-ett.js';
import type { LanHost } from '../support/netns-lan.js';
import { startRouter } from '../support/netns-router.js';
import { nftUnavailable } from '../support/nft.js';
import { pythonUdpEcho, tinyDnsScript, udpEchoScript } from '../support/udp-servers.js';

const addon = await loadAddon('ett client --transparent');
const SKIP =
  (await unavailable()) ??
  (await nftUnavailable()) ??
  ('why' in addon ? addon.why : null) ??
  (spawnSync('dig', ['-v'], { timeout: 10_000 }).status !== 0
    ? 'dig (Debian bind9-dnsutils) is not installed'
    : null);
const cleanup = new Cleanup();
const T_PORT = 9040;
const DNS_PORT = 5353;
const ECHO_PORT = 7007;
const RESOLVER_PORT = 5300;
const COUNT = 20;
let chain: Chain;
let lan: LanHost;
let client: NsProcess;

before(
  async () => {
    if (SKIP) return;
    chain = await startChain(cleanup, { exitUdp: true });
    const at = upstreamAddr('target');
    for (const script of [udpEchoScript(at, ECHO_PORT), tinyDnsScript(at, RESOLVER_PORT)]) {
      const p: NsProcess = chain.topo.spawn(cleanup, 'target', [process.execPath, '-e', script]);
      await p.waitForLine(/^ready$/);
    }
    ({ lan, client } = await startRouter(cleanup, chain, {
      transparentPort: T_PORT,
      dnsPort: DNS_PORT,
      udp: true,
    }));
  },
  { timeout: 120_000 },
);
after(() => cleanup.run(), { timeout: 60_000 });

describe('router mode with --udp: a LAN host with no proxy settings, its UDP through the chain', () => {
  test(
    'datagrams by name come back intact from where they went; dig reaches an exit-side resolver; router↔r1 holds no UDP, name or payload',
    { skip: SKIP ?? false, timeout: 180_000 },
    async (t) => {
      assert.doesNotMatch(client.stderr(), /redirected UDP cannot be carried/);
      const linkFile = path.join(chain.dir, 'ru-link.pcap');
      const udpFile = path.join(chain.dir, 'ru-link-udp.pcap');
      const link = await Capture.start(cleanup, chain.topo, 'client', iface('client', 1), linkFile);
      const linkUdp = await Capture.start(cleanup, chain.topo, 'client', iface('client', 1), udpFile, 'udp');
      const echo = await lan.exec(['python3', '-c', pythonUdpEcho('target.test', ECHO_PORT, COUNT)], 90_000);
      const dig = await lan.exec(
        [
          'dig',
          '+short',
          '+time=5',
          '+tries=2',
          '-p',
          String(RESOLVER_PORT),
          `@${upstreamAddr('target')}`,
          'anything.example',
          'A',
        ],
        60_000,
      );
      await link.stop();
      await linkUdp.stop();
      assert.equal(echo.code, 0, `python failed: ${echo.stderr}\nclient: ${client.stderr()}`);
      assert.equal(echo.stdout, `${COUNT} ${ECHO_PORT} True\n`, 'every datagram back, from where it went');
      assert.equal(dig.code, 0, dig.stderr);
      assert.equal(dig.stdout.trim(), '192.0.2.99', "the exit-side resolver's answer");
      const pcap = await readPcap(linkFile);
      t.diagnostic(`router↔r1: ${pcap.packets} packets, ${pcap.capturedBytes} bytes`);
      assert.ok(pcap.packets > 0, 'the datagrams crossed the captured link inside the link');
      assert.equal((await readPcap(udpFile)).packets, 0, 'UDP packets on router↔r1');
      assert.equal(pcap.data.indexOf(Buffer.from('target.test')), -1, 'the name on the link');
      assert.equal(pcap.data.indexOf(Buffer.from('anything')), -1, 'the queried name on the link');
      const digest = createHash('sha256').update('0').digest();
      assert.equal(pcap.data.indexOf(Buffer.concat([digest, digest])), -1, 'a payload on the link');
    },
  );

  test(
    'a datagram sent straight to the transparent port is dropped with a reason; the port goes on',
    { skip: SKIP ?? false, timeout: 120_000 },
    async () => {
      const script = [
        'import socket',
        'u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
        `u.sendto(b"straight", ("${lan.routerAddr}", ${T_PORT}))`,
        'u.settimeout(2)',
        'try:',
        '  u.recvfrom(64)',
        '  print("answered")',
        'except socket.timeout:',
        '  print("nothing")',
      ].join('\n');
      const r = await lan.exec(['python3', '-c', script], 30_000);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'nothing\n');
      await client.waitForLine(
        /transparent udp: \d+ datagram\(s\) dropped, latest: .*sent straight to the transparent port/,
        {
          stderr: true,
        },
      );
      const again = await lan.exec(['python3', '-c', pythonUdpEcho('target.test', ECHO_PORT, 3)], 60_000);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout, `3 ${ECHO_PORT} True\n`);
    },
  );
});
