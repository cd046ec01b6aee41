// Fault runs through the three-relay chain in network namespaces (client → r1 → r2 → r3 → target).
// A load program in the client's namespace keeps many streams going through the client's SOCKS5 port
// (node SOCKS5/HTTP fetches and some curl), each body checked against its known SHA-256, while faults are
// injected one after another:
//   rst-exit   a TCP RST into one running r3→target connection (nftables `reject with tcp reset`)
//   rst-link   a TCP RST into a chain link (client↔r1, r1↔r2, r2↔r3), to either end
//   loss       5-50 % random loss on one link for 250 ms (nftables `numgen random`)
//   stop       a relay stopped (SIGSTOP) for 0.1-4.5 s, then resumed (SIGCONT)
//   kill       a relay killed (SIGKILL) and started again with the same key and address
//   blackhole  every packet of the r1↔r2 link dropped for 30 s
// A RST counts only if nftables' counter shows it was sent. Every stream must end ok (whole body, right
// SHA-256, clean end) or fail loudly at the application (reset, error, SOCKS refusal, non-zero curl exit);
// none may end cleanly with a short or wrong body, and none may hang past its 60 s deadline. After each
// fault clears, a new fetch must succeed within 5 s (retried inside that window; attempts are counted).
// tcpdump on the client↔r1 link holds no 64-byte run of any body; nothing leaves on port 53.
//
// The client runs with ping_interval_ms = 1000 and ping_timeout_ms = 3000 (defaults 15000/10000), so a
// stopped relay or a blackholed link is found dead within about 4 s, not 25 s.
// ETT_FAULTS_LONG=1 runs four times as many faults and three 30 s blackholes (one per chain link).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { Cleanup, sleep } from '../support/proc.js';
import { testBody } from '../support/servers.js';
import { HOSTS, HTTP_PORT, iface, unavailable, type Host, type NsProcess } from '../support/netns.js';
import { BodyIndex, Capture, readPcap } from '../support/netns-capture.js';
import { LARGEST_BODY } from '../support/fault-load.js';
import { startChain, startClientIn, writeClientConfig, type Chain } from '../support/netns-ett.js';
import { NsFirewall, nftUnavailable } from '../support/nft.js';
import {
  LoadDriver,
  addProbe,
  addTally,
  newReport,
  scanFile,
  summaryLine,
  topReasons,
  type KindReport,
} from '../support/fault-driver.js';
import {
  blackholeLink,
  killRelay,
  lossEpisode,
  rstExit,
  rstLink,
  stopRelay,
  type FaultRig,
  type Injection,
} from '../support/faults.js';

const SKIP = (await unavailable()) ?? (await nftUnavailable());
const LONG = process.env.ETT_FAULTS_LONG === '1';
const X = LONG ? 4 : 1;
const PLAN = {
  rstExit: 220 * X,
  rstLink: 60 * X,
  loss: 120 * X,
  stop: 90 * X,
  kill: 12 * X,
  blackholeLinks: LONG ? [1, 2, 3] : [2],
};
const MIN_TOTAL = 500;
const SOCKS_PORT = 1080;
const WORKERS = 24;
const CURL_EVERY = 8;
// Mostly shorter than the PING deadline (streams stall, then go on); one in ten longer (the link dies).
const STOP_MS = [100, 200, 300, 600, 100, 200, 300, 1000, 4500, 150];
const LOSS_PERCENT = [5, 10, 20, 30, 50];
const RELAYS = ['r1', 'r2', 'r3'] as const;

const cleanup = new Cleanup();
const body = testBody();
const reports: KindReport[] = [];
let chain: Chain;
let client: NsProcess;
let load: LoadDriver;
let rig: FaultRig;
let dns: Capture;
let index: BodyIndex;

before(
  async () => {
    if (SKIP) return;
    chain = await startChain(cleanup);
    const config = await writeClientConfig(
      chain,
      'faults',
      [`listen = "127.0.0.1:${SOCKS_PORT}"`, 'via = ["r1", "r2", "r3"]'],
      ['[limits]', 'ping_interval_ms = 1000', 'ping_timeout_ms = 3000'],
    );
    client = await startClientIn(cleanup, chain, ['--config', config]);
    const fw = {} as Record<Host, NsFirewall>;
    for (const h of HOSTS) fw[h] = await NsFirewall.create(chain.topo, h);
    rig = { cleanup, chain, fw };
    dns = await Capture.start(
      cleanup,
      chain.topo,
      'client',
      'any',
      path.join(chain.dir, 'dns.pcap'),
      'port 53',
    );
    load = await LoadDriver.start(cleanup, chain.topo, {
      socksPort: SOCKS_PORT,
      host: 'target.test',
      port: HTTP_PORT,
      dir: chain.dir,
      workers: WORKERS,
      curlEvery: CURL_EVERY,
    });
    // Every body moved is a prefix of the test body of at most LARGEST_BODY bytes: that is what to look for.
    index = new BodyIndex(body.bytes.subarray(0, LARGEST_BODY));
    // The search finds what it must (a control): a 64-byte run of a body among random bytes.
    const hay = randomBytes(1 << 20);
    body.bytes.copy(hay, 4321, 100_001, 100_065);
    // The bytes either side differ from the body's, so the run is exactly these 64 (random neighbours
    // would extend it one time in ~128).
    hay[4320] = body.bytes[100_000]! ^ 0xff;
    hay[4385] = body.bytes[100_065]! ^ 0xff;
    const control = index.findRuns(hay);
    assert.deepEqual(
      control,
      [{ at: 4321, bodyOffset: 100_001, length: 64 }],
      'the body search finds a planted run',
    );
  },
  { timeout: 120_000 },
);
after(() => cleanup.run(), { timeout: 120_000 });

/**
 * One fault kind: the load runs, `count` faults are injected by `inject(i)` (each cleared when it
 * returns) and each is followed by a recovery fetch; then the load is drained, its streams tallied, and
 * the capture of the client↔r1 link searched. Attempts where the fault did not happen are retried
 * (at most `count` extra) and reported as missed.
 */
async function runKind(
  t: TestContext,
  kind: string,
  count: number,
  inject: (i: number) => Promise<Injection>,
  settleMs = 0,
): Promise<KindReport> {
  const report = newReport(kind);
  reports.push(report);
  const capture = await Capture.start(
    cleanup,
    chain.topo,
    'client',
    iface('client', 1),
    path.join(chain.dir, `${kind}.pcap`),
  );
  await load.resume();
  await sleep(500); // streams in flight before the first fault
  for (let i = 0; report.injected < count && i < count * 2; i++) {
    if (settleMs > 0) await sleep(settleMs);
    const inj = await inject(i);
    if (!inj.happened) {
      report.missed++;
      continue;
    }
    report.injected++;
    report.packets += inj.packets;
    // The fault is cleared: a new fetch must succeed within 5 s (node and curl in turn).
    addProbe(report, await load.probe(i % 2 === 0 ? 'node' : 'curl', 5_000), inj.detail);
  }
  await load.pause();
  addTally(report, await load.take());
  const stopped = await capture.stop();
  const scan = await scanFile(capture.file, index);
  await fs.rm(capture.file, { force: true });

  t.diagnostic(summaryLine(report));
  t.diagnostic(`${kind}: loud failures: ${topReasons(report) || 'none'}`);
  t.diagnostic(
    `${kind}: client↔r1 capture ${scan.bytes} bytes (tcpdump dropped ${stopped.dropped}), bodies ${report.bodyBytes} bytes`,
  );
  assert.equal(report.injected, count, `${kind}: only ${report.injected} of ${count} faults happened`);
  assert.deepEqual(report.bad, [], `${kind}: streams corrupted, truncated or stalled`);
  assert.equal(report.streams.corrupt + report.streams.truncated + report.streams.stalled, 0);
  assert.deepEqual(report.failedRecoveries, [], `${kind}: recoveries that failed`);
  assert.equal(report.recoveredIn5s, count, `${kind}: recoveries within 5 s`);
  assert.ok(report.streams.ok > 0, `${kind}: no stream completed at all`);
  assert.ok(report.curl > 0, `${kind}: no curl fetch ran`);
  assert.ok(scan.bytes >= report.bodyBytes, `${kind}: the capture holds less than the bodies moved`);
  assert.deepEqual(scan.leaks, [], `${kind}: the client↔r1 capture holds runs of a body`);
  for (const h of HOSTS) assert.deepEqual(await rig.fw[h].rules(), [], `${kind}: rules left in ${h}`);
  assert.ok(client.alive, `${kind}: the client died: ${client.stderr()}`);
  for (const r of RELAYS) assert.ok(chain.relays[r].proc.alive, `${kind}: relay ${r} died`);
  return report;
}

describe('fault runs through the three-relay chain', { skip: SKIP ?? false }, () => {
  test('rst-exit: a RST into one running exit connection', { timeout: 600_000 }, async (t) => {
    const tried = new Set<number>();
    await runKind(t, 'rst-exit', PLAN.rstExit, (i) => rstExit(rig, i, tried));
  });

  test('rst-link: a RST into a chain link, either end', { timeout: 600_000 }, async (t) => {
    await runKind(t, 'rst-link', PLAN.rstLink, (i) => rstLink(rig, 1 + (i % 3), i % 2 === 0), 100);
  });

  test('loss: random loss on one link for 250 ms', { timeout: 600_000 }, async (t) => {
    await runKind(t, 'loss', PLAN.loss, (i) =>
      lossEpisode(rig, 1 + (i % 4), LOSS_PERCENT[i % LOSS_PERCENT.length]!, 250),
    );
  });

  test('stop: a relay stopped (SIGSTOP) and resumed (SIGCONT)', { timeout: 900_000 }, async (t) => {
    await runKind(t, 'stop', PLAN.stop, (i) => stopRelay(rig, RELAYS[i % 3]!, STOP_MS[i % STOP_MS.length]!));
  });

  test('kill: a relay killed (SIGKILL) and restarted', { timeout: 600_000 }, async (t) => {
    await runKind(t, 'kill', PLAN.kill, (i) => killRelay(rig, RELAYS[i % 3]!), 300);
  });

  test('blackhole: a chain link drops everything for 30 s', { timeout: 600_000 }, async (t) => {
    const links = PLAN.blackholeLinks;
    await runKind(t, 'blackhole', links.length, (i) => blackholeLink(rig, links[i]!, 30_000));
  });

  test('totals, and no DNS in the client namespace', async (t) => {
    for (const r of reports) t.diagnostic(summaryLine(r));
    const sum = (f: (r: KindReport) => number): number => reports.reduce((a, r) => a + f(r), 0);
    const total = sum((r) => r.injected);
    t.diagnostic(
      `faults total: injected=${total} streams ok=${sum((r) => r.streams.ok)} ` +
        `failed-loudly=${sum((r) => r.streams.loud)} corrupted=${sum((r) => r.streams.corrupt)} ` +
        `truncated-silently=${sum((r) => r.streams.truncated)} stalled=${sum((r) => r.streams.stalled)} ` +
        `recovered-within-5s=${sum((r) => r.recoveredIn5s)}/${sum((r) => r.recoveries)}`,
    );
    assert.equal(reports.length, 6, 'every fault kind ran');
    assert.ok(total >= MIN_TOTAL, `${total} faults injected, want at least ${MIN_TOTAL}`);
    await dns.stop();
    const pcap = await readPcap(dns.file);
    t.diagnostic(`port 53 in the client's namespace: ${pcap.packets} packets`);
    assert.equal(pcap.packets, 0, "no DNS packet in the client's namespace");
  });
});
