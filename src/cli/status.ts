// `ett status` and `ett reload`: ask a running daemon over its control socket (src/observe/control.ts).
// Without --control, the only daemon running for this user is asked (the runtime directory is searched).

import { TunnelError } from '../errors.js';
import { renderStatus } from '../observe/render.js';
import { ControlConnection, findControl, request } from '../observe/runtime.js';
import { parseFlags, say } from './common.js';

const STATUS_OPTIONS = {
  control: { type: 'string' },
  json: { type: 'boolean' },
  watch: { type: 'boolean' },
} as const;

/** --watch redraws this often, ms. */
export const WATCH_INTERVAL_MS = 1000;

/**
 * Prints the daemon's status once (or every second with --watch, until Ctrl-C or the daemon goes).
 * Rejects with TunnelError('config') (exit 2) for bad flags or no daemon to ask; 'refused'/'link-down'
 * (exit 1) when the daemon cannot be reached or goes away.
 */
export async function status(args: string[]): Promise<number> {
  const { values } = parseFlags('status', args, STATUS_OPTIONS);
  const path = await findControl(values.control as string | undefined);
  const show = (r: Awaited<ReturnType<ControlConnection['ask']>>): void => {
    if (!r.ok || r.status === undefined)
      throw new TunnelError('general', `status: ${r.error ?? 'no status'}`);
    if (values.json) say(JSON.stringify(r.status));
    else process.stdout.write(renderStatus(r.status).join('\n') + '\n');
  };
  if (!values.watch) {
    show(await request(path, { cmd: 'status' }));
    return 0;
  }
  const conn = new ControlConnection(path);
  let stop = false;
  const onSignal = (): void => {
    stop = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    while (!stop) {
      const r = await conn.ask({ cmd: 'status' });
      if (!values.json && process.stdout.isTTY) process.stdout.write('\x1b[H\x1b[2J');
      show(r);
      await new Promise((resolve) => setTimeout(resolve, WATCH_INTERVAL_MS));
    }
    return 0;
  } finally {
    conn.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

const RELOAD_OPTIONS = { control: { type: 'string' } } as const;

/**
 * Asks the daemon to re-read its config file and prints what changed, one line each. A config the
 * daemon refused: its message on stderr, exit 2 (the running config stays). Rejects as status does.
 */
export async function reload(args: string[]): Promise<number> {
  const { values } = parseFlags('reload', args, RELOAD_OPTIONS);
  const path = await findControl(values.control as string | undefined);
  const r = await request(path, { cmd: 'reload' }, 60_000);
  if (r.ok) {
    for (const l of r.lines ?? []) say(l);
    return 0;
  }
  throw new TunnelError(r.code === 'config' ? 'config' : 'general', r.error ?? 'reload failed');
}
