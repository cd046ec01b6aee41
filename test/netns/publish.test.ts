// Publishing a local service through a relay (ssh -R) across real namespaces. The services run in the
// client's namespace on 127.0.0.1, which no other namespace can reach: the test's HTTP/hash server and
// an OpenSSH sshd. Client A publishes them through relay 1 alone (r1 listens on 10.99.2.1, reached from
// r2's namespace); client C publishes through the chain r1,r2,r3 from a config file (r3 listens on
// 10.99.4.1, reached from the target's namespace). curl and ssh check real data by SHA-256. Then:
// refusals (a second key asking for a held port: in-use; a port outside the key's range), half-close,
// resets both ways (service → visitor, visitor → service), and healing: after the listening relay
// restarts, after the client's link is blackholed (the port refused while the publication is down) and
// after it is reset mid-download (the visitor sees a reset, never a clean EOF).

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { Cleanup, keygen, runEtt, waitFor, type Key } from '../support/proc.js';
import { seededBytes, testBody } from '../support/servers.js';
import {
  HASH_PORT,
  HTTP_PORT,
  RELAY_PORT,
  TOOLS,
  addr,
  curlIn,
  iface,
  startTarget,
  streamIn,
} from '../support/netns.js';
import { unavailable, type Fetch, type Host, type NsProcess } from '../support/netns.js';
import { restartRelay, startChain, startClientIn, writeClientConfig } from '../support/netns-ett.js';
import type { Chain } from '../support/netns-ett.js';
import { NsFirewall, blackhole, injectRst, nftUnavailable } from '../support/nft.js';
import {
  poll,
  relayWith,
  visit,
  sshArgv,
  sshUnavailable,
  startRstServer,
  resetFrom,
  startSshd,
} from '../support/netns-publish.js';
import type { Sshd } from '../support/netns-publish.js';

const SKIP = (await unavailable()) ?? (await sshUnavailable()) ?? (await nftUnavailable());
const cleanup = new Cleanup();
const SSH_PORT = 2222; // sshd's own port in the client's namespace
const RST_PORT = 2391; // the resetting service, ditto
// Published ports (on the relay): the key's range is 2200-2299.
const P = { ssh: 2222, http: 2280, hash: 2290, rst: 2291, outside: 2400 } as const;
const R1 = addr('r1', 2); // 10.99.2.1: relay 1 toward r2
const R3 = addr('r3', 4); // 10.99.4.1: relay 3 toward the target
const SIZE = 3 * 1024 * 1024;
const body = testBody();
const part = createHash('sha256').update(body.bytes.subarray(0, SIZE)).digest('hex');
let chain: Chain;
let sshd: Sshd;
let a: NsProcess; // client A: via r1 only, by flags
let c: NsProcess; // client C: via the chain, by a config file
let key2: Key;
let blob: { file: string; sha256: string };
let rstServer: NsProcess; // resets connections that start with `r`, reports how others end

const rule = (pin: string, on: string): string => `${pin} ports 2200-2299 on ${on}`;

before(
  async () => {
    if (SKIP) return;
    chain = await startChain(cleanup);
    const { topo, dir, clientKey } = chain;
    key2 = await keygen(dir, 'client2');
    await relayWith(cleanup, chain, 'r1', [
      ...['--allow', key2.pin],
      ...['--publish', rule(clientKey.pin, R1), '--publish', rule(key2.pin, R1)],
    ]);
    await relayWith(cleanup, chain, 'r3', ['--publish', rule(clientKey.pin, R3)]);
    await startTarget(cleanup, topo, 'client', '127.0.0.1');
    sshd = await startSshd(cleanup, topo, 'client', dir, SSH_PORT);
    rstServer = await startRstServer(cleanup, topo, 'client', RST_PORT);
    const bytes = randomBytes(2 * 1024 * 1024);
    blob = { file: path.join(dir, 'blob'), sha256: createHash('sha256').update(bytes).digest('hex') };
    await fs.writeFile(blob.file, bytes);

    const pub = (port: number, to: string): string[] => ['--publish', `${R1}:${port}:127.0.0.1:${to}`];
    a = await startClientIn(cleanup, chain, [
      ...['--key', clientKey.file, '--listen', '127.0.0.1:1090', '--via', chain.relays.r1.share],
      ...pub(P.ssh, String(SSH_PORT)),
      ...pub(P.http, String(HTTP_PORT)),
      ...pub(P.hash, String(HASH_PORT)),
      ...pub(P.rst, String(RST_PORT)),
      ...pub(P.outside, String(HTTP_PORT)),
    ]);
    const file = await writeClientConfig(
      chain,
      'publish',
      ['listen = "127.0.0.1:1091"', 'default = "block"'],
      [
        '[routes]',
        'chain = ["r1", "r2", "r3"]',
        ...[
          [P.ssh, SSH_PORT],
          [P.http, HTTP_PORT],
        ].flatMap(([rp, lp]) => [
          '',
          '[[publish]]',
          `remote = "${R3}:${rp}"`,
          `to = "127.0.0.1:${lp}"`,
          'via = "chain"',
        ]),
      ],
    );
    const check = await runEtt(['check-config', file]);
    assert.equal(check.code, 0, `ett check-config: ${check.stderr}`);
    c = await startClientIn(cleanup, chain, ['--config', file]);
    for (const port of [P.ssh, P.http, P.hash, P.rst]) await published(a, R1, port);
    for (const port of [P.ssh, P.http]) await published(c, R3, port);
  },
  { timeout: 120_000 },
);
after(() => cleanup.run(), { timeout: 60_000 });

/** Waits for the client's `published RBIND:RPORT …` line after its stderr line `mark`. */
async function published(client: NsProcess, bind: string, port: number, mark = 0): Promise<void> {
  const re = new RegExp(`published ${bind.replace(/\./g, '\\.')}:${port} on `);
  const ok = await poll(300, 200, () => Promise.resolve(client.errSince(mark).some((l) => re.test(l))));
  assert.ok(ok > 0, `no "published ${bind}:${port}" line: ${client.stderr()}`);
}

/** curl of the first SIZE bytes of the body from `from`, through the port published at bind:port. */
async function fetchPart(from: Host, bind: string, port: number, maxMs = 30_000) {
  return curlIn(chain.topo, from, [`http://${bind}:${port}/bytes/${SIZE}`], maxMs).done;
}

/** After a fault: waits for the client's new `published` line, then polls curl until the body is whole. */
async function servesAgain(t: TestContext, client: NsProcess, from: Host, bind: string, mark: number) {
  await published(client, bind, P.http, mark);
  let last: Fetch | undefined;
  const tries = await poll(30, 1_000, async () => {
    last = await fetchPart(from, bind, P.http);
    return last.code === 0 && last.sha256 === part;
  });
  t.diagnostic(`serving again after ${tries} curl attempt(s)`);
  assert.ok(tries > 0, `no good fetch after the fault: ${JSON.stringify(last)}\n${client.stderr()}`);
}

/** ssh from `from` to bind:port: a download and an upload of the 2 MiB blob, checked by SHA-256. */
async function sshRoundTrip(from: Host, bind: string, port: number): Promise<void> {
  const seen = sshd.accepted().length;
  const down = await streamIn(chain.topo, from, sshArgv(sshd, bind, port, `cat ${blob.file}`), 60_000).done;
  assert.equal(down.code, 0, `ssh download: ${down.stderr}`);
  assert.equal(down.sha256, blob.sha256, `ssh download: ${down.bytes} bytes, SHA-256`);
  const up = await chain.topo.exec(
    from,
    ['sh', '-c', `${sshArgv(sshd, bind, port, 'sha256sum').map(quote).join(' ')} < ${quote(blob.file)}`],
    60_000,
  );
  assert.equal(up.code, 0, `ssh upload: ${up.stderr}`);
  assert.equal(up.stdout.split(/\s/)[0], blob.sha256, 'ssh upload: sshd side SHA-256');
  const peers = sshd.accepted().slice(seen);
  assert.deepEqual(peers, ['127.0.0.1', '127.0.0.1'], 'sshd saw two logins, both from the client itself');
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

describe('publishing a local service through one relay (r1)', { skip: SKIP ?? false }, () => {
  test(
    'curl from r2 gets the HTTP body; the client namespace is out of r2 reach',
    { timeout: 60_000 },
    async () => {
      assert.ok(!(await chain.topo.routes('r2', addr('client', 1))), 'r2 has no route to the client');
      const got = await fetchPart('r2', R1, P.http);
      assert.equal(got.code, 0, `curl: ${got.stderr}\n${a.stderr()}`);
      assert.equal(got.bytes, SIZE);
      assert.equal(got.sha256, part, 'body SHA-256');
    },
  );

  test(
    'ssh from r2 logs in to the sshd in the client namespace; data both ways',
    { timeout: 120_000 },
    async () => {
      await sshRoundTrip('r2', R1, P.ssh);
    },
  );

  test(
    'half-close: 3 MiB then FIN, the digest comes back, then EOF; also 0 bytes',
    { timeout: 60_000 },
    async () => {
      for (const size of [SIZE, 0]) {
        const seed = `publish half-close ${size}`;
        const r = await chain.topo.exec(
          'r2',
          [process.execPath, TOOLS, 'send', R1, String(P.hash), String(size), seed],
          90_000,
        );
        assert.equal(r.code, 0, `send: ${r.stderr}`);
        const got = JSON.parse(r.stdout.trim()) as { digest: string; ended: boolean; error: string | null };
        assert.equal(got.error, null, `the visitor's socket failed: ${got.error}\n${a.stderr()}`);
        assert.equal(got.digest, createHash('sha256').update(seededBytes(size, seed)).digest('hex'));
        assert.ok(got.ended, 'the answer ended with a clean EOF');
      }
    },
  );

  test('an RST from the local service reaches the visitor as a reset', { timeout: 60_000 }, async () => {
    const r = await visit(chain.topo, 'r2', R1, P.rst, 'reset me\n').done;
    assert.equal(r.code, 0, `visitor: ${r.stderr}`);
    assert.equal(
      r.stderr.trim(),
      'reset 0',
      `the visitor saw ${r.stderr.trim()}, not a reset\n${a.stderr()}`,
    );
  });

  test('a reset from the visitor reaches the local service as a reset', { timeout: 60_000 }, async () => {
    const seen = rstServer.lines.length;
    const r = await resetFrom(chain.topo, 'r2', R1, P.rst, 256 * 1024);
    assert.equal(r.code, 0, `visitor: ${r.stderr}`);
    await waitFor(() => rstServer.lines.length > seen, 15_000, 'the service to see the end');
    assert.match(rstServer.lines[seen]!, /^end reset \d+$/, `the service saw: ${rstServer.lines[seen]}`);
  });

  test(
    'a port outside the key range: a clear refusal, and nothing listens there',
    { timeout: 60_000 },
    async () => {
      const re = new RegExp(
        `${P.outside}.*relay answered policy: .*port ${P.outside} is outside this key's ports \\(allowed: 2200-2299 on ${R1.replace(/\./g, '\\.')}\\)`,
      );
      const ok = await poll(100, 100, () => Promise.resolve(a.errLines.some((l) => re.test(l))));
      assert.ok(ok > 0, `no refusal line ${re}:\n${a.stderr()}`);
      const got = await fetchPart('r2', R1, P.outside, 10_000);
      assert.equal(
        got.code,
        7,
        `curl to ${R1}:${P.outside} must be refused (exit 7): ${got.code} ${got.stderr}`,
      );
      const ss = await chain.topo.exec('r1', ['ss', '-Htln', `( sport = :${P.outside} )`]);
      assert.equal(ss.code, 0, `ss: ${ss.stderr}`);
      assert.equal(ss.stdout.trim(), '', `r1 listens on ${P.outside}: ${ss.stdout}`);
      const held = await chain.topo.exec('r1', ['ss', '-Htln', `( sport = :${P.http} )`]);
      assert.match(held.stdout, /10\.99\.2\.1:2280/, 'the control: r1 listens on the port it granted');
    },
  );

  test(
    'a second key asking for a held port is refused in-use; the first still serves',
    { timeout: 90_000 },
    async () => {
      const b = await startClientIn(cleanup, chain, [
        ...['--key', key2.file, '--listen', '127.0.0.1:1092', '--via', chain.relays.r1.share],
        ...['--publish', `${R1}:${P.http}:127.0.0.1:${HTTP_PORT}`],
      ]);
      try {
        const re = new RegExp(
          `${P.http}.*in-use: relay answered in-use: .*already published by another client`,
        );
        const ok = await poll(100, 100, () => Promise.resolve(b.errLines.some((l) => re.test(l))));
        assert.ok(ok > 0, `client B logs no in-use refusal:\n${b.stderr()}`);
        assert.ok(
          !b.errLines.some((l) => /published 10\.99\.2\.1:2280 on/.test(l)),
          'client B never published',
        );
        const got = await fetchPart('r2', R1, P.http);
        assert.equal(got.sha256, part, `curl after the refusal: ${got.code} ${got.stderr}`);
        await sshRoundTrip('r2', R1, P.ssh);
      } finally {
        await b.stop(); // before the healing tests: it must not take the port over while A is away
      }
    },
  );
});

describe('publishing through the chain r1,r2,r3 (r3 listens)', { skip: SKIP ?? false }, () => {
  test('curl and ssh from the target namespace; r3 never sees the client', { timeout: 120_000 }, async () => {
    const got = await fetchPart('target', R3, P.http);
    assert.equal(got.code, 0, `curl: ${got.stderr}\n${c.stderr()}`);
    assert.equal(got.sha256, part, 'body SHA-256');
    await sshRoundTrip('target', R3, P.ssh);
    const ss = await chain.topo.exec('r3', ['ss', '-Htna']);
    assert.doesNotMatch(ss.stdout, /10\.99\.1\./, `r3 has a socket with the client's address:\n${ss.stdout}`);
    assert.match(ss.stdout, /10\.99\.3\.1:\d+/, 'r3 holds its link from r2 (the control)');
    const log = chain.relays.r3.proc.stderr();
    assert.doesNotMatch(log, /10\.99\.1\./, `r3's log names the client's address:\n${log}`);
    assert.match(
      log,
      new RegExp(`published ${R3.replace(/\./g, '\\.')}:${P.http}`),
      "r3's log: the publication",
    );
  });
});

describe('the listening relay restarted: the client publishes again', { skip: SKIP ?? false }, () => {
  for (const [name, who, from, bind] of [
    ['r1', 'A (one relay)', 'r2', R1],
    ['r3', 'C (the chain)', 'target', R3],
  ] as const) {
    test(
      `${name} killed: its port is refused; restarted: client ${who} serves again`,
      { timeout: 120_000 },
      async (t) => {
        const client = name === 'r1' ? a : c;
        const mark = client.errTotal;
        const relay = chain.relays[name].proc;
        relay.signal('SIGKILL');
        assert.equal((await relay.exited).signal, 'SIGKILL');
        const down = await fetchPart(from, bind, P.http, 10_000);
        assert.equal(
          down.code,
          7,
          `with ${name} down, curl must be refused (exit 7): ${down.code} ${down.stderr}`,
        );
        await restartRelay(cleanup, chain, name);
        await servesAgain(t, client, from, bind, mark);
        assert.ok(c.alive && a.alive, 'the clients were not restarted');
      },
    );
  }
});

describe('client link loss (client↔r1 blackholed)', { skip: SKIP ?? false }, () => {
  test(
    'while down the port is refused, not hanging; after it the publication heals',
    { timeout: 180_000 },
    async (t) => {
      const fw = await NsFirewall.create(chain.topo, 'client');
      const mark = a.errTotal;
      const clear = await blackhole(fw, iface('client', 1));
      const codes: (number | null)[] = [];
      let cleared = false;
      try {
        const tries = await poll(60, 500, async () => {
          const r = await fetchPart('r2', R1, P.http, 10_000);
          codes.push(r.code);
          return r.code === 7;
        });
        t.diagnostic(`curl exit codes while blackholed: ${codes.join(',')}`);
        assert.ok(tries > 0, `the port was never refused while the link was down: ${codes.join(',')}`);
        const again = await fetchPart('r2', R1, P.http, 10_000);
        assert.equal(again.code, 7, `refused again while still down: ${again.code} ${again.stderr}`);
        const log = chain.relays.r1.proc.stderr();
        assert.match(
          log,
          new RegExp(`${R1.replace(/\./g, '\\.')}:${P.http} of client \\S+ closed`),
          "r1's log",
        );
        t.diagnostic(`dropped while blackholed: ${await clear()}`);
        cleared = true;
      } finally {
        if (!cleared) await clear();
      }
      await servesAgain(t, a, 'r2', R1, mark);
      await sshRoundTrip('r2', R1, P.ssh);
    },
  );

  test(
    'the link reset mid-download: the visitor sees a reset, never a clean EOF',
    { timeout: 120_000 },
    async (t) => {
      const fw = await NsFirewall.create(chain.topo, 'r1');
      const mark = a.errTotal;
      const dl = visit(chain.topo, 'r2', R1, P.http, 'GET /paced HTTP/1.0\r\n\r\n');
      let finished = false;
      void dl.done.then(() => (finished = true));
      await waitFor(() => dl.received() >= 1024 * 1024 || finished, 30_000, 'the download to start');
      if (finished) assert.fail(`the download ended before the fault: ${(await dl.done).stderr}`);
      // r1's next segment toward the client is rejected in r1's own output, with a RST to r1's own
      // socket: r1's end of the link dies while the body is flowing.
      const atFault = dl.received();
      const sent = await injectRst(fw, 'output', `ip daddr ${addr('client', 1)} tcp sport ${RELAY_PORT}`);
      assert.ok(sent > 0, 'the RST was sent');
      const cut = await dl.done;
      t.diagnostic(`${sent} RST at ${atFault} bytes; the visitor: ${cut.stderr.trim()}`);
      assert.match(cut.stderr.trim(), /^reset \d+$/, 'the visitor read side ended by a reset');
      assert.ok(cut.bytes < body.bytes.length, 'the body was cut');
      await servesAgain(t, a, 'r2', R1, mark);
    },
  );
});
