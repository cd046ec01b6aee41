// Machine mode: the client's namespace stands for a whole machine. `ett client --transparent
// localhost:… --dns localhost:…` runs as root, under the rules `ett transparent-rules --uid-exclude
// root` prints; programs of another user (nobody), with no proxy settings, reach target.test (a name
// only r3 resolves) through the three-relay chain, their DNS answered by ett; their UDP off the machine
// is refused at the socket; on the machine's link to r1 no DNS packet, no UDP and no name appear.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadAddon } from '../../src/run/native.js';
import { Cleanup, ETT } from '../support/proc.js';
import { testBody } from '../support/servers.js';
import { HTTP_PORT, addr, iface, run, streamIn, unavailable, type NsProcess } from '../support/netns.js';
import { Capture, readPcap } from '../support/netns-capture.js';
import { startChain, startClientIn, type Chain } from '../support/netns-ett.js';
import { nftUnavailable } from '../support/nft.js';

const addon = await loadAddon('ett client --transparent');
const SKIP = (await unavailable()) ?? (await nftUnavailable()) ?? ('why' in addon ? addon.why : null);
const cleanup = new Cleanup();
const body = testBody();
const URL_BODY = `http://target.test:${HTTP_PORT}/`;
const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'];
let chain: Chain;
let client: NsProcess;

before(
  async () => {
    if (SKIP) return;
    chain = await startChain(cleanup);
    // A machine has a default route (IPv4 only here: a program's IPv6 attempt fails at once and it
    // falls back); under the rules nothing but ett's own links takes it.
    const route = await chain.topo.exec('client', ['ip', 'route', 'add', 'default', 'via', addr('r1', 1)]);
    assert.equal(route.code, 0, route.stderr);
    // The machine's resolver is the usual loopback one: every port 53 is ett's under the rules.
    writeFileSync(`/etc/netns/${chain.topo.ns.client}/resolv.conf`, 'nameserver 127.0.0.53\n');
    const rules = await run(process.execPath, [
      ETT,
      'transparent-rules',
      '--transparent',
      '9040',
      '--dns',
      '5353',
      '--uid-exclude',
      'root',
    ]);
    assert.equal(rules.code, 0, rules.stderr);
    const file = path.join(chain.dir, 'machine.nft');
    writeFileSync(file, rules.stdout);
    const applied = await chain.topo.exec('client', ['nft', '-f', file]);
    assert.equal(applied.code, 0, `nft -f: ${applied.stderr}`);
    client = await startClientIn(cleanup, chain, [
      '--key',
      chain.clientKey.file,
      '--via',
      chain.via,
      '--listen',
      '127.0.0.1:0',
      '--transparent',
      'localhost:9040',
      '--dns',
      'localhost:5353',
    ]);
    await client.waitForLine(/DNS port on \[::1\]:5353/);
  },
  { timeout: 120_000 },
);
after(() => cleanup.run(), { timeout: 60_000 });

describe('machine mode: every program of another user, through the transparent and DNS ports', () => {
  test(
    "curl as nobody, no proxy settings: the right body; no DNS, UDP or name on the machine's link",
    { skip: SKIP ?? false, timeout: 150_000 },
    async () => {
      const wire = await Capture.start(
        cleanup,
        chain.topo,
        'client',
        iface('client', 1),
        path.join(chain.dir, 'machine.pcap'),
      );
      const before = chain.target.peers('http').length;
      const r = await streamIn(
        chain.topo,
        'client',
        [...AS_NOBODY, 'curl', '-q', '-sS', '--max-time', '80', URL_BODY],
        90_000,
      ).done;
      const script = [
        'import socket',
        'u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
        'try:',
        `  u.sendto(b"x" * 32, ("${addr('r1', 1)}", 4444))`,
        '  print("sent")',
        'except PermissionError:',
        '  print("refused")',
      ].join('\n');
      const udp = await chain.topo.exec('client', [...AS_NOBODY, '/usr/bin/python3', '-c', script]);
      await wire.stop();
      assert.equal(r.code, 0, `curl failed: ${r.stderr}\nclient: ${client.stderr()}`);
      assert.equal(r.sha256, body.sha256, 'body SHA-256');
      assert.deepEqual(chain.target.peers('http').slice(before), [addr('r3', 4)], 'the target saw r3');
      assert.equal(udp.stdout, 'refused\n', udp.stderr);
      const pcap = await readPcap(wire.file);
      assert.ok(pcap.capturedBytes >= body.bytes.length, "the body crossed the machine's link, sealed");
      assert.equal(pcap.data.indexOf(Buffer.from('target.test')), -1, 'the capture holds "target.test"');
      const dns = await chain.topo.exec('client', ['tcpdump', '-n', '-r', wire.file, 'port 53 or udp']);
      assert.equal(dns.stdout.trim(), '', 'DNS or UDP packets on the link');
    },
  );
});
