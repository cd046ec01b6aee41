// ett inside the namespaces: three relays chained client → r1 → r2 → r3 → target, each relay's exit
// policy accepting only the next hop (r3: only the target's link), the target server, and clients.

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ETT, keygen, tempDir, type Cleanup, type Key } from './proc.js';
import {
  HTTP_PORT,
  RELAY_PORT,
  Topology,
  startTarget,
  upstreamAddr,
  type Host,
  type NsProcess,
  type TargetServer,
} from './netns.js';

export type RelayName = 'r1' | 'r2' | 'r3';

export interface NsRelay {
  readonly host: Host;
  readonly proc: NsProcess;
  readonly key: Key;
  /** The share string as the relay printed it. */
  readonly share: string;
  /** The arguments it was started with (to start it again the same way). */
  readonly args: readonly string[];
}

/** `ett relay ARGS` in host's namespace, waited for its share string. */
export async function startRelayIn(
  cleanup: Cleanup,
  topo: Topology,
  host: Host,
  key: Key,
  args: readonly string[],
): Promise<NsRelay> {
  const proc = topo.spawn(cleanup, host, [process.execPath, ETT, 'relay', ...args]);
  const line = await proc.waitForLine(/ett:\/\//);
  return { host, proc, key, share: /(ett:\/\/\S+)/.exec(line)![1]!, args };
}

/** The relay arguments: listen on its upstream address, allow the client, exit only to `exits`. */
export function relayArgs(key: Key, listen: string, allow: string, exits: readonly string[]): string[] {
  const args = ['--key', key.file, '--listen', listen, '--allow', allow, '--log-level', 'info'];
  for (const rule of exits) args.push('--exit', rule);
  return args;
}

export interface Chain {
  readonly topo: Topology;
  readonly dir: string;
  readonly clientKey: Key;
  readonly relays: Record<RelayName, NsRelay>;
  readonly target: TargetServer;
  /** With `near`: a second target server in r2's namespace (near.test, 10.99.2.2), r1 its exit. */
  readonly near?: TargetServer;
  /** The three share strings, first hop first, comma-separated (for --via). */
  readonly via: string;
}

/** Namespaces, keys, the target server and the three relays. Everything is registered with cleanup. */
export async function startChain(
  cleanup: Cleanup,
  opts: { readonly exitUdp?: boolean; readonly near?: boolean } = {},
): Promise<Chain> {
  const topo = await Topology.create(cleanup);
  const dir = await tempDir(cleanup);
  const clientKey = await keygen(dir, 'client');
  const target = await startTarget(cleanup, topo, 'target', upstreamAddr('target'));
  // near: r1 is also an exit, to a second target on r2's address (circuits of one relay).
  const near = opts.near ? await startTarget(cleanup, topo, 'r2', upstreamAddr('r2')) : undefined;
  const exits: Record<RelayName, string[]> = {
    r1: [
      `accept ${upstreamAddr('r2')}:${RELAY_PORT}`,
      ...(near ? [`accept ${upstreamAddr('r2')}:${HTTP_PORT}`] : []),
      'reject *:*',
    ],
    r2: [`accept ${upstreamAddr('r3')}:${RELAY_PORT}`, 'reject *:*'],
    // exitUdp: the exit also carries UDP to the target's network (the UDP tests).
    r3: [...(opts.exitUdp ? ['accept udp 10.99.4.0/24:*'] : []), 'accept 10.99.4.0/24:*', 'reject *:*'],
  };
  const relays = {} as Record<RelayName, NsRelay>;
  for (const name of ['r1', 'r2', 'r3'] as const) {
    const key = await keygen(dir, name);
    const listen = `${upstreamAddr(name)}:${RELAY_PORT}`;
    relays[name] = await startRelayIn(
      cleanup,
      topo,
      name,
      key,
      relayArgs(key, listen, clientKey.pin, exits[name]),
    );
  }
  const via = [relays.r1.share, relays.r2.share, relays.r3.share].join(',');
  return { topo, dir, clientKey, relays, target, ...(near ? { near } : {}), via };
}

/** Starts a relay of the chain again, same key, address and flags (after it was killed). */
export async function restartRelay(cleanup: Cleanup, chain: Chain, name: RelayName): Promise<NsRelay> {
  const old = chain.relays[name];
  const again = await startRelayIn(cleanup, chain.topo, old.host, old.key, old.args);
  chain.relays[name] = again;
  return again;
}

/** `ett client ARGS` in the client namespace, waited for its `listening on` line. */
export async function startClientIn(
  cleanup: Cleanup,
  chain: Chain,
  args: readonly string[],
): Promise<NsProcess> {
  const proc = chain.topo.spawn(cleanup, 'client', [process.execPath, ETT, 'client', ...args]);
  await proc.waitForLine(/listening on \S+:\d+/);
  return proc;
}

/**
 * Writes DIR/NAME.toml: the client's key, the `top` keys, the chain's relays as r1, r2, r3 (plus `relays`),
 * then the `tables` lines. Returns its path.
 */
export async function writeClientConfig(
  chain: Chain,
  name: string,
  top: readonly string[],
  tables: readonly string[],
  relays: Record<string, string> = {},
): Promise<string> {
  const all: Record<string, string> = {
    r1: chain.relays.r1.share,
    r2: chain.relays.r2.share,
    r3: chain.relays.r3.share,
    ...relays,
  };
  const text = [
    `key = ${JSON.stringify(chain.clientKey.file)}`,
    ...top,
    '',
    '[relays]',
    ...Object.entries(all).map(([k, v]) => `${k} = ${JSON.stringify(v)}`),
    '',
    ...tables,
    '',
  ].join('\n');
  const file = path.join(chain.dir, `${name}.toml`);
  await fs.writeFile(file, text, { mode: 0o600 });
  return file;
}
