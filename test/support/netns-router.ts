// Router mode in the namespaces: the client's namespace becomes a router for a LAN host (test/support/
// netns-lan.ts), forwarding packets as a router does (so only the rules stop them), with the rules
// `ett transparent-rules --router` prints applied by `nft -f`, and `ett client --transparent … --dns …`
// running on the chain. Used by the router-mode tests, with and without --udp.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ETT, type Cleanup } from './proc.js';
import { run, type NsProcess } from './netns.js';
import { startClientIn, type Chain } from './netns-ett.js';
import { addLanHost, type LanHost } from './netns-lan.js';

export interface Router {
  readonly lan: LanHost;
  readonly client: NsProcess;
}

/** LAN host (link 9), forwarding on, the printed rules applied, the client serving both ports. */
export async function startRouter(
  cleanup: Cleanup,
  chain: Chain,
  o: { readonly transparentPort: number; readonly dnsPort: number; readonly udp?: boolean },
): Promise<Router> {
  const lan = await addLanHost(cleanup, chain.topo, 'client', 9);
  // A router forwards: without the rules, the LAN's packets would go on toward r1.
  for (const key of ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']) {
    const r = await chain.topo.exec('client', ['sysctl', '-qw', key]);
    assert.equal(r.code, 0, r.stderr);
  }
  const rules = await run(process.execPath, [
    ETT,
    'transparent-rules',
    '--transparent',
    String(o.transparentPort),
    '--dns',
    String(o.dnsPort),
    '--router',
    lan.routerIface,
    ...(o.udp ? ['--udp'] : []),
  ]);
  assert.equal(rules.code, 0, rules.stderr);
  const file = path.join(chain.dir, o.udp ? 'router-udp.nft' : 'router.nft');
  writeFileSync(file, rules.stdout);
  const applied = await chain.topo.exec('client', ['nft', '-f', file]);
  assert.equal(applied.code, 0, `nft -f: ${applied.stderr}`);
  const client = await startClientIn(cleanup, chain, [
    '--key',
    chain.clientKey.file,
    '--via',
    chain.via,
    '--listen',
    '127.0.0.1:0',
    '--transparent',
    `[::]:${o.transparentPort}`,
    '--dns',
    `[::]:${o.dnsPort}`,
    '--log-level',
    'info',
  ]);
  await client.waitForLine(/DNS port on/);
  return { lan, client };
}
