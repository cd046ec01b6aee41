// UDP through a real three-hop chain in network namespaces: PySocks in the client's namespace sends
// datagrams by name (target.test, which resolves only at r3) through `ett client --via S1,S2,S3` to a UDP
// echo server in the target's namespace. Every answer is hash-checked; captures on the client↔r1 and
// r1↔r2 links hold no UDP packet at all, no run of any payload and not the name, while the capture between
// the exit and the target (the control) holds the payloads in the clear.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Cleanup, REPO_ROOT } from '../support/proc.js';
import { iface, unavailable, upstreamAddr, type NsProcess } from '../support/netns.js';
import { Capture, readPcap } from '../support/netns-capture.js';
import { startChain, startClientIn, type Chain } from '../support/netns-ett.js';

const havePySocks = spawnSync('/usr/bin/python3', ['-c', 'import socks'], { timeout: 10_000 }).status === 0;
const SKIP =
  (await unavailable()) ??
  (havePySocks ? null : 'PySocks is not installed (Debian python3-socks; .ci/run installs it)');
const SCRIPT = path.join(REPO_ROOT, 'test', 'udp', 'socks_udp_echo.py');
const ECHO_PORT = 5353;
const COUNT = 40;
const SIZE = 1200;
const cleanup = new Cleanup();
let chain: Chain;

before(
  async () => {
    if (SKIP) return;
    chain = await startChain(cleanup, { exitUdp: true });
    await startClientIn(cleanup, chain, [
      '--key',
      chain.clientKey.file,
      '--listen',
      '127.0.0.1:1080',
      '--via',
      chain.via,
    ]);
    const echo: NsProcess = chain.topo.spawn(cleanup, 'target', [
      process.execPath,
      '-e',
      `const s = require('node:dgram').createSocket('udp4');
       s.on('message', (m, r) => s.send(m, r.port, r.address));
       s.bind(${ECHO_PORT}, ${JSON.stringify(upstreamAddr('target'))}, () => console.log('ready'));`,
    ]);
    await echo.waitForLine(/^ready$/);
  },
  { timeout: 60_000 },
);
after(() => cleanup.run(), { timeout: 60_000 });

/** The payload the script sends as datagram i (sha256 of i, repeated to SIZE bytes). */
function payload(i: number): Buffer {
  const unit = createHash('sha256').update(String(i)).digest();
  return Buffer.concat(Array.from({ length: Math.ceil(SIZE / 32) }, () => unit)).subarray(0, SIZE);
}

describe('UDP through a three-hop chain in network namespaces', () => {
  test(
    'datagrams by name reach the echo and come back intact; no datagram or payload in clear before the exit',
    { skip: SKIP ?? false, timeout: 120_000 },
    async (t) => {
      const dir = chain.dir;
      const caps = {
        'client↔r1': await Capture.start(
          cleanup,
          chain.topo,
          'client',
          iface('client', 1),
          path.join(dir, 'u-client-r1.pcap'),
        ),
        'r1↔r2': await Capture.start(
          cleanup,
          chain.topo,
          'r1',
          iface('r1', 2),
          path.join(dir, 'u-r1-r2.pcap'),
        ),
      };
      const udpOnClient = await Capture.start(
        cleanup,
        chain.topo,
        'client',
        'any',
        path.join(dir, 'u-client-udp.pcap'),
        'udp and not host 127.0.0.1',
      );
      const control = await Capture.start(
        cleanup,
        chain.topo,
        'r3',
        iface('r3', 4),
        path.join(dir, 'u-r3-t.pcap'),
        'udp',
      );
      const r = await chain.topo.exec(
        'client',
        [
          '/usr/bin/python3',
          SCRIPT,
          '127.0.0.1',
          '1080',
          'target.test',
          String(ECHO_PORT),
          String(COUNT),
          String(SIZE),
        ],
        90_000,
      );
      for (const c of [...Object.values(caps), udpOnClient, control]) await c.stop();
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines[lines.length - 1], `answers ${COUNT}`);
      for (let i = 0; i < COUNT; i++) {
        const line = lines.find((l) => l.startsWith(`${i} `));
        assert.ok(line, `answer ${i}`);
        assert.equal(
          line.split(' ')[1],
          createHash('sha256').update(payload(i)).digest('hex'),
          `datagram ${i} intact`,
        );
        assert.equal(line.split(' ')[2], 'target.test', 'the answer comes back under the name sent to');
      }
      const probes = Array.from({ length: COUNT }, (_, i) => payload(i).subarray(100, 164));
      for (const [label, cap] of Object.entries(caps)) {
        const pcap = await readPcap(cap.file);
        t.diagnostic(`${label}: ${pcap.packets} packets, ${pcap.capturedBytes} bytes`);
        assert.ok(pcap.packets > 0, `${label}: the capture saw the link's traffic`);
        assert.equal(pcap.data.indexOf(Buffer.from('target.test')), -1, `${label}: holds the name`);
        for (const [i, p] of probes.entries())
          assert.equal(pcap.data.indexOf(p), -1, `${label}: holds payload ${i}`);
      }
      const udp = await readPcap(udpOnClient.file);
      assert.equal(
        udp.packets,
        0,
        'no UDP packet leaves the client namespace (the datagrams travel inside TLS)',
      );
      const clear = await readPcap(control.file);
      assert.ok(
        clear.packets >= 2 * COUNT,
        `the exit↔target control capture has the datagrams (${clear.packets})`,
      );
      assert.notEqual(clear.data.indexOf(probes[0]!), -1, 'the control capture holds payload 0 in the clear');
    },
  );
});
