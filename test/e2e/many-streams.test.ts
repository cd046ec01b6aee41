// Ten thousand streams at once through a three-relay chain, every one hash-checked, and the peak resident
// size of each daemon recorded and bounded (issues 4 and 6: 10 000 concurrent streams under 256 MiB RSS per
// process). All processes are real: bin/ett client and relays, an echo target in its own process (so this
// process holds only the application side of the ten thousand connections), and this test as the
// applications, speaking SOCKS5 to the client.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type * as net from 'node:net';
import { after, test } from 'node:test';
import {
  Cleanup,
  fileLimits,
  keygen,
  Proc,
  startClient,
  startRelay,
  statusMiB,
  tempDir,
  waitFor,
  withDeadline,
} from '../support/proc.js';
import { seededBytes, sha256 } from '../support/servers.js';
import { socks5Raw } from '../support/socks.js';

const STREAMS = 10_000;
const BODY = 1024;
const RSS_MAX_MIB = 256;
const BATCH = 500; // SOCKS handshakes in flight at once while the streams are opened

const cleanup = new Cleanup();
after(() => cleanup.run());

// An echo server that reports, on stdout, each new high of connections open at the same time.
const ECHO = `
import net from 'node:net';
let open = 0, max = 0;
const server = net.createServer({ allowHalfOpen: true }, (s) => {
  open++;
  if (open > max) { max = open; if (max % 500 === 0) console.log('max ' + max); }
  s.on('error', () => s.destroy());
  s.on('close', () => open--);
  s.pipe(s);
});
server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => console.log('port ' + server.address().port));
`;

/** Raises this process's soft open-file limit to `need` if it is lower (children inherit it). */
function ensureFiles(need: number): string | null {
  const { soft, hard } = fileLimits();
  if (soft >= need) return null;
  try {
    // Raising the soft limit up to the hard one needs no privilege; beyond it, root's CAP_SYS_RESOURCE.
    const to = hard >= need ? `${need}:${hard === Infinity ? 'unlimited' : hard}` : `${need}:${need}`;
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${to}`], { stdio: 'pipe' });
  } catch (err) {
    return `open-file limit ${soft}/${hard} is below ${need} and prlimit could not raise it: ${(err as Error).message}`;
  }
  const now = fileLimits();
  return now.soft >= need ? null : `open-file limit still ${now.soft} after prlimit (need ${need})`;
}

test(
  `${STREAMS} concurrent streams through 3 relays: all hash-checked, every daemon's peak RSS <= ${RSS_MAX_MIB} MiB`,
  { timeout: 180_000 },
  async (t) => {
    const need = STREAMS + 1024;
    const limits = fileLimits();
    const why = ensureFiles(need);
    if (why) return t.skip(why);
    console.log(
      `open files: limit was ${limits.soft}/${limits.hard}, now ${fileLimits().soft} (need ${need})`,
    );

    const echo = new Proc(process.execPath, ['--input-type=module', '-e', ECHO]);
    cleanup.add(async () => {
      await echo.stop();
    });
    const targetPort = Number(/port (\d+)/.exec(await echo.waitForLine(/^port \d+/))![1]);

    const dir = await tempDir(cleanup);
    const clientKey = await keygen(dir, 'client');
    const r3 = await startRelay(cleanup, dir, {
      allow: [clientKey.pin],
      exit: [`accept 127.0.0.1:${targetPort}`],
      name: 'r3',
    });
    const r2 = await startRelay(cleanup, dir, {
      allow: [clientKey.pin],
      exit: [`accept 127.0.0.1:${r3.port}`],
      name: 'r2',
    });
    const r1 = await startRelay(cleanup, dir, {
      allow: [clientKey.pin],
      exit: [`accept 127.0.0.1:${r2.port}`],
      name: 'r1',
    });
    const client = await startClient(cleanup, clientKey, [r1, r2, r3].map((r) => r.share).join(','));
    const daemons = [
      { name: 'client', pid: client.proc.pid },
      { name: 'relay 1', pid: r1.proc.pid },
      { name: 'relay 2', pid: r2.proc.pid },
      { name: 'relay 3 (exit)', pid: r3.proc.pid },
    ];
    const idle = daemons.map((d) => statusMiB(d.pid, 'VmRSS'));

    // 1. Open every stream and keep it open: nothing is sent until the last one is connected.
    const sockets: net.Socket[] = [];
    cleanup.add(() => sockets.forEach((s) => s.destroy()));
    const failures = new Map<string, number>();
    for (let i = 0; i < STREAMS; i += BATCH) {
      const batch = await Promise.allSettled(
        Array.from({ length: Math.min(BATCH, STREAMS - i) }, () => socks5Raw(client.port, targetPort)),
      );
      for (const r of batch) {
        if (r.status === 'fulfilled') sockets.push(r.value);
        else failures.set(String(r.reason), (failures.get(String(r.reason)) ?? 0) + 1);
      }
    }
    assert.equal(sockets.length, STREAMS, `streams that failed to open: ${JSON.stringify([...failures])}`);
    await waitFor(
      () => echo.lines.some((l) => l === `max ${STREAMS}`),
      30_000,
      `the target to hold ${STREAMS} connections at once (${echo.lines.at(-1)})`,
    );
    const open = daemons.map((d) => statusMiB(d.pid, 'VmRSS'));

    // 2. Every stream sends its own body, half-closes, and must get exactly that body back.
    let ok = 0;
    const bad: string[] = [];
    const exchange = sockets.map(
      (s, i) =>
        new Promise<void>((resolve) => {
          const body = seededBytes(BODY, `stream-${i}`);
          const want = sha256(body);
          const back: Buffer[] = [];
          s.on('data', (c: Buffer) => back.push(c));
          s.once('end', () => {
            const got = Buffer.concat(back);
            if (sha256(got) === want) ok++;
            else if (bad.length < 5) bad.push(`stream ${i}: ${got.length} bytes, hash mismatch`);
            resolve();
          });
          s.once('error', (err) => {
            if (bad.length < 5) bad.push(`stream ${i}: ${err.message}`);
            resolve();
          });
          s.resume();
          s.end(body);
        }),
    );
    await withDeadline(Promise.all(exchange), 90_000, `${STREAMS} echoes`);
    assert.deepEqual(bad, []);
    assert.equal(ok, STREAMS);

    // 3. Peaks: VmHWM is the most each process was ever resident, so the whole run is covered.
    const peaks = daemons.map((d) => statusMiB(d.pid, 'VmHWM'));
    console.log(
      `${ok}/${STREAMS} streams open at once through 3 relays, all ${BODY}-byte echoes hash-checked`,
    );
    for (const [i, d] of daemons.entries()) {
      console.log(
        `${d.name.padEnd(15)} RSS idle ${idle[i]!.toFixed(0)} MiB, ${STREAMS} open ${open[i]!.toFixed(0)} MiB, ` +
          `peak (VmHWM) ${peaks[i]!.toFixed(0)} MiB`,
      );
    }
    for (const [i, d] of daemons.entries()) {
      assert.ok(peaks[i]! <= RSS_MAX_MIB, `${d.name} peaked at ${peaks[i]!.toFixed(0)} MiB > ${RSS_MAX_MIB}`);
    }
  },
);
