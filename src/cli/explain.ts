// `ett explain HOST:PORT [--config FILE] [--via …] [--default ACTION]`: which rule a target matches and
// the path it would take, without connecting, resolving, or reading the key file.

import { decide, describeAction } from '../client/rules.js';
import { flagInputs, loadClientRouting } from '../config/load.js';
import { TunnelError } from '../errors.js';
import { hostKind, parseTarget, type Target } from '../wire/address.js';
import { parseFlags, say } from './common.js';

export const OPTIONS = {
  via: { type: 'string', multiple: true },
  default: { type: 'string' },
  config: { type: 'string' },
} as const;

/**
 * Prints `<rule or "default"> → <path>` and returns 0. When the target is a name and CIDR rules were
 * passed over, a note on stderr says why (names are never resolved on the client).
 * Rejects with TunnelError('config') (exit 2) for a bad target, flags or config.
 */
export async function explain(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags('explain', args, OPTIONS, ['HOST:PORT']);
  let target: Target;
  try {
    target = parseTarget(positionals[0]!);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new TunnelError('config', `explain: ${JSON.stringify(positionals[0])}: ${reason}`, { cause: err });
  }
  const flags = flagInputs(values);
  const routing = (await loadClientRouting(flags, values.config as string | undefined)).routing;
  const { rule, action } = decide(routing, target);
  if (hostKind(target.host) === 'domain') {
    const passed = routing.rules.slice(0, rule === null ? undefined : routing.rules.indexOf(rule));
    const skipped = passed.filter((r) => r.cidrs !== undefined).map((r) => r.text.split(' ')[0]);
    if (skipped.length > 0) {
      process.stderr.write(
        `note: ${skipped.join(', ')} ${skipped.length === 1 ? 'matches' : 'match'} IP addresses only; ` +
          'a name is never resolved on the client\n',
      );
    }
  }
  if (action.kind === 'direct' && hostKind(target.host) === 'domain') {
    process.stderr.write('note: direct: this machine resolves the name and connects by itself\n');
  }
  say(`${rule?.text ?? 'default'} → ${describeAction(action)}`);
  return 0;
}
