// A command run for `ett run` to its end: its status is ours (128 + the signal's number if it was
// killed), and the signals a user sends to ett are passed on to it (SIGINT is not: from a terminal, the
// command's process group gets its own).

import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';

const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** Resolves with child's status once it ended; `file` names it in the message if it cannot start. */
export function supervise(child: ChildProcess, file: string): Promise<number> {
  return new Promise((resolve) => {
    const pass = (signal: NodeJS.Signals): void => {
      child.kill(signal);
    };
    const ignore = (): void => undefined;
    for (const s of FORWARDED) process.on(s, pass);
    process.on('SIGINT', ignore);
    const done = (status: number): void => {
      for (const s of FORWARDED) process.off(s, pass);
      process.off('SIGINT', ignore);
      resolve(status);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      process.stderr.write(`ett run: cannot run ${file}: ${err.message}\n`);
      done(err.code === 'ENOENT' ? 127 : 126);
    });
    child.once('exit', (code, signal) => {
      done(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}
