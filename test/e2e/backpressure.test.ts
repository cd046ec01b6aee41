// A reader that never reads (issue 4): a target offers 1 GiB to an application that connected through the
// tunnel and then stopped reading. Back-pressure must reach the target (it cannot push the gigabyte), the
// client's and the relay's resident size must stay within a stated bound, and another stream on the same
// link must still move 64 MiB intact. Real bin/ett client and relay on loopback; this process plays the
// target and the applications.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { after, before, test } from 'node:test';
import { Cleanup, sleep, startTunnel, statusMiB, withDeadline, type Tunnel } from '../support/proc.js';
import { seededBytes, sha256 } from '../support/servers.js';
import { socks5Raw } from '../support/socks.js';

const MiB = 1024 * 1024;
const OFFER = 1024 * MiB; // what the target tries to push to the reader that never reads
const BULK = 64 * MiB; // what the other stream moves meanwhile
// The bound on each daemon's resident size: its RSS once the link is up, plus 64 MiB. That is what ett
// lets one link buffer at most (linkBufferedMax: received, not yet consumed), and far more than one
// stalled stream may hold (its window, 256 KiB here since it never read). If the stall were buffered
// instead of pushed back, 1 GiB would be on offer and the bound would be crossed many times over.
const BUFFERED_MAX_MIB = 64;

const cleanup = new Cleanup();
let tunnel: Tunnel;
let targetPort: number;
const bulkBody = seededBytes(BULK, 'ett-backpressure-bulk');
let stalledAccepted = 0; // bytes the stalled connection's socket took from the target
let stalledSocket: net.Socket | undefined;

before(async () => {
  // The target, by the first byte it reads: 'S' offers 1 GiB (64 KiB writes, each only after the
  // previous one was taken), anything else gets the bulk body. Each then ends.
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => s.destroy());
    s.once('data', (first: Buffer) => {
      if (first[0] === 0x53) {
        stalledSocket = s;
        const block = Buffer.alloc(64 * 1024, 0x61);
        const pump = (): void => {
          while (stalledAccepted < OFFER) {
            stalledAccepted += block.length;
            if (!s.write(block)) return void s.once('drain', pump);
          }
          s.end();
        };
        pump();
      } else s.end(bulkBody);
    });
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  cleanup.add(
    () =>
      new Promise<void>((resolve) => {
        stalledSocket?.destroy();
        server.close(() => resolve());
      }),
  );
  targetPort = (server.address() as net.AddressInfo).port;
  tunnel = await startTunnel(cleanup, { exit: [`accept 127.0.0.1:${targetPort}`] });
});

after(() => cleanup.run());

/** The most loopback TCP may hold in one connection's kernel buffers (send + receive, autotuned maxima). */
function kernelBufferMax(): number {
  const max = (f: string): number => Number(readFileSync(f, 'utf8').trim().split(/\s+/)[2]);
  return max('/proc/sys/net/ipv4/tcp_rmem') + max('/proc/sys/net/ipv4/tcp_wmem');
}

test(
  'a reader that never reads: back-pressure reaches the target, RSS stays bounded, another stream flows',
  { timeout: 240_000 },
  async () => {
    const pids = { client: tunnel.client.proc.pid, relay: tunnel.relay.proc.pid };
    // Warm-up: the link is built on first use, and a first bulk transfer grows each daemon's heap to
    // its working size (V8's young generation alone takes 32 MiB under load). Both belong to the
    // baseline: what the bound is about is what the stall makes them buffer.
    const warm = await socks5Raw(tunnel.client.port, targetPort);
    warm.end('B');
    warm.resume();
    await withDeadline(new Promise((r) => warm.once('end', r)), 120_000, 'warm-up transfer');
    warm.destroy();
    await sleep(300);
    const base = { client: statusMiB(pids.client, 'VmRSS'), relay: statusMiB(pids.relay, 'VmRSS') };
    const bound = { client: base.client + BUFFERED_MAX_MIB, relay: base.relay + BUFFERED_MAX_MIB };
    const peak = { ...base };
    const sample = (): void => {
      peak.client = Math.max(peak.client, statusMiB(pids.client, 'VmRSS'));
      peak.relay = Math.max(peak.relay, statusMiB(pids.relay, 'VmRSS'));
    };

    // 1. The stalled reader: asks for the gigabyte, then never reads.
    const stalled = await socks5Raw(tunnel.client.port, targetPort);
    cleanup.add(() => void stalled.destroy());
    let stalledError: Error | undefined;
    stalled.on('error', (err) => (stalledError = err));
    stalled.write('S');
    // The target writes until its socket refuses; wait until its count has not moved for 2 s.
    let last = -1;
    let still = 0;
    for (let i = 0; i < 240 && still < 8; i++) {
      await sleep(250);
      sample();
      still = stalledAccepted === last && stalledAccepted > 0 ? still + 1 : 0;
      last = stalledAccepted;
    }
    assert.ok(still >= 8, `the target never stopped: ${stalledAccepted} bytes taken`);
    const blockedAt = stalledAccepted;
    const stallPeak = { ...peak };

    // 2. Meanwhile another stream on the same link moves 64 MiB, hash-checked.
    const sampler = setInterval(sample, 250);
    const t0 = process.hrtime.bigint();
    const bulk = await socks5Raw(tunnel.client.port, targetPort);
    const hash = createHash('sha256');
    let got = 0;
    bulk.on('data', (c: Buffer) => {
      hash.update(c);
      got += c.length;
    });
    bulk.write('B');
    bulk.resume();
    try {
      await withDeadline(
        new Promise<void>((resolve, reject) => {
          bulk.once('end', resolve);
          bulk.once('error', reject);
        }),
        180_000,
        `64 MiB on the other stream (${got} bytes so far)`,
      );
    } finally {
      clearInterval(sampler);
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    bulk.destroy();
    sample();
    const hwm = { client: statusMiB(pids.client, 'VmHWM'), relay: statusMiB(pids.relay, 'VmHWM') };

    const kernel = kernelBufferMax();
    // Windows and queues ett may hold for the stalled stream (stream window, its Readable and Writable
    // high-water marks, the link's write batch): far under 16 MiB, which is stated as the slack.
    const acceptedBound = 2 * kernel + 16 * MiB;
    console.log(
      `target offered ${OFFER / MiB} MiB; its socket took ${(blockedAt / MiB).toFixed(1)} MiB before blocking ` +
        `(bound: 2 connections x ${(kernel / MiB).toFixed(0)} MiB kernel buffers + 16 MiB = ${(acceptedBound / MiB).toFixed(0)} MiB)`,
    );
    console.log(
      `other stream: ${got / MiB} MiB in ${secs.toFixed(1)} s (${(got / MiB / secs).toFixed(0)} MiB/s), sha256 ${got === BULK ? 'checked' : 'n/a'}`,
    );
    for (const who of ['client', 'relay'] as const) {
      console.log(
        `${who}: RSS at start ${base[who].toFixed(0)} MiB, peak while stalled ${stallPeak[who].toFixed(0)} MiB, ` +
          `with the other stream ${peak[who].toFixed(0)} MiB, ` +
          `VmHWM ${hwm[who].toFixed(0)} MiB, bound ${bound[who].toFixed(0)} MiB (start + ${BUFFERED_MAX_MIB} MiB)`,
      );
    }

    assert.equal(got, BULK);
    assert.equal(hash.digest('hex'), sha256(bulkBody));
    assert.ok(blockedAt < OFFER, 'the target pushed the whole gigabyte: no back-pressure');
    assert.ok(blockedAt <= acceptedBound, `the target pushed ${blockedAt} bytes > ${acceptedBound}`);
    // The stall held: the target is still blocked where it was, and the stream was not reset.
    assert.ok(stalledAccepted - blockedAt <= 1 * MiB, `the stalled stream moved on: ${stalledAccepted}`);
    assert.equal(stalledError, undefined);
    assert.equal(stalled.destroyed, false);
    for (const who of ['client', 'relay'] as const) {
      assert.ok(peak[who] <= bound[who], `${who} RSS peaked at ${peak[who].toFixed(0)} MiB > ${bound[who]}`);
      assert.ok(hwm[who] <= bound[who], `${who} VmHWM ${hwm[who].toFixed(0)} MiB > ${bound[who]}`);
    }

    // 3. The stalled stream is intact, not wedged: once its reader reads, the bytes flow again.
    let more = 0;
    stalled.on('data', (c: Buffer) => (more += c.length));
    stalled.resume();
    const flowing = stalledAccepted;
    for (let i = 0; i < 200 && stalledAccepted - flowing < 8 * MiB; i++) await sleep(50);
    assert.ok(stalledAccepted - flowing >= 8 * MiB, `the stalled stream did not resume (${more} bytes read)`);
    stalled.destroy();
  },
);
