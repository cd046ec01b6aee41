// ett's addon (native/isolate/addon.c, built at `npm install` into dist/native/ett-native.node) and the
// isolated run's helper program beside it. Without a C compiler or Node's headers the install still
// succeeds and leaves the reason, which these return for ett to say.

import { access, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { NATIVE_DIR } from './library.js';

export interface Addon {
  /** A Unix stream socket pair, both ends close-on-exec. */
  socketPair(): [number, number];
  /** One message and its SCM_RIGHTS descriptors, or null if none came within timeoutMs. */
  recvFds(fd: number, timeoutMs: number): { text: string; fds: number[] } | null;
  /** The destination a connection had before the kernel redirected it (nftables redirect), or null. */
  originalDst(fd: number): { address: string; port: number } | null;
  closeFd(fd: number): void;
  /**
   * The original destination of a redirected UDP flow, asked of connection tracking over a ctnetlink
   * socket (fd) of the namespace: the flow ett sees arrive at local:localPort from peer:peerPort. null
   * when it is not tracked.
   */
  conntrackOrigDst(
    fd: number,
    local: string,
    localPort: number,
    peer: string,
    peerPort: number,
  ): { address: string; port: number } | null;
  /**
   * A ctnetlink socket of ett's own network namespace, for conntrackOrigDst; throws an Error saying why
   * connection tracking cannot be asked (CAP_NET_ADMIN missing, nf_conntrack_netlink absent).
   */
  conntrackOpen(): number;
}

/**
 * The descriptors the isolated run's helper hands over, in its order (native/isolate/helper.c): TCP
 * v4/v6, DNS UDP v4/v6, DNS TCP v4/v6, other UDP v4/v6, and the namespace's ctnetlink socket.
 */
export type IsolateFds = [
  t4: number,
  t6: number,
  u4: number,
  u6: number,
  d4: number,
  d6: number,
  x4: number,
  x6: number,
  conntrack: number,
];

/** How many descriptors the helper hands over. */
export const ISOLATE_FDS = 9;

const HINT = "Install a C compiler (e.g. apt-get install gcc) and run `npm run build` in ett's directory.";

async function why(dir: string, marker: string): Promise<string> {
  const text = await readFile(path.join(dir, marker), 'utf8').catch(() => 'it was not built');
  return text.trim();
}

let loaded: Addon | { why: string } | undefined;

/** The addon, or a sentence saying why there is none. `what` names the feature that needs it. */
export async function loadAddon(what: string, dir = NATIVE_DIR): Promise<Addon | { why: string }> {
  if (loaded !== undefined && dir === NATIVE_DIR) return loaded;
  const file = path.join(dir, 'ett-native.node');
  let result: Addon | { why: string };
  try {
    result = createRequire(import.meta.url)(file) as Addon;
  } catch (err) {
    const reason = (await access(file, constants.R_OK).then(
      () => (err as Error).message,
      () => why(dir, 'UNAVAILABLE-addon'),
    )) as string;
    result = { why: `${what} is unavailable: ett's addon (${file}) is missing: ${reason}. ${HINT}` };
  }
  if (dir === NATIVE_DIR) loaded = result;
  return result;
}

/** The helper program's path, or why there is none. */
export async function findIsolateHelper(dir = NATIVE_DIR): Promise<{ path: string } | { why: string }> {
  const file = path.join(dir, 'ett-isolate');
  try {
    await access(file, constants.X_OK);
    return { path: file };
  } catch {
    return {
      why: `ett run --isolate is unavailable: its helper (${file}) is missing: ${await why(dir, 'UNAVAILABLE-isolate')}. ${HINT}`,
    };
  }
}

/** One message with descriptors on fd, polled every 10 ms for at most timeoutMs; null if none came. */
export async function recvFdsWithin(
  addon: Addon,
  fd: number,
  timeoutMs: number,
): Promise<{ text: string; fds: number[] } | null> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i <= timeoutMs / 10 && Date.now() <= deadline; i++) {
    const got = addon.recvFds(fd, 0);
    if (got !== null) return got;
    await new Promise((r) => setTimeout(r, 10));
  }
  return null;
}

/** The fd under a net.Socket from accept (a TCP handle), or -1. */
export function socketFd(socket: object): number {
  const handle = (socket as { _handle?: { fd?: unknown } })._handle;
  return typeof handle?.fd === 'number' ? handle.fd : -1;
}
