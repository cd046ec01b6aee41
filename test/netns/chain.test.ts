// A real three-hop chain in network namespaces: client → r1 → r2 → r3 → target, each namespace reaching
// only its neighbours. curl in the client's namespace fetches a 20 MB body through `ett client --via
// S1,S2,S3`; captures on the client↔r1 and r1↔r2 links hold neither the target's name nor any 64-byte
// run of the body, and no DNS packet appears in the client's namespace. Then relay 2 is killed during a
// download (curl must fail, never succeed short) and started again: a new download succeeds through the
// same client process.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Cleanup, sleep, waitFor } from '../support/proc.js';
import { testBody } from '../support/servers.js';
import {
  HTTP_PORT,
  addr,
  iface,
  unavailable,
  upstreamAddr,
  curlIn,
  type NsProcess,
} from '../support/netns.js';
import { BodyIndex, Capture, readPcap } from '../support/netns-capture.js';
import { restartRelay, startChain, startClientIn, type Chain } from '../support/netns-ett.js';

const SKIP = await unavailable();
const cleanup = new Cleanup();
const body = testBody();
const URL_BODY = `http://target.test:${HTTP_PORT}/`;
const URL_PACED = `http://target.test:${HTTP_PORT}/paced`;
const PROXY = '127.0.0.1:1080';
let chain: Chain;
let client: NsProcess;

before(
  async () => {
    if (SKIP) return;
    chain = await startChain(cleanup);
    client = await startClientIn(cleanup, chain, [
      '--key',
      chain.clientKey.file,
      '--listen',
      PROXY,
      '--via',
      chain.via,
    ]);
  },
  { timeout: 60_000 },
);
after(() => cleanup.run(), { timeout: 60_000 });

describe('three-hop chain in network namespaces', () => {
  test(
    'the topology: each namespace routes only to its neighbours; target.test resolves only at r3',
    { skip: SKIP ?? false },
    async () => {
      const { topo } = chain;
      assert.ok(await topo.routes('client', upstreamAddr('r1')), 'client reaches r1');
      assert.ok(!(await topo.routes('client', upstreamAddr('r2'))), 'client has no route to r2');
      assert.ok(!(await topo.routes('client', upstreamAddr('target'))), 'client has no route to the target');
      assert.ok(!(await topo.routes('r1', upstreamAddr('r3'))), 'r1 has no route to r3');
      assert.ok(!(await topo.routes('r2', upstreamAddr('target'))), 'r2 has no route to the target');
      assert.ok(await topo.routes('r3', upstreamAddr('target')), 'r3 reaches the target');
      const atR3 = await topo.exec('r3', ['getent', 'hosts', 'target.test']);
      assert.match(atR3.stdout, /^10\.99\.4\.2\s+target\.test/);
      const atClient = await topo.exec('client', ['getent', 'hosts', 'target.test']);
      assert.notEqual(
        atClient.code,
        0,
        `target.test must not resolve in the client's namespace: ${atClient.stdout}`,
      );
    },
  );

  test(
    '20 MB through the chain; captures hold no name, no body run, no DNS',
    { skip: SKIP ?? false, timeout: 180_000 },
    async (t) => {
      const dir = chain.dir;
      const onClientLink = await Capture.start(
        cleanup,
        chain.topo,
        'client',
        iface('client', 1),
        path.join(dir, 'client-r1.pcap'),
      );
      const onR1Link = await Capture.start(
        cleanup,
        chain.topo,
        'r1',
        iface('r1', 2),
        path.join(dir, 'r1-r2.pcap'),
      );
      const dns = await Capture.start(
        cleanup,
        chain.topo,
        'client',
        'any',
        path.join(dir, 'dns.pcap'),
        'port 53',
      );
      // The control: on the r3↔target link the request and body are in the clear, so the search must find them.
      const onTargetLink = await Capture.start(
        cleanup,
        chain.topo,
        'r3',
        iface('r3', 4),
        path.join(dir, 'r3-t.pcap'),
      );
      const peersBefore = chain.target.peers('http').length;

      const r = await curlIn(chain.topo, 'client', ['--socks5-hostname', PROXY, URL_BODY], 90_000).done;
      const stopped = [
        await onClientLink.stop(),
        await onR1Link.stop(),
        await dns.stop(),
        await onTargetLink.stop(),
      ];

      assert.equal(r.code, 0, `curl failed: ${r.stderr}\nclient: ${client.stderr()}`);
      assert.equal(r.bytes, body.bytes.length, 'body length');
      assert.equal(r.sha256, body.sha256, 'body SHA-256');
      await waitFor(() => chain.target.peers('http').length > peersBefore, 5_000, 'the target logs the peer');
      assert.deepEqual(chain.target.peers('http').slice(peersBefore), [addr('r3', 4)], 'the target saw r3');

      const index = new BodyIndex(body.bytes);
      const name = Buffer.from('target.test');
      for (const [label, file] of [
        ['client↔r1', onClientLink.file],
        ['r1↔r2', onR1Link.file],
      ] as const) {
        const pcap = await readPcap(file);
        const dropped = stopped.find((s) => s.file === file)!.dropped;
        t.diagnostic(
          `${label}: ${pcap.packets} packets, ${pcap.capturedBytes} bytes captured, ${dropped} dropped`,
        );
        assert.ok(
          pcap.capturedBytes >= body.bytes.length,
          `${label}: only ${pcap.capturedBytes} bytes captured (dropped: ${dropped})`,
        );
        assert.equal(pcap.data.indexOf(name), -1, `${label}: the capture holds "target.test"`);
        const leaks = index.findRuns(pcap.data);
        assert.deepEqual(leaks, [], `${label}: the capture holds runs of the body`);
      }
      const control = await readPcap(onTargetLink.file);
      t.diagnostic(
        `r3↔target (control): ${control.packets} packets, ${control.capturedBytes} bytes captured`,
      );
      assert.notEqual(control.data.indexOf(name), -1, 'control: the name is seen in the clear at the exit');
      assert.notDeepEqual(
        index.findRuns(control.data, 64, 1),
        [],
        'control: the body is seen in the clear at the exit',
      );
      const dnsPcap = await readPcap(dns.file);
      t.diagnostic(`port 53 in the client's namespace: ${dnsPcap.packets} packets`);
      assert.equal(dnsPcap.packets, 0, "no DNS packet in the client's namespace");
    },
  );

  test(
    'relay 2 killed mid-download: curl fails; after restart a new download succeeds',
    { skip: SKIP ?? false, timeout: 180_000 },
    async (t) => {
      const r2 = chain.relays.r2;
      const download = curlIn(
        chain.topo,
        'client',
        ['--limit-rate', '2M', '--socks5-hostname', PROXY, URL_PACED],
        90_000,
      );
      let finished = false;
      void download.done.then(() => (finished = true));
      await waitFor(() => download.received() >= 1024 * 1024 || finished, 60_000, 'the download to start');
      if (finished)
        assert.fail(`the download ended before relay 2 was killed: ${(await download.done).stderr}`);
      const atKill = download.received();
      r2.proc.signal('SIGKILL');
      const exit = await r2.proc.exited;
      assert.equal(exit.signal, 'SIGKILL');

      const cut = await download.done;
      t.diagnostic(
        `killed at ${atKill} bytes; curl exit ${cut.code} after ${cut.bytes} bytes: ${cut.stderr.trim()}`,
      );
      assert.notEqual(cut.code, 0, 'curl must not succeed with a cut-off body');
      assert.ok(cut.bytes < body.bytes.length, 'the body was cut');

      await restartRelay(cleanup, chain, 'r2');
      assert.ok(client.alive, 'the same client process goes on');
      let attempts = 0;
      let last;
      while (attempts < 10) {
        attempts++;
        last = await curlIn(chain.topo, 'client', ['--socks5-hostname', PROXY, URL_BODY], 90_000).done;
        if (last.code === 0 && last.sha256 === body.sha256) break;
        await sleep(1_000);
      }
      t.diagnostic(`after the restart: ${attempts} attempt(s)`);
      assert.equal(
        last!.code,
        0,
        `no success after ${attempts} attempts: ${last!.stderr}\n${client.stderr()}`,
      );
      assert.equal(last!.sha256, body.sha256, 'body SHA-256 after the restart');
      assert.ok(client.alive, 'the client was not restarted');
    },
  );
});
