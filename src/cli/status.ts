// `ett status` and `ett reload`: ask a running daemon over its control socket (src/observe/control.ts).
// Without --control, the only daemon running for this user is asked (the runtime directory is searched).

import { parseListen } from '../config/inputs.js';
import { TunnelError } from '../errors.js';
import { startWeb } from '../observe/web.js';
import { renderStatus } from '../observe/render.js';
import { findControl, request, watchStatus, type ControlResponse } from '../observe/runtime.js';
import { parseFlags, say } from './common.js';

export const STATUS_OPTIONS = {
  control: { type: 'string' },
  json: { type: 'boolean' },
  watch: { type: 'boolean' },
  web: { type: 'boolean' },
  listen: { type: 'string' },
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
  if (values.listen !== undefined && !values.web) {
    throw new TunnelError('config', 'status: --listen goes with --web');
  }
  const path = await findControl(values.control as string | undefined);
  if (values.web) return serveWeb(path, values.listen as string | undefined);
  const show = (r: ControlResponse): void => {
    if (!r.ok || r.status === undefined)
      throw new TunnelError('general', `status: ${r.error ?? 'no status'}`);
    if (values.json) say(JSON.stringify(r.status));
    else process.stdout.write(renderStatus(r.status).join('\n') + '\n');
  };
  if (!values.watch) {
    show(await request(path, { cmd: 'status' }));
    return 0;
  }
  // One connection that the daemon writes a status to every second (control `watch`).
  const watch = watchStatus(path, WATCH_INTERVAL_MS, (st) => {
    if (!values.json && process.stdout.isTTY) process.stdout.write('\x1b[H\x1b[2J');
    show({ ok: true, status: st });
  });
  const onSignal = (): void => watch.stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await watch.done;
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * `ett status --web`: serves the live page on a loopback port until Ctrl-C (status 0) or the daemon goes
 * (status 1). Rejects with TunnelError('config') for a bad or non-loopback --listen.
 */
async function serveWeb(path: string, listenText = '127.0.0.1:0'): Promise<number> {
  const listen = parseListen(listenText);
  if (typeof listen === 'string')
    throw new TunnelError('config', `status: --listen: ${JSON.stringify(listenText)}: ${listen}`);
  let gone: (err: Error) => void = () => undefined;
  const ended = new Promise<Error | null>((resolve) => {
    gone = resolve;
    const onSignal = (): void => resolve(null);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  const web = await startWeb({
    listen,
    status: async () => {
      // A connection per ask: the view may go unwatched for longer than the daemon's idle deadline.
      const r = await request(path, { cmd: 'status' });
      if (!r.ok || r.status === undefined) throw new TunnelError('general', r.error ?? 'no status');
      return r.status;
    },
    onGone: (err) => gone(err),
  });
  say(`ett status web: ${web.url}`);
  say('Open it in a browser on this machine; the token in it is the only key to the page. Ctrl-C stops.');
  const err = await ended;
  await web.close();
  if (err === null) return 0;
  process.stderr.write(`ett: the daemon stopped answering: ${err.message}\n`);
  return 1;
}

export const RELOAD_OPTIONS = { control: { type: 'string' } } as const;

/**
 * Asks the daemon to re-read its config file and prints what changed, one line each. A config the
 * daemon refused: its message on stderr, exit 2 (the running config stays). Rejects as status does.
 */
export async function reload(args: string[]): Promise<number> {
  const { values } = parseFlags('reload', args, RELOAD_OPTIONS);
  const path = await findControl(values.control as string | undefined);
  const r = await request(path, { cmd: 'reload' }, 60_000);
  if (r.ok) {
    const lines = r.lines ?? [];
    if (lines.length === 0) say('no changes');
    for (const l of lines) say(l);
    return 0;
  }
  throw new TunnelError(r.code === 'config' ? 'config' : 'general', r.error ?? 'reload failed');
}
