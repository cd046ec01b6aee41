// What every command shares: strict flag parsing whose failures are config errors (exit 2), and
// waiting for the signal that ends a long-running command.

import { parseArgs, type ParseArgsConfig } from 'node:util';

import { TunnelError } from '../errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  readonly values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  readonly positionals: string[];
}

/** True if the user asked for a command's help, wherever the flag stands (even among bad flags). */
export function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  const flags = end < 0 ? args : args.slice(0, end);
  return flags.includes('--help') || flags.includes('-h');
}

/**
 * node:util parseArgs in strict mode; `positionals` is how many positional arguments the command
 * takes (all required).
 * Throws TunnelError('config') for an unknown flag, a flag missing its value, or the wrong number of
 * positionals, naming the command so the user knows which --help to read.
 */
export function parseFlags(
  command: string,
  args: string[],
  options: Options,
  positionals: string[] = [],
): Parsed {
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: positionals.length > 0 });
  } catch (err) {
    // Node's messages are long ("To specify a positional argument…"); the first sentence is the point.
    const first = (err instanceof Error ? err.message : String(err)).split(/\. /)[0]!.replace(/\.$/, '');
    throw new TunnelError('config', `${command}: ${first} (see: ett ${command} --help)`);
  }
  if (parsed.positionals.length < positionals.length) {
    const absent = positionals.slice(parsed.positionals.length).join(' ');
    throw new TunnelError('config', `${command}: missing ${absent} (see: ett ${command} --help)`);
  }
  if (parsed.positionals.length > positionals.length) {
    throw new TunnelError(
      'config',
      `${command}: unexpected argument ${JSON.stringify(parsed.positionals.at(-1))}`,
    );
  }
  return parsed;
}

/**
 * Resolves on the first SIGINT or SIGTERM, so the caller can close cleanly. A second signal during that
 * close exits at once (status 130), as users expect of a second Ctrl-C. Never rejects.
 */
export function waitForShutdown(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const first = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', first);
      process.off('SIGTERM', first);
      const again = (): void => process.exit(130);
      process.once('SIGINT', again);
      process.once('SIGTERM', again);
      resolve(signal);
    };
    process.on('SIGINT', first);
    process.on('SIGTERM', first);
  });
}

/** Writes one line to stdout. Never throws (a closed stdout is the reader's business). */
export function say(line: string): void {
  process.stdout.write(line + '\n');
}
