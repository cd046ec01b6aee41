// The faults themselves, each injected into the running chain and cleared before it returns:
// a TCP RST on one exit connection or on a chain link (nftables `reject with tcp reset`, counted),
// random loss on a link, a relay stopped (SIGSTOP … SIGCONT) or killed (SIGKILL) and started again,
// a link blackholed. Rules live in the namespaces' own `ett_fault` tables (nft.ts).

import { sleep, type Cleanup } from './proc.js';
import { HTTP_PORT, LINKS, RELAY_PORT, addr, iface, type Host } from './netns.js';
import { restartRelay, type Chain, type RelayName } from './netns-ett.js';
import { blackhole, injectRst, randomLoss, type NsFirewall } from './nft.js';

export interface FaultRig {
  readonly cleanup: Cleanup;
  readonly chain: Chain;
  readonly fw: Record<Host, NsFirewall>;
}

/** What one injection did: whether the fault happened (`packets` > 0 for the nft kinds) and what. */
export interface Injection {
  readonly happened: boolean;
  readonly packets: number;
  readonly detail: string;
}

/** r3's ports of its established connections to the target's HTTP port (asked in the target's namespace). */
async function exitConnections(rig: FaultRig): Promise<number[]> {
  const r = await rig.chain.topo.exec('target', [
    'ss',
    '-Htn',
    'state',
    'established',
    `( sport = :${HTTP_PORT} )`,
  ]);
  if (r.code !== 0) throw new Error(`ss in target: exit ${r.code}: ${r.stderr}`);
  // Lines of `Recv-Q Send-Q LOCAL:PORT PEER:PORT`: the peer's port is r3's.
  const ports: number[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /:(\d+)$/.exec(line.trim().split(/\s+/).pop() ?? '');
    if (m) ports.push(Number(m[1]));
  }
  return ports;
}

/**
 * A RST into one running exit connection: the target's namespace answers r3's next packet on that
 * connection with a reset, so r3's socket to the target dies mid-body and only that stream is hit.
 */
export async function rstExit(rig: FaultRig, pick: number, done: Set<number>): Promise<Injection> {
  // A connection reset before may still be listed for a moment: pick one not tried yet.
  const ports = (await exitConnections(rig)).filter((p) => !done.has(p));
  if (ports.length === 0) return { happened: false, packets: 0, detail: 'no exit connection open' };
  const port = ports[pick % ports.length]!;
  done.add(port);
  const match = `ip saddr ${addr('r3', 4)} tcp sport ${port} tcp dport ${HTTP_PORT}`;
  const sent = await injectRst(rig.fw.target, 'input', match, 1_000);
  return { happened: sent > 0, packets: sent, detail: `r3:${port} → target: ${sent} RST` };
}

/**
 * A RST into a chain link (client↔r1, r1↔r2 or r2↔r3: net 1..3), to the dialing side (`toDialer`) or
 * to the listening relay: every stream of the circuit is hit and the client builds a new one.
 */
export async function rstLink(rig: FaultRig, net: number, toDialer: boolean): Promise<Injection> {
  const link = LINKS.find((l) => l.net === net)!;
  const [dialer, relay] = [link.a, link.b];
  const sent = toDialer
    ? await injectRst(rig.fw[relay], 'input', `ip saddr ${addr(dialer, net)} tcp dport ${RELAY_PORT}`)
    : await injectRst(rig.fw[dialer], 'input', `ip saddr ${addr(relay, net)} tcp sport ${RELAY_PORT}`);
  const to = toDialer ? dialer : relay;
  return { happened: sent > 0, packets: sent, detail: `${dialer}↔${relay}: ${sent} RST to ${to}` };
}

/** percent% random loss both ways on link `net` (at its client-side end) for ms. */
export async function lossEpisode(
  rig: FaultRig,
  net: number,
  percent: number,
  ms: number,
): Promise<Injection> {
  const host = LINKS.find((l) => l.net === net)!.a;
  const clear = await randomLoss(rig.fw[host], iface(host, net), percent);
  await sleep(ms);
  const dropped = await clear();
  return {
    happened: true,
    packets: dropped,
    detail: `link ${net}: ${percent}% for ${ms} ms, ${dropped} dropped`,
  };
}

/** Everything on link `net` dropped both ways for ms. */
export async function blackholeLink(rig: FaultRig, net: number, ms: number): Promise<Injection> {
  const host = LINKS.find((l) => l.net === net)!.a;
  const clear = await blackhole(rig.fw[host], iface(host, net));
  let dropped = 0;
  try {
    await sleep(ms);
  } finally {
    dropped = await clear();
  }
  return { happened: dropped > 0, packets: dropped, detail: `link ${net}: ${ms} ms, ${dropped} dropped` };
}

/** SIGSTOP a relay, ms later SIGCONT. */
export async function stopRelay(rig: FaultRig, name: RelayName, ms: number): Promise<Injection> {
  const proc = rig.chain.relays[name].proc;
  if (!proc.alive) throw new Error(`relay ${name} is not running`);
  proc.signal('SIGSTOP');
  try {
    await sleep(ms);
  } finally {
    proc.signal('SIGCONT');
  }
  return { happened: true, packets: 2, detail: `${name} stopped ${ms} ms` };
}

/** SIGKILL a relay, then start it again with the same key, address and flags. */
export async function killRelay(rig: FaultRig, name: RelayName): Promise<Injection> {
  const proc = rig.chain.relays[name].proc;
  proc.signal('SIGKILL');
  const exit = await proc.exited;
  if (exit.signal !== 'SIGKILL')
    throw new Error(`relay ${name} ended by ${JSON.stringify(exit)}, not SIGKILL`);
  await restartRelay(rig.cleanup, rig.chain, name);
  return { happened: true, packets: 1, detail: `${name} killed and restarted` };
}
