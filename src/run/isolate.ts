// `ett run --isolate`: CMD in namespaces of its own where the only way out is ett (DESIGN §16). The
// helper (native/isolate/helper.c) makes the namespaces and hands over eight listeners and a ctnetlink
// socket; here they are served: redirected TCP by the client's rules (transparent.ts), DNS from the name
// table (dns-server.ts), other UDP by the rules too (transparent-udp.ts).

import { spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Router } from '../client/router.js';
import { TunnelError } from '../errors.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import { supervise } from './child.js';
import { startDnsServer, type DnsServer } from './dns-server.js';
import type { NameTable } from './names.js';
import { findIsolateHelper, ISOLATE_FDS, loadAddon, recvFdsWithin, type IsolateFds } from './native.js';
import { serveTransparent } from './transparent.js';
import { serveTransparentUdp, type TransparentUdp } from './transparent-udp.js';

export interface IsolateOptions {
  readonly router: Router;
  readonly table: NameTable;
  readonly limits: Limits;
  readonly log: Logger;
  readonly allowDirect: boolean;
}

/** How long the helper may take to set the namespace up and hand its listeners over. */
const HANDOVER_MS = 10_000;

/** The C library's resolver configuration inside: any nameserver will do, every port 53 is ett's. */
const RESOLV_CONF = '# ett run --isolate: every DNS query is answered by ett\nnameserver 127.0.0.53\n';

/** The host's nsswitch.conf with its hosts line made `files dns` (no host daemon answers names). */
export function isolatedNsswitch(host: string): string {
  const lines = host.split('\n').filter((l) => !/^\s*hosts\s*:/.test(l));
  return [...lines.filter((l, i) => l !== '' || i < lines.length - 1), 'hosts: files dns', ''].join('\n');
}

/** Runs file (argv[0] as its name) isolated, to its end; resolves with its status. */
export async function runIsolated(
  file: string,
  argv: string[],
  env: NodeJS.ProcessEnv,
  o: IsolateOptions,
): Promise<number> {
  const addon = await loadAddon('ett run --isolate');
  if ('why' in addon) throw new TunnelError('config', addon.why);
  const helper = await findIsolateHelper();
  if ('why' in helper) throw new TunnelError('config', helper.why);
  const dir = await mkdtemp(path.join(tmpdir(), 'ett-isolate-'));
  const servers: net.Server[] = [];
  const dns: DnsServer[] = [];
  const open: Set<net.Socket>[] = [];
  const udp: TransparentUdp[] = [];
  const udpSockets: dgram.Socket[] = [];
  let conntrack: number | undefined;
  try {
    const resolv = path.join(dir, 'resolv.conf');
    const nss = path.join(dir, 'nsswitch.conf');
    await writeFile(resolv, RESOLV_CONF);
    await writeFile(nss, isolatedNsswitch(await readFile('/etc/nsswitch.conf', 'utf8').catch(() => '')));
    const [mine, theirs] = addon.socketPair();
    const child = spawn(helper.path, [resolv, nss, file, ...argv], {
      argv0: 'ett-isolate',
      env,
      stdio: ['inherit', 'inherit', 'inherit', theirs],
    });
    addon.closeFd(theirs);
    const status = supervise(child, file);
    let got: { text: string; fds: number[] } | null;
    try {
      got = await recvFdsWithin(addon, mine, HANDOVER_MS);
    } finally {
      addon.closeFd(mine);
    }
    if (got === null || got.text !== 'OK\n' || got.fds.length !== ISOLATE_FDS) {
      for (const fd of got?.fds ?? []) addon.closeFd(fd);
      if (got === null) child.kill('SIGKILL');
      const code = await status;
      const why = got?.text.startsWith('E ') ? got.text.slice(2).trim() : `the helper ended (status ${code})`;
      throw new TunnelError('config', `run: ${why}`);
    }
    const [t4, t6, u4, u6, d4, d6, x4, x6, conntrackFd] = got.fds as IsolateFds;
    conntrack = conntrackFd;
    for (const fd of [t4, t6]) {
      const server = net.createServer({ allowHalfOpen: true });
      servers.push(server);
      open.push(serveTransparent(server, { ...o, addon }));
      server.on('error', (err) => o.log.warn(`isolate: ${err.message}`));
      server.listen({ fd });
    }
    for (const [udp, tcp] of [
      [u4, d4],
      [u6, d6],
    ] as const) {
      dns.push(await startDnsServer({ kind: 'fds', udp, tcp }, o));
    }
    for (const [fd, type] of [
      [x4, 'udp4'],
      [x6, 'udp6'],
    ] as const) {
      const socket = dgram.createSocket({ type });
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ fd } as dgram.BindOptions, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      socket.on('error', (err) => o.log.debug(`isolate: udp: ${err.message}`));
      udpSockets.push(socket);
      udp.push(serveTransparentUdp(socket, { ...o, addon, conntrackFd }));
    }
    return await status;
  } finally {
    for (const u of udp) u.close();
    for (const s of udpSockets) s.close();
    if (conntrack !== undefined) addon.closeFd(conntrack);
    for (const set of open) for (const s of set) s.destroy();
    await Promise.all([
      ...servers.map((s) => new Promise<void>((r) => s.close(() => r()))),
      ...dns.map((d) => d.close()),
    ]);
    await rm(dir, { recursive: true, force: true });
  }
}
