// UDP under `ett run --isolate`, through the three-relay chain whose exit (r3) carries UDP to the
// target's network: a Python program's datagrams by name (target.test, which only r3 resolves) to a UDP
// echo, hash-checked both ways and answered from the address it sent to; `dig` to a resolver on a
// port other than 53 that only the exit's side can reach (a tiny DNS server in the target's namespace:
// DNS to port 53 is always answered by ett itself); captures in the client's namespace hold no UDP
// packet, and the one on the client↔r1 link no payload and no name.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { findIsolateHelper, loadAddon } from '../../src/run/native.js';
import { Cleanup, ETT } from '../support/proc.js';
import { iface, unavailable, upstreamAddr, type NsProcess } from '../support/netns.js';
import { Capture, readPcap } from '../support/netns-capture.js';
import { startChain, type Chain } from '../support/netns-ett.js';
import { pythonUdpEcho, tinyDnsScript, udpEchoScript } from '../support/udp-servers.js';

const addon = await loadAddon('ett run --isolate');
const helper = await findIsolateHelper();
const haveDig = spawnSync('dig', ['-v'], { timeout: 10_000 }).status === 0;
const SKIP =
  (await unavailable()) ??
  ('why' in addon ? addon.why : 'why' in helper ? helper.why : null) ??
  (haveDig ? null : 'dig (Debian bind9-dnsutils) is not installed');
const ECHO_PORT = 5353;
const DNS_PORT = 5300;
const COUNT = 20;
const cleanup = new Cleanup();
let chain: Chain;

before(
  async () => {
    if (SKIP) return;
    chain = await startChain(cleanup, { exitUdp: true });
    const at = upstreamAddr('target');
    for (const script of [udpEchoScript(at, ECHO_PORT), tinyDnsScript(at, DNS_PORT)]) {
      const p: NsProcess = chain.topo.spawn(cleanup, 'target', [process.execPath, '-e', script]);
      await p.waitForLine(/^ready$/);
    }
  },
  { timeout: 90_000 },
);
after(() => cleanup.run(), { timeout: 60_000 });

function isolatedArgv(argv: string[]): string[] {
  return [
    process.execPath,
    ETT,
    'run',
    '--isolate',
    '--key',
    chain.clientKey.file,
    '--via',
    chain.via,
    '--',
    ...argv,
  ];
}

const PYTHON = pythonUdpEcho('target.test', ECHO_PORT, COUNT);

describe('ett run --isolate: UDP through a three-relay chain', () => {
  test(
    'a program sends datagrams by name: all come back intact, from where it sent; nothing in clear',
    { skip: SKIP ?? false, timeout: 150_000 },
    async (t) => {
      const anyFile = path.join(chain.dir, 'iu-any.pcap');
      const linkFile = path.join(chain.dir, 'iu-link.pcap');
      const anyUdp = await Capture.start(cleanup, chain.topo, 'client', 'any', anyFile, 'udp');
      const link = await Capture.start(cleanup, chain.topo, 'client', iface('client', 1), linkFile);
      const r = await chain.topo.exec('client', isolatedArgv(['python3', '-c', PYTHON]), 120_000);
      await anyUdp.stop();
      await link.stop();
      assert.equal(r.code, 0, `python failed: ${r.stderr}`);
      assert.equal(
        r.stdout,
        `${COUNT} ${ECHO_PORT} True\n`,
        'every datagram back, from the address it went to',
      );
      assert.equal((await readPcap(anyFile)).packets, 0, "UDP packets in the client's namespace");
      const pcap = await readPcap(linkFile);
      t.diagnostic(`client↔r1: ${pcap.packets} packets, ${pcap.capturedBytes} bytes`);
      assert.equal(pcap.data.indexOf(Buffer.from('target.test')), -1, 'the name on the link');
      const digest = createHash('sha256').update('0').digest();
      const first = Buffer.concat([digest, digest]);
      assert.equal(pcap.data.indexOf(first), -1, 'a payload on the link');
    },
  );

  test(
    'dig to a resolver on port 5300 that only the exit reaches gets its answer',
    { skip: SKIP ?? false, timeout: 120_000 },
    async () => {
      const r = await chain.topo.exec(
        'client',
        isolatedArgv([
          'dig',
          '+short',
          '+time=5',
          '+tries=2',
          '-p',
          String(DNS_PORT),
          `@${upstreamAddr('target')}`,
          'anything.example',
          'A',
        ]),
        90_000,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), '192.0.2.99', "the exit-side resolver's answer");
    },
  );
});
