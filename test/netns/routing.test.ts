// Client routing across real namespaces (client → r1 → r2 → r3 → target), each client configured by a
// TOML file: a group whose first route starts at a relay that is down serves through its second route;
// and rules (first match wins) block one name, dial another directly from the client, and send a third
// through the chain, each checked by where the target saw the connection come from.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Cleanup, keygen, runEtt, waitFor } from '../support/proc.js';
import { sha256, testBody } from '../support/servers.js';
import {
  HTTP_PORT,
  addr,
  curlIn,
  startTarget,
  unavailable,
  upstreamAddr,
  type NsProcess,
  type TargetServer,
} from '../support/netns.js';
import {
  relayArgs,
  startChain,
  startClientIn,
  startRelayIn,
  writeClientConfig,
  type Chain,
} from '../support/netns-ett.js';

const SKIP = await unavailable();
const cleanup = new Cleanup();
const body = testBody();
const SMALL = body.bytes.subarray(0, 64 * 1024);
const GROUP_PROXY = '127.0.0.1:1081';
const RULES_PROXY = '127.0.0.1:1082';
let chain: Chain;
let deadRelay: NsProcess;
let local: TargetServer;
let groupClient: NsProcess;
let rulesClient: NsProcess;

/** Validates a config file with `ett check-config`, failing with its message. */
async function checked(file: string): Promise<string> {
  const r = await runEtt(['check-config', file]);
  assert.equal(r.code, 0, `ett check-config ${file}: ${r.stderr}`);
  return file;
}

before(
  async () => {
    if (SKIP) return;
    chain = await startChain(cleanup);
    // A real relay on the client↔r1 link, stopped before use: its share string names a dead address.
    const deadKey = await keygen(chain.dir, 'dead');
    const dead = await startRelayIn(
      cleanup,
      chain.topo,
      'r1',
      deadKey,
      relayArgs(deadKey, `${upstreamAddr('r1')}:7001`, chain.clientKey.pin, ['reject *:*']),
    );
    await dead.proc.stop();
    deadRelay = dead.proc;
    // A second target inside the client's namespace, for direct connections.
    local = await startTarget(cleanup, chain.topo, 'client', addr('client', 1));

    const groupFile = await writeClientConfig(
      chain,
      'group',
      [`listen = "${GROUP_PROXY}"`, 'default = "g"'],
      [
        '[routes]',
        'dead_route = ["dead", "r2", "r3"]',
        'chain = ["r1", "r2", "r3"]',
        '',
        '[groups]',
        'g = ["dead_route", "chain"]',
      ],
      { dead: dead.share },
    );
    const rulesFile = await writeClientConfig(
      chain,
      'rules',
      [`listen = "${RULES_PROXY}"`, 'default = "block"'],
      [
        '[routes]',
        'chain = "r1, r2, r3"',
        '',
        '[[rules]]',
        'host = "blocked.test"',
        'action = "block"',
        '',
        '[[rules]]',
        'host = ["local.test"]',
        'action = "direct"',
        '',
        '[[rules]]',
        'host = "*.test"',
        `port = "${HTTP_PORT - 1}-${HTTP_PORT + 1}"`,
        'action = "chain"',
      ],
    );
    groupClient = await startClientIn(cleanup, chain, ['--config', await checked(groupFile)]);
    rulesClient = await startClientIn(cleanup, chain, ['--config', await checked(rulesFile)]);
  },
  { timeout: 90_000 },
);
after(() => cleanup.run(), { timeout: 60_000 });

/** curl through a client proxy in the client's namespace; returns the result. */
function fetch(proxy: string, url: string) {
  return curlIn(chain.topo, 'client', ['--socks5-hostname', proxy, url], 90_000).done;
}

describe('a group whose first route is down', () => {
  test(
    'serves through its second route (20 MB intact, the target sees r3)',
    { skip: SKIP ?? false, timeout: 120_000 },
    async (t) => {
      assert.ok(!deadRelay.alive, 'the first route’s first relay is down');
      for (let round = 1; round <= 2; round++) {
        const seen = chain.target.peers('http').length;
        const r = await fetch(GROUP_PROXY, `http://target.test:${HTTP_PORT}/`);
        assert.equal(r.code, 0, `round ${round}: curl failed: ${r.stderr}\nclient: ${groupClient.stderr()}`);
        assert.equal(r.bytes, body.bytes.length);
        assert.equal(r.sha256, body.sha256, `round ${round}: body SHA-256`);
        await waitFor(() => chain.target.peers('http').length > seen, 5_000, 'the target logs the peer');
        assert.deepEqual(chain.target.peers('http').slice(seen), [addr('r3', 4)]);
      }
      const tried = groupClient.errLines.filter((l) => /route dead_route (unavailable|failed|down)/i.test(l));
      t.diagnostic(`client log on the dead route: ${tried.join(' | ')}`);
      assert.ok(tried.length > 0, `the client tried the dead route first: ${groupClient.stderr()}`);
    },
  );
});

describe('rules: block, direct and a route, by where the target saw the connection', () => {
  test(
    'a route rule: target.test goes through the chain, so the target sees r3',
    { skip: SKIP ?? false, timeout: 60_000 },
    async () => {
      const seen = chain.target.peers('http').length;
      const r = await fetch(RULES_PROXY, `http://target.test:${HTTP_PORT}/small`);
      assert.equal(r.code, 0, `curl failed: ${r.stderr}\nclient: ${rulesClient.stderr()}`);
      assert.equal(r.sha256, sha256(SMALL));
      await waitFor(() => chain.target.peers('http').length > seen, 5_000, 'the target logs the peer');
      assert.deepEqual(chain.target.peers('http').slice(seen), [addr('r3', 4)]);
    },
  );

  test(
    'a direct rule: the client dials local.test itself (resolved in its namespace)',
    { skip: SKIP ?? false, timeout: 60_000 },
    async () => {
      const seen = local.peers('http').length;
      const remote = chain.target.peers('http').length;
      const r = await fetch(RULES_PROXY, `http://local.test:${HTTP_PORT}/small`);
      assert.equal(r.code, 0, `curl failed: ${r.stderr}\nclient: ${rulesClient.stderr()}`);
      assert.equal(r.sha256, sha256(SMALL));
      await waitFor(() => local.peers('http').length > seen, 5_000, 'the local target logs the peer');
      assert.deepEqual(local.peers('http').slice(seen), [addr('client', 1)], "from the client's own address");
      assert.equal(chain.target.peers('http').length, remote, 'nothing reached the remote target');
    },
  );

  test(
    'a block rule: SOCKS reply 0x02 (curl 97), and no target saw a connection',
    { skip: SKIP ?? false, timeout: 60_000 },
    async () => {
      const seenRemote = chain.target.peers('http').length;
      const seenLocal = local.peers('http').length;
      const r = await fetch(RULES_PROXY, `http://blocked.test:${HTTP_PORT}/small`);
      assert.equal(r.code, 97, `curl: ${r.stderr}`);
      assert.match(r.stderr, /\(2\)/, 'SOCKS5 reply 2: not allowed by ruleset');
      assert.equal(r.bytes, 0);
      // Without the rule, `*.test` would send it through the chain, and r3 resolves blocked.test to the
      // target. A request that does go there afterwards is the barrier: the target then logged exactly one.
      const ok = await fetch(RULES_PROXY, `http://target.test:${HTTP_PORT}/small`);
      assert.equal(ok.code, 0, ok.stderr);
      await waitFor(() => chain.target.peers('http').length > seenRemote, 5_000, 'the target logs the peer');
      assert.equal(
        chain.target.peers('http').length,
        seenRemote + 1,
        'only the second request reached the target',
      );
      assert.equal(local.peers('http').length, seenLocal, 'nothing reached the local target');
    },
  );
});
