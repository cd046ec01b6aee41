// Port forwards (ssh -L) across real namespaces: a plain TCP client in the client's namespace connects to
// the forward's local port, sends data and half-closes; the target (only reachable by relay 3) reads to
// EOF and answers with SHA-256 of what it read, then closes. Once with a `[[forwards]]` table in a config
// file, once with `--forward` and `--via S1,S2,S3` on the command line.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Cleanup, runEtt, waitFor } from '../support/proc.js';
import { seededBytes } from '../support/servers.js';
import { HASH_PORT, TOOLS, addr, unavailable } from '../support/netns.js';
import { startChain, startClientIn, writeClientConfig, type Chain } from '../support/netns-ett.js';
import type { NsProcess } from '../support/netns.js';

const SKIP = await unavailable();
const cleanup = new Cleanup();
const FILE_FORWARD = '127.0.0.1:2222';
const FLAG_FORWARD = '127.0.0.1:2223';
let chain: Chain;
const clients: NsProcess[] = [];

before(
  async () => {
    if (SKIP) return;
    chain = await startChain(cleanup);
    const file = await writeClientConfig(
      chain,
      'forward',
      ['listen = "127.0.0.1:1083"', 'default = "block"'],
      [
        '[routes]',
        'chain = ["r1", "r2", "r3"]',
        '',
        '[[forwards]]',
        `listen = "${FILE_FORWARD}"`,
        `to = "target.test:${HASH_PORT}"`,
        'via = "chain"',
      ],
    );
    const check = await runEtt(['check-config', file]);
    assert.equal(check.code, 0, `ett check-config: ${check.stderr}`);
    const fromFile = await startClientIn(cleanup, chain, ['--config', file]);
    const fromFlags = await startClientIn(cleanup, chain, [
      '--key',
      chain.clientKey.file,
      '--listen',
      '127.0.0.1:1084',
      '--via',
      chain.via,
      '--forward',
      `${FLAG_FORWARD}:target.test:${HASH_PORT}`,
    ]);
    await fromFile.waitForLine(new RegExp(`forwarding ${FILE_FORWARD} -> target.test:${HASH_PORT}`));
    await fromFlags.waitForLine(new RegExp(`forwarding ${FLAG_FORWARD} -> target.test:${HASH_PORT}`));
    clients.push(fromFile, fromFlags);
  },
  { timeout: 90_000 },
);
after(() => cleanup.run(), { timeout: 60_000 });

interface Sent {
  readonly bytes: number;
  readonly digest: string;
  readonly ended: boolean;
  readonly error: string | null;
}

/** Runs the plain TCP client (netns-tools send) in the client's namespace against listen. */
async function send(listen: string, size: number, seed: string): Promise<Sent> {
  const [host, port] = listen.split(':') as [string, string];
  const r = await chain.topo.exec(
    'client',
    [process.execPath, TOOLS, 'send', host, port, String(size), seed],
    90_000,
  );
  assert.equal(r.code, 0, `send: ${r.stderr}`);
  return JSON.parse(r.stdout.trim()) as Sent;
}

describe('port forwards through the chain, half-close preserved', () => {
  for (const [how, listen] of [
    ['[[forwards]] in the config file', FILE_FORWARD],
    ['--forward with --via S1,S2,S3', FLAG_FORWARD],
  ] as const) {
    for (const size of [3 * 1024 * 1024, 0]) {
      test(
        `${how}: ${size} bytes, then FIN; the digest comes back, then EOF`,
        { skip: SKIP ?? false, timeout: 60_000 },
        async () => {
          const seen = chain.target.peers('hash').length;
          const seed = `forward ${listen} ${size}`;
          const expected = createHash('sha256').update(seededBytes(size, seed)).digest('hex');
          const got = await send(listen, size, seed);
          const log = clients.map((c) => c.stderr()).join('\n');
          assert.equal(got.error, null, `the app socket failed: ${got.error}\n${log}`);
          assert.equal(
            got.digest,
            expected,
            `the target read exactly what was sent (${got.bytes} bytes back)`,
          );
          assert.ok(got.ended, 'the answer ended with a clean EOF');
          await waitFor(() => chain.target.peers('hash').length > seen, 5_000, 'the target logs the peer');
          assert.deepEqual(chain.target.peers('hash').slice(seen), [addr('r3', 4)], 'the target saw r3');
        },
      );
    }
  }
});
