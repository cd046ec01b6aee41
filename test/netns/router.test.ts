// Router mode: a LAN host whose default route and resolver are the client's namespace, which runs
// `ett client --transparent … --dns …` under the rules `ett transparent-rules --router` prints (and
// forwards packets, as a router does, so the rules are what stops them). Plain curl and busybox-static
// wget on the LAN host, with no proxy settings, reach target.test (a name only r3 resolves) through the
// three-relay chain; the capture between router and r1 holds neither the name nor any 64-byte run of
// the body; the LAN host's own UDP and TCP elsewhere get nothing through; a connection made straight to
// the transparent port is refused and the port goes on serving.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadAddon } from '../../src/run/native.js';
import { Cleanup } from '../support/proc.js';
import { testBody } from '../support/servers.js';
import { HTTP_PORT, addr, iface, streamInNs, unavailable, type Fetch } from '../support/netns.js';
import { BodyIndex, Capture, readPcap } from '../support/netns-capture.js';
import { startChain, type Chain } from '../support/netns-ett.js';
import type { LanHost } from '../support/netns-lan.js';
import { startRouter } from '../support/netns-router.js';
import { nftUnavailable } from '../support/nft.js';
import type { NsProcess } from '../support/netns.js';

const addon = await loadAddon('ett client --transparent');
const SKIP =
  (await unavailable()) ??
  (await nftUnavailable()) ??
  ('why' in addon ? addon.why : null) ??
  (spawnSync('busybox', ['true']).status !== 0 ? 'busybox (Debian busybox-static) is not installed' : null);
const cleanup = new Cleanup();
const body = testBody();
const URL_BODY = `http://target.test:${HTTP_PORT}/`;
const T_PORT = 9040;
const DNS_PORT = 5353;
let chain: Chain;
let lan: LanHost;
let client: NsProcess;

before(
  async () => {
    if (SKIP) return;
    chain = await startChain(cleanup);
    ({ lan, client } = await startRouter(cleanup, chain, { transparentPort: T_PORT, dnsPort: DNS_PORT }));
  },
  { timeout: 120_000 },
);
after(() => cleanup.run(), { timeout: 60_000 });

function onLan(argv: string[], timeoutMs = 60_000): Promise<Fetch> {
  return streamInNs(lan.ns, argv, timeoutMs).done;
}

describe('router mode: a LAN host with no proxy settings, through the transparent and DNS ports', () => {
  test(
    'curl and busybox wget reach a name only the exit resolves; router↔r1 holds no name and no body',
    { skip: SKIP ?? false, timeout: 180_000 },
    async (t) => {
      const wire = await Capture.start(
        cleanup,
        chain.topo,
        'client',
        iface('client', 1),
        path.join(chain.dir, 'wire.pcap'),
      );
      const before = chain.target.peers('http').length;
      const results: [string, Fetch][] = [];
      for (const [what, argv] of [
        ['curl', ['curl', '-q', '-sS', '--max-time', '80', URL_BODY]],
        ['busybox wget', ['busybox', 'wget', '-q', '-O', '-', URL_BODY]],
      ] as const) {
        results.push([what, await onLan([...argv], 90_000)]);
      }
      await wire.stop();
      for (const [what, r] of results) {
        assert.equal(r.code, 0, `${what} failed: ${r.stderr}\nclient: ${client.stderr()}`);
        assert.equal(r.sha256, body.sha256, `${what}: body SHA-256`);
      }
      assert.deepEqual(
        chain.target.peers('http').slice(before),
        [addr('r3', 4), addr('r3', 4)],
        'the target saw r3',
      );
      const pcap = await readPcap(wire.file);
      t.diagnostic(`router↔r1: ${pcap.packets} packets, ${pcap.capturedBytes} bytes`);
      assert.ok(pcap.capturedBytes >= body.bytes.length, 'the bodies crossed the captured link');
      assert.equal(pcap.data.indexOf(Buffer.from('target.test')), -1, 'the capture holds "target.test"');
      assert.deepEqual(new BodyIndex(body.bytes).findRuns(pcap.data), [], 'runs of the body in the capture');
    },
  );

  test(
    "a hard-coded resolver is answered by ett; the LAN host's own UDP and TCP elsewhere get nothing through",
    { skip: SKIP ?? false, timeout: 120_000 },
    async () => {
      const wire = await Capture.start(
        cleanup,
        chain.topo,
        'client',
        iface('client', 1),
        path.join(chain.dir, 'lan-direct.pcap'),
        `host ${lan.addr} or udp`,
      );
      const dig = await lan.exec(
        ['dig', '+short', '+time=3', '+tries=1', '@192.0.2.53', 'target.test', 'A'],
        20_000,
      );
      assert.equal(dig.code, 0, dig.stderr);
      assert.match(dig.stdout.trim(), /^24\d\.\d+\.\d+\.\d+$/, 'a name-table address, from ett');
      const script = [
        'import socket',
        'u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
        `u.sendto(b"x" * 32, ("${addr('r1', 1)}", 4444))`,
        'u.settimeout(2)',
        'try:',
        '  u.recvfrom(64)',
        '  print("udp answered")',
        'except socket.timeout:',
        '  print("udp nothing")',
        's = socket.socket()',
        's.settimeout(20)',
        'try:',
        `  s.connect(("${addr('r1', 1)}", 7000))`,
        '  s.sendall(b"hello")',
        '  print("tcp data:", s.recv(64))',
        'except OSError as e:',
        '  print("tcp refused")',
      ].join('\n');
      const r = await lan.exec(['python3', '-c', script], 60_000);
      await wire.stop();
      assert.equal(r.code, 0, r.stderr);
      // The TCP connection is ett's (redirected): routed as an IP literal through the chain, refused by
      // the exit's policy, so it is reset or closed with nothing from r1.
      assert.match(r.stdout, /^udp nothing\ntcp (refused|data: b'')\n$/);
      const pcap = await readPcap(wire.file);
      assert.equal(pcap.packets, 0, 'packets from the LAN host (or any UDP) on router↔r1');
    },
  );

  test(
    'a connection made straight to the transparent port is refused with a reason; the port goes on',
    { skip: SKIP ?? false, timeout: 120_000 },
    async () => {
      const straight = await lan.exec(
        ['curl', '-q', '-sS', '--max-time', '10', `http://${lan.routerAddr}:${T_PORT}/`],
        20_000,
      );
      assert.notEqual(straight.code, 0, 'curl straight to the transparent port must fail');
      await client.waitForLine(/transparent: \d+ connection\(s\) refused, latest: from .*not redirected/, {
        stderr: true,
      });
      const r = await onLan(['curl', '-q', '-sS', '--max-time', '80', URL_BODY], 90_000);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.sha256, body.sha256);
    },
  );
});
