// `ett run` with real programs in the namespaces: client → r1 → r2 → r3 → target, where target.test
// resolves only in r3's namespace. curl and python3 run with no proxy settings and no proxy flags; their
// name lookups are answered by ett run (240.0.0.0/4) and the name travels to r3, which resolves it. A
// capture on every interface of the client's namespace must hold no DNS packet.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Cleanup, ETT, waitFor } from '../support/proc.js';
import { testBody } from '../support/servers.js';
import {
  HTTP_PORT,
  addr,
  iface,
  streamIn,
  unavailable,
  type Fetch,
  type RunResult,
} from '../support/netns.js';
import { Capture, readPcap } from '../support/netns-capture.js';
import { startChain, type Chain } from '../support/netns-ett.js';
import { startTarget } from '../support/netns.js';

const SKIP = await unavailable();
const cleanup = new Cleanup();
const body = testBody();
const URL_BODY = `http://target.test:${HTTP_PORT}/`;
let chain: Chain;

before(
  async () => {
    if (SKIP) return;
    chain = await startChain(cleanup);
  },
  { timeout: 60_000 },
);
after(() => cleanup.run(), { timeout: 60_000 });

/** `node bin/ett run --key K --via CHAIN [flags] --`, for the client namespace. */
function ettRunArgv(flags: string[] = []): string[] {
  return [process.execPath, ETT, 'run', '--key', chain.clientKey.file, '--via', chain.via, ...flags, '--'];
}

/** `ett run … -- argv…` in the client namespace; stdout hashed. */
function ettRun(argv: string[], flags: string[] = [], timeoutMs = 90_000): Promise<Fetch> {
  return streamIn(chain.topo, 'client', [...ettRunArgv(flags), ...argv], timeoutMs).done;
}

/** Runs f with a capture of port 53 on every interface of the client namespace; returns the packet count. */
async function dnsPacketsDuring(name: string, f: () => Promise<void>): Promise<number> {
  const file = path.join(chain.dir, `${name}-dns.pcap`);
  const dns = await Capture.start(cleanup, chain.topo, 'client', 'any', file, 'port 53');
  await f();
  await dns.stop();
  return (await readPcap(file)).packets;
}

describe('ett run: unmodified programs through a three-relay chain', () => {
  test(
    'curl http://target.test/ (a name only r3 can resolve): right body, the target sees r3, no DNS packet',
    { skip: SKIP ?? false, timeout: 150_000 },
    async (t) => {
      const before = chain.target.peers('http').length;
      const link = path.join(chain.dir, 'run-client-r1.pcap');
      const onLink = await Capture.start(cleanup, chain.topo, 'client', iface('client', 1), link);
      let r!: Fetch;
      const dns = await dnsPacketsDuring('curl', async () => {
        r = await ettRun(['curl', '-q', '-sS', '--max-time', '80', URL_BODY]);
      });
      await onLink.stop();
      assert.equal(r.code, 0, `ett run curl failed: ${r.stderr}`);
      assert.equal(r.bytes, body.bytes.length);
      assert.equal(r.sha256, body.sha256);
      await waitFor(() => chain.target.peers('http').length > before, 5_000, 'the target logs the peer');
      assert.deepEqual(chain.target.peers('http').slice(before), [addr('r3', 4)], 'the target saw r3');
      assert.equal(dns, 0, 'DNS packets in the client namespace');
      const pcap = await readPcap(link);
      assert.ok(pcap.capturedBytes >= body.bytes.length, 'the body crossed the captured link');
      assert.equal(pcap.data.indexOf(Buffer.from('target.test')), -1, 'the name crossed in the clear');
      t.diagnostic(`curl: ${r.bytes} bytes, sha256 ok; client↔r1 ${pcap.packets} packets, 0 DNS packets`);
    },
  );

  test(
    'curl -6 (an IPv6-only lookup) is carried the same way',
    { skip: SKIP ?? false, timeout: 120_000 },
    async () => {
      const r = await ettRun(['curl', '-6', '-q', '-sS', '--max-time', '80', URL_BODY]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.sha256, body.sha256);
    },
  );

  test('python3 urllib: right body, no DNS packet', { skip: SKIP ?? false, timeout: 150_000 }, async () => {
    const script =
      'import hashlib, urllib.request, sys\n' +
      `data = urllib.request.urlopen(${JSON.stringify(URL_BODY)}, timeout=80).read()\n` +
      'sys.stdout.write(hashlib.sha256(data).hexdigest())\n';
    let r!: RunResult;
    const dns = await dnsPacketsDuring('python', async () => {
      r = await chain.topo.exec('client', [...ettRunArgv(), 'python3', '-c', script], 120_000);
    });
    assert.equal(r.code, 0, `python3 failed: ${r.stderr}`);
    assert.equal(r.stdout.trim(), body.sha256, 'the SHA-256 python computed');
    assert.equal(dns, 0, 'DNS packets in the client namespace');
  });

  test('getent hosts target.test prints an address from 240.0.0.0/4', { skip: SKIP ?? false }, async () => {
    const r = await chain.topo.exec('client', [...ettRunArgv(), 'getent', 'hosts', 'target.test']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^2[45]\d\.\d+\.\d+\.\d+\s+target\.test$/m);
    const m = /^(\d+)\./.exec(r.stdout);
    assert.ok(Number(m![1]) >= 240 && Number(m![1]) <= 255);
  });

  test(
    'a program sending its own DNS query over UDP is refused with a warning; no packet leaves',
    { skip: SKIP ?? false, timeout: 60_000 },
    async () => {
      const script =
        'import socket\n' +
        's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n' +
        `s.sendto(b"\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00", ("${addr('r1', 1)}", 53))\n`;
      let r!: Fetch;
      const dns = await dnsPacketsDuring('udp', async () => {
        r = await ettRun(['python3', '-c', script], [], 40_000);
      });
      assert.notEqual(r.code, 0, 'the send must fail');
      assert.match(r.stderr, /ett run: refused UDP to 10\.99\.1\.2 port 53/);
      assert.match(r.stderr, /PermissionError|Operation not permitted/);
      assert.equal(dns, 0, 'DNS packets in the client namespace');
    },
  );

  test(
    'an IP literal the client cannot route to is carried too (ATYP 1 to the exit)',
    { skip: SKIP ?? false, timeout: 120_000 },
    async () => {
      const before = chain.target.peers('http').length;
      const r = await ettRun([
        'curl',
        '-q',
        '-sS',
        '--max-time',
        '80',
        `http://${addr('target', 4)}:${HTTP_PORT}/`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.sha256, body.sha256);
      await waitFor(() => chain.target.peers('http').length > before, 5_000, 'the target logs the peer');
      assert.deepEqual(chain.target.peers('http').slice(before), [addr('r3', 4)]);
    },
  );

  test(
    '--localnet: a name from /etc/hosts on the local network goes direct; without it, through ett (and r3 refuses)',
    { skip: SKIP ?? false, timeout: 120_000 },
    async () => {
      // local.test is 10.99.1.1 in the client namespace's /etc/hosts: the client's own address.
      const local = await startTarget(cleanup, chain.topo, 'client', addr('client', 1));
      const url = `http://local.test:${HTTP_PORT}/`;
      const direct = await ettRun(
        ['curl', '-q', '-sS', '--max-time', '80', url],
        ['--localnet', '10.99.1.0/24'],
      );
      assert.equal(direct.code, 0, direct.stderr);
      assert.equal(direct.sha256, body.sha256);
      assert.deepEqual(local.peers('http'), [addr('client', 1)], 'connected directly');
      const tunnelled = await ettRun(['curl', '-q', '-sS', '--max-time', '30', url], [], 40_000);
      assert.equal(tunnelled.code, 7, 'r3 may only reach 10.99.4.0/24');
      assert.match(tunnelled.stderr, /ett run: 10\.99\.1\.1:8080: Permission denied \(through ett\)/);
      assert.equal(local.peers('http').length, 1, 'nothing more reached the local server');
    },
  );
});
