// `ett run --isolate` with real programs that the preload library cannot carry: busybox-static's wget
// (a static binary) and a Go program built with CGO_ENABLED=0 (Go's own resolver), beside curl, through
// the three-relay chain to target.test, a name only r3 can resolve. A capture on every interface of the
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
const URL_BODY = `http://target.test:${HTTP_PORT}/`;
let chain: Chain;
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
    chain = await startChain(cleanup);
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

function isolated(argv: string[], timeoutMs = 90_000): Promise<Fetch> {
  return streamIn(chain.topo, 'client', isolatedArgv(argv), timeoutMs).done;
}

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

describe('ett run --isolate: any binary through a three-relay chain, nothing else out', () => {
  for (const [what, argv] of [
    ['curl', () => ['curl', '-q', '-sS', '--max-time', '80', URL_BODY]],
    ['busybox wget (static)', () => ['busybox', 'wget', '-q', '-O', '-', URL_BODY]],
  ] as const) {
    test(
      `${what}: the right body, the target sees r3, no DNS packet`,
      { skip: SKIP ?? false, timeout: 150_000 },
      async () => {
        const before = chain.target.peers('http').length;
        let r!: Fetch;
        const seen = await packetsDuring(what.split(' ')[0]!, async () => {
          r = await isolated(argv());
        });
        assert.equal(r.code, 0, `${what} failed: ${r.stderr}`);
        assert.equal(r.sha256, body.sha256);
        assert.deepEqual(chain.target.peers('http').slice(before), [addr('r3', 4)], 'the target saw r3');
        assert.equal(seen.dns, 0, 'DNS packets in the client namespace');
        assert.equal(seen.udp, 0, 'UDP packets in the client namespace');
      },
    );
  }

  test(
    'a Go program (CGO_ENABLED=0, its own resolver): the right body, no DNS packet',
    { skip: SKIP ?? (haveGo ? false : 'go (Debian golang-go) is not installed'), timeout: 150_000 },
    async () => {
      let r!: RunResult;
      const seen = await packetsDuring('go', async () => {
        r = await chain.topo.exec('client', isolatedArgv([goProgram, URL_BODY]), 120_000);
      });
      assert.equal(r.code, 0, `the Go program failed: ${r.stderr}`);
      assert.equal(r.stdout, body.sha256, 'the SHA-256 the Go program computed');
      assert.equal(seen.dns, 0, 'DNS packets in the client namespace');
    },
  );

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
