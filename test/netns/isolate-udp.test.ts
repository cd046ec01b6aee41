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

/** A DNS server that answers every A query with 192.0.2.99 (the question copied, no EDNS). */
const TINY_DNS = `const s = require('node:dgram').createSocket('udp4');
s.on('message', (q, r) => {
  if (q.length < 17) return;
  let at = 12;
  while (at < q.length && q[at] !== 0) at += q[at] + 1;
  const question = q.subarray(12, at + 5);
  const head = Buffer.from([q[0], q[1], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
  const answer = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 99]);
  s.send(Buffer.concat([head, question, answer]), r.port, r.address);
});
s.bind(${DNS_PORT}, ${JSON.stringify(upstreamAddr('target'))}, () => console.log('ready'));`;

const ECHO = `const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => s.send(m, r.port, r.address));
s.bind(${ECHO_PORT}, ${JSON.stringify(upstreamAddr('target'))}, () => console.log('ready'));`;

before(
  async () => {
    if (SKIP) return;
    chain = await startChain(cleanup, { exitUdp: true });
    for (const script of [ECHO, TINY_DNS]) {
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

const PYTHON = [
  'import hashlib, socket, sys',
  'u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
  'u.settimeout(10)',
  'ok = 0',
  `for i in range(${COUNT}):`,
  '  data = hashlib.sha256(str(i).encode()).digest() * 32',
  `  u.sendto(data, ("target.test", ${ECHO_PORT}))`,
  '  back, src = u.recvfrom(4096)',
  '  if back == data: ok += 1',
  '  else: print("mismatch", i, file=sys.stderr)',
  'print(ok, src[1], src[0].startswith("240."))',
].join('\n');

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
