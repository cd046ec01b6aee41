// The Unix socket on which `ett run` answers its preload library (native/names.c): one question per
// connection, one line each way.
//   "N <name>\n" → "A <240.x.y.z>\n"     the address that stands for name (handed out if new)
//   "R <240.x.y.z>\n" → "N <name>\n"     the name an address stands for
//   anything else, or an unknown address → "E <reason>\n"
// The socket lives in a fresh 0700 directory, so only this user's processes can ask. Bounded: a line
// of at most LINE_MAX bytes, DEADLINE_MS per connection, CONNECTIONS_MAX at once.

import { mkdtemp, rm } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Logger } from '../log.js';
import { NameTable } from './names.js';

const LINE_MAX = 300;
const DEADLINE_MS = 5_000;
const CONNECTIONS_MAX = 256;

export interface NameService {
  /** The socket's path (ETT_RUN_NAMES). */
  readonly path: string;
  readonly table: NameTable;
  close(): Promise<void>;
}

/** The answer to one question line (without its newline). Pure. */
export function answer(table: NameTable, line: string): string {
  if (line.startsWith('N ')) {
    const address = table.addressFor(line.slice(2));
    return address === null ? 'E not a host name' : `A ${address}`;
  }
  if (line.startsWith('R ')) {
    const name = table.nameFor(line.slice(2));
    return name === undefined ? 'E no name for this address (forgotten, or never handed out)' : `N ${name}`;
  }
  return 'E bad question';
}

export async function startNameService(log: Logger, table = new NameTable()): Promise<NameService> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ett-run-'));
  const file = path.join(dir, 'names.sock');
  const server = net.createServer((socket) => {
    let buffered = '';
    socket.setEncoding('latin1');
    socket.setTimeout(DEADLINE_MS, () => socket.destroy());
    socket.on('error', () => undefined);
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const nl = buffered.indexOf('\n');
      if (nl < 0) {
        if (buffered.length > LINE_MAX) socket.end('E question too long\n');
        return;
      }
      const reply = answer(table, buffered.slice(0, nl));
      if (reply.startsWith('E')) log.debug(`name service: ${reply.slice(2)}`);
      socket.end(reply + '\n');
      socket.removeAllListeners('data');
    });
  });
  server.maxConnections = CONNECTIONS_MAX;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(file, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    path: file,
    table,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
