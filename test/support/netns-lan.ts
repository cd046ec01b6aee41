// A LAN host beside a topology (test/support/netns.ts): a namespace of its own joined by one veth pair
// to a host of the topology, which becomes its router (default route, and the resolver its
// resolv.conf names). Removed by the cleanup it registers, as the topology's namespaces are.

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Cleanup } from './proc.js';
import { run, type Host, type RunResult, type Topology } from './netns.js';

export interface LanHost {
  /** The LAN host's namespace name. */
  readonly ns: string;
  /** Its address, and the router's, on the LAN (10.99.NET.0/24: router .1, host .2). */
  readonly addr: string;
  readonly routerAddr: string;
  /** The router's interface toward the LAN (inside the router's namespace). */
  readonly routerIface: string;
  exec(args: string[], timeoutMs?: number): Promise<RunResult>;
}

async function must(args: string[]): Promise<void> {
  const r = await run('ip', args);
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
}

/** Makes the LAN host on 10.99.NET.0/24 behind `router` (NET must not be a topology link's). */
export async function addLanHost(
  cleanup: Cleanup,
  topo: Topology,
  router: Host,
  net: number,
): Promise<LanHost> {
  const ns = `${topo.ns[router]}-lan`;
  const routerIface = `ve${net}r`;
  const routerAddr = `10.99.${net}.1`;
  const addr = `10.99.${net}.2`;
  const etc = `/etc/netns/${ns}`;
  cleanup.add(async () => {
    await run('ip', ['netns', 'del', ns], 10_000);
    await fs.rm(etc, { recursive: true, force: true });
  });
  await must(['netns', 'add', ns]);
  await fs.mkdir(etc, { recursive: true });
  await fs.writeFile(path.join(etc, 'resolv.conf'), `nameserver ${routerAddr}\n`);
  await fs.writeFile(path.join(etc, 'hosts'), '127.0.0.1 localhost\n::1 localhost\n');
  await must(['-n', ns, 'link', 'set', 'lo', 'up']);
  await must([
    '-n',
    topo.ns[router],
    'link',
    'add',
    routerIface,
    'type',
    'veth',
    'peer',
    'name',
    'lan0',
    'netns',
    ns,
  ]);
  await must(['-n', topo.ns[router], 'addr', 'add', `${routerAddr}/24`, 'dev', routerIface]);
  await must(['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'lan0']);
  await must(['-n', topo.ns[router], 'link', 'set', routerIface, 'up']);
  await must(['-n', ns, 'link', 'set', 'lan0', 'up']);
  await must(['-n', ns, 'route', 'add', 'default', 'via', routerAddr]);
  return {
    ns,
    addr,
    routerAddr,
    routerIface,
    exec: (args, timeoutMs = 20_000) => run('ip', ['netns', 'exec', ns, ...args], timeoutMs),
  };
}
