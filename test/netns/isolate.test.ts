// `ett run --isolate` with real programs that the preload library cannot carry: busybox-static's wget
// (a static binary) and a Go program built with CGO_ENABLED=0 (Go's own resolver), beside curl, through
// one relay (r1 as the exit, to near.test, a name only r1 can resolve) and through the three-relay chain
// (to target.test, a name only r3 can resolve). A capture on every interface of the
// client's namespace (where ett runs) holds no DNS packet; a program sending UDP where the exit carries
// none, or asking a hard-coded resolver, gets nothing out in the clear (UDP that the exit does carry:
// isolate-udp.test.ts).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { findIsolateHelper, loadAddon } from '../../src/run/native.js';
import { Cleanup, ETT } from '../support/proc.js';
import { testBody } from '../support/servers.js';
import { HTTP_PORT, addr, streamIn, unavailable, type Fetch, type RunResult } from '../support/netns.js';
import { Capture, readPcap } from '../support/netns-capture.js';
import { startChain, type Chain } from '../support/netns-ett.js';

const addon = await loadAddon('ett run --isolate');
const helper = await findIsolateHelper();
const SKIP =
  (await unavailable()) ??
  ('why' in addon ? addon.why : 'why' in helper ? helper.why : null) ??
  (spawnSync('busybox', ['true']).status !== 0 ? 'busybox (Debian busybox-static) is not installed' : null);
const haveGo = spawnSync('go', ['version'], { timeout: 20_000 }).status === 0;
const cleanup = new Cleanup();
const body = testBody();
let chain: Chain;

/** The two circuits: their --via, the URL by a name only their exit resolves, the server and the peer it sees. */
const CIRCUITS = [
  {
    what: 'one relay',
    via: () => chain.relays.r1.share,
    url: `http://near.test:${HTTP_PORT}/`,
    server: () => chain.near!,
    exitAddr: addr('r1', 2),
  },
  {
    what: 'a three-relay chain',
    via: () => chain.via,
    url: `http://target.test:${HTTP_PORT}/`,
    server: () => chain.target,
    exitAddr: addr('r3', 4),
  },
] as const;
let goProgram = '';

const GO_SOURCE = `package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	r, err := http.Get(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	h := sha256.New()
	io.Copy(h, r.Body)
	fmt.Printf("%x", h.Sum(nil))
}
`;

before(
  async () => {
    if (SKIP) return;
    chain = await startChain(cleanup, { near: true });
    if (haveGo) {
      const dir = path.join(chain.dir, 'go');
      spawnSync('mkdir', ['-p', dir]);
      writeFileSync(path.join(dir, 'main.go'), GO_SOURCE);
      writeFileSync(path.join(dir, 'go.mod'), 'module fetch\n\ngo 1.19\n');
      const b = spawnSync('go', ['build', '-o', 'fetch', '.'], {
        cwd: dir,
        env: {
          ...process.env,
          CGO_ENABLED: '0',
          GOFLAGS: '-mod=mod',
          GOCACHE: path.join(dir, 'cache'),
          GOPATH: path.join(dir, 'gopath'),
          GOPROXY: 'off',
        },
        encoding: 'utf8',
        timeout: 240_000,
      });
      assert.equal(b.status, 0, `go build failed: ${b.stderr}`);
      goProgram = path.join(dir, 'fetch');
    }
  },
  { timeout: 300_000 },
);
after(() => cleanup.run(), { timeout: 60_000 });

function isolated(argv: string[], via = chain.via, timeoutMs = 90_000): Promise<Fetch> {
  return streamIn(chain.topo, 'client', isolatedArgv(argv, via), timeoutMs).done;
}

function isolatedArgv(argv: string[], via = chain.via): string[] {
  return [
    process.execPath,
    ETT,
    'run',
    '--isolate',
    '--key',
    chain.clientKey.file,
    '--via',
    via,
    '--',
    ...argv,
  ];
}

/** Runs f with a capture of every interface of the client namespace; returns its DNS and UDP packet counts. */
async function packetsDuring(name: string, f: () => Promise<void>): Promise<{ dns: number; udp: number }> {
  const dnsFile = path.join(chain.dir, `${name}-dns.pcap`);
  const udpFile = path.join(chain.dir, `${name}-udp.pcap`);
  const dns = await Capture.start(cleanup, chain.topo, 'client', 'any', dnsFile, 'port 53');
  const udp = await Capture.start(cleanup, chain.topo, 'client', 'any', udpFile, 'udp');
  await f();
  await dns.stop();
  await udp.stop();
  return { dns: (await readPcap(dnsFile)).packets, udp: (await readPcap(udpFile)).packets };
}

describe('ett run --isolate: any binary through one relay and a three-relay chain, nothing else out', () => {
  for (const c of CIRCUITS) {
    for (const [what, argv] of [
      ['curl', () => ['curl', '-q', '-sS', '--max-time', '80', c.url]],
      ['busybox wget (static)', () => ['busybox', 'wget', '-q', '-O', '-', c.url]],
    ] as const) {
      test(
        `${what} through ${c.what}: the right body, the server sees the exit, no DNS packet`,
        { skip: SKIP ?? false, timeout: 150_000 },
        async () => {
          const server = c.server();
          const before = server.peers('http').length;
          let r!: Fetch;
          const seen = await packetsDuring(what.split(' ')[0]!, async () => {
            r = await isolated(argv(), c.via());
          });
          assert.equal(r.code, 0, `${what} failed: ${r.stderr}`);
          assert.equal(r.sha256, body.sha256);
          assert.deepEqual(server.peers('http').slice(before), [c.exitAddr], 'the server saw the exit');
          assert.equal(seen.dns, 0, 'DNS packets in the client namespace');
          assert.equal(seen.udp, 0, 'UDP packets in the client namespace');
        },
      );
    }

    test(
      `a Go program (CGO_ENABLED=0, its own resolver) through ${c.what}: the right body, no DNS packet`,
      { skip: SKIP ?? (haveGo ? false : 'go (Debian golang-go) is not installed'), timeout: 150_000 },
      async () => {
        const server = c.server();
        const before = server.peers('http').length;
        let r!: RunResult;
        const seen = await packetsDuring('go', async () => {
          r = await chain.topo.exec('client', isolatedArgv([goProgram, c.url], c.via()), 120_000);
        });
        assert.equal(r.code, 0, `the Go program failed: ${r.stderr}`);
        assert.equal(r.stdout, body.sha256, 'the SHA-256 the Go program computed');
        assert.deepEqual(server.peers('http').slice(before), [c.exitAddr], 'the server saw the exit');
        assert.equal(seen.dns, 0, 'DNS packets in the client namespace');
      },
    );
  }

  test(
    'UDP where the exit carries none gets nothing back, a hard-coded resolver is answered by ett: nothing out in clear',
    { skip: SKIP ?? false, timeout: 90_000 },
    async () => {
      const script = [
        'import socket',
        'u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
        // Into ett, whose exit (r3) carries no UDP in this chain: nothing comes back.
        `u.sendto(b"x" * 32, ("${addr('r1', 1)}", 4444))`,
        'u.settimeout(2)',
        'try:',
        '  u.recvfrom(64)',
        '  print("answered")',
        'except socket.timeout:',
        '  print("nothing")',
        `u.sendto(b"\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x06target\\x04test\\x00\\x00\\x01\\x00\\x01", ("8.8.8.8", 53))`,
        'u.settimeout(5)',
        'print(len(u.recvfrom(512)[0]) > 12)',
      ].join('\n');
      let r!: RunResult;
      const seen = await packetsDuring('udp', async () => {
        r = await chain.topo.exec('client', isolatedArgv(['python3', '-c', script]), 60_000);
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.stdout,
        'nothing\nTrue\n',
        'UDP to r1 got nothing back; the hard-coded resolver answered by ett itself',
      );
      assert.equal(seen.dns, 0, 'DNS packets in the client namespace');
      assert.equal(seen.udp, 0, 'UDP packets in the client namespace');
    },
  );
});
