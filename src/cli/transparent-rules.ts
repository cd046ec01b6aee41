// `ett transparent-rules [--config FILE] [--transparent PORT] [--dns PORT] [--router IFACE]
// [--uid-exclude USER] [--udp]`: prints the nftables ruleset (run/nft-rules.ts) that sends this machine's or a
// LAN interface's TCP and DNS to a client's transparent and DNS ports, for `nft -f -`. The ports come
// from the flags or from the client's config file (its `transparent` and `dns`); nothing is applied here.

import { readConfigFile } from '../config/load.js';
import { bad, parseListen, type Given } from '../config/inputs.js';
import { TunnelError } from '../errors.js';
import { transparentRuleset } from '../run/nft-rules.js';
import { parseFlags } from './common.js';

export const OPTIONS = {
  config: { type: 'string' },
  transparent: { type: 'string' },
  dns: { type: 'string' },
  router: { type: 'string' },
  'uid-exclude': { type: 'string' },
  udp: { type: 'boolean' },
} as const;

export async function transparentRules(args: string[]): Promise<number> {
  const parsed = parseFlags('transparent-rules', args, OPTIONS).values;
  const udp = parsed.udp === true;
  const values = parsed as Partial<Record<string, string>>;
  const file = values.config === undefined ? new Map<string, Given>() : await readConfigFile(values.config);
  const port = (key: 'transparent' | 'dns'): number => {
    const flag = values[key];
    const g: Given | undefined =
      flag === undefined ? file.get(key) : { value: flag, origin: { kind: 'flag' } };
    if (g === undefined) {
      throw new TunnelError(
        'config',
        `transparent-rules: missing --${key} PORT (or \`${key}\` in the client config given by --config)`,
      );
    }
    if (typeof g.value !== 'string') throw bad(g, key, undefined, 'must be a string "HOST:PORT"');
    // A bare port will do on the command line; the file's value is the client's HOST:PORT.
    const text = g.origin.kind === 'flag' && /^\d+$/.test(g.value) ? `localhost:${g.value}` : g.value;
    const t = parseListen(text);
    if (typeof t === 'string') throw bad(g, key, undefined, `${JSON.stringify(g.value)}: ${t}`);
    if (t.port === 0) throw bad(g, key, undefined, 'the port must be fixed (not 0) for the rules to name it');
    return t.port;
  };
  process.stdout.write(
    transparentRuleset({
      transparentPort: port('transparent'),
      dnsPort: port('dns'),
      ...(values.router === undefined ? {} : { router: values.router }),
      ...(values['uid-exclude'] === undefined ? {} : { uidExclude: values['uid-exclude'] }),
      udp,
    }),
  );
  return 0;
}
