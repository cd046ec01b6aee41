// nftables inside the test's namespaces, for the fault runs: one table of our own per namespace
// (`inet ett_fault`, input and output chains, policy accept), rules added and removed by handle, and
// counters read back so a fault counts only if a packet really met it. Every command runs as
// `ip netns exec NS nft …`: the host's own ruleset is never touched.

import { run, type Host, type Topology } from './netns.js';
import { sleep } from './proc.js';

const TABLE = 'ett_fault';
export type NftChain = 'input' | 'output';

/** null if `nft` runs here, else why not (for the skip message). */
export async function nftUnavailable(): Promise<string | null> {
  const r = await run('nft', ['--version'], 5_000);
  return r.code === 0 ? null : `needs nftables (\`nft\`): missing or failed (${r.code})`;
}

/** Our table in one namespace. */
export class NsFirewall {
  private constructor(
    private readonly topo: Topology,
    readonly host: Host,
  ) {}

  /** Creates the table (input and output chains, policy accept) in host's namespace. */
  static async create(topo: Topology, host: Host): Promise<NsFirewall> {
    const fw = new NsFirewall(topo, host);
    await fw.nft(['add', 'table', 'inet', TABLE]);
    for (const chain of ['input', 'output'] as const) {
      const spec = `{ type filter hook ${chain} priority 0; policy accept; }`;
      await fw.nft(['add', 'chain', 'inet', TABLE, chain, spec]);
    }
    return fw;
  }

  /** Runs nft in the namespace; throws with its stderr on failure. */
  private async nft(args: string[]): Promise<string> {
    const r = await this.topo.exec(this.host, ['nft', ...args], 10_000);
    if (r.code !== 0) throw new Error(`nft ${args.join(' ')} in ${this.host}: exit ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  /** Adds rules (nft syntax, without table and chain) in one nft run; returns their handles in order. */
  async add(...rules: [NftChain, string][]): Promise<number[]> {
    const cmds = rules.map(([chain, rule]) => `add rule inet ${TABLE} ${chain} ${rule}`).join('; ');
    const out = await this.nft(['-e', '-a', cmds]);
    const handles = [...out.matchAll(/# handle (\d+)/g)].map((m) => Number(m[1]));
    if (handles.length !== rules.length)
      throw new Error(`nft echoed ${handles.length} handles for ${cmds}: ${out}`);
    return handles;
  }

  /** Removes rules by chain and handle, in one nft run. */
  async remove(...rules: [NftChain, number][]): Promise<void> {
    const cmds = rules.map(([chain, h]) => `delete rule inet ${TABLE} ${chain} handle ${h}`).join('; ');
    await this.nft([cmds]);
  }

  /** Packets counted by each rule of the table, by handle. */
  async counters(): Promise<Map<number, number>> {
    const out = await this.nft(['-j', 'list', 'table', 'inet', TABLE]);
    const found = new Map<number, number>();
    const json = JSON.parse(out) as { nftables: { rule?: { handle: number; expr: unknown[] } }[] };
    for (const item of json.nftables) {
      if (!item.rule) continue;
      for (const e of item.rule.expr) {
        const c = (e as { counter?: { packets: number } }).counter;
        if (c) found.set(item.rule.handle, c.packets);
      }
    }
    return found;
  }

  /** The rules now in our table (text), for checks that a fault was cleared. */
  async rules(): Promise<string[]> {
    const out = await this.nft(['-a', 'list', 'table', 'inet', TABLE]);
    return out
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /# handle \d+$/.test(l) && !/^(chain|table)\b/.test(l));
  }
}

/**
 * Adds a `reject with tcp reset` rule matching `match` (in `chain`), waits until its counter shows at
 * least one packet rejected (a RST sent) or `waitMs` passes, then removes it. Returns the number of
 * RSTs sent (0: the connection carried nothing in the window, the fault did not happen).
 */
export async function injectRst(
  fw: NsFirewall,
  chain: NftChain,
  match: string,
  waitMs = 2_000,
): Promise<number> {
  const [handle] = await fw.add([chain, `${match} tcp flags ! syn,rst counter reject with tcp reset`]);
  let sent = 0;
  try {
    const rounds = Math.ceil(waitMs / 20);
    for (let i = 0; i < rounds && sent === 0; i++) {
      sent = (await fw.counters()).get(handle!) ?? 0;
      if (sent === 0) await sleep(20);
    }
  } finally {
    await fw.remove([chain, handle!]);
  }
  // Packets rejected between the last read and the removal count too.
  return sent;
}

/** Drops every packet in and out of one interface until the returned function is called (it returns the count). */
export function blackhole(fw: NsFirewall, ifname: string): Promise<() => Promise<number>> {
  return dropBothWays(fw, ifname, '');
}

/** Drops `percent`% of packets at random in and out of one interface, until the returned function is called. */
export function randomLoss(fw: NsFirewall, ifname: string, percent: number): Promise<() => Promise<number>> {
  return dropBothWays(fw, ifname, `numgen random mod 100 < ${percent} `);
}

async function dropBothWays(fw: NsFirewall, ifname: string, which: string): Promise<() => Promise<number>> {
  const [inH, outH] = await fw.add(
    ['input', `iifname "${ifname}" ${which}counter drop`],
    ['output', `oifname "${ifname}" ${which}counter drop`],
  );
  return async () => {
    const c = await fw.counters();
    await fw.remove(['input', inH!], ['output', outH!]);
    return (c.get(inH!) ?? 0) + (c.get(outH!) ?? 0);
  };
}
