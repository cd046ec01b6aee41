// Real services for the publish tests (ssh -R through a relay), run inside a namespace of the topology:
// an OpenSSH sshd of our own (its own config, host key and authorized_keys for a throwaway key, in a
// temp dir), a TCP service that resets every connection, and the clients that reach them from beyond a
// relay (ssh, a Python socket). Also: a relay of the chain started again with more flags (its publish
// rules), and a bounded poll.

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { sleep, type Cleanup } from './proc.js';
import { run, streamIn, type Download, type Host, type NsProcess, type Topology } from './netns.js';
import { startRelayIn, type Chain, type NsRelay, type RelayName } from './netns-ett.js';

export const SSHD = '/usr/sbin/sshd';

/** null if sshd, ssh, ssh-keygen and python3 run here, else why not (for the skip message). */
export async function sshUnavailable(): Promise<string | null> {
  for (const [file, args] of [
    [SSHD, ['-V']],
    ['ssh', ['-V']],
    ['ssh-keygen', ['-?']],
    ['python3', ['--version']],
  ] as const) {
    const r = await run(file, [...args], 5_000);
    // sshd -V and ssh-keygen -? print their usage and exit 1; only a missing program fails to spawn.
    if (r.code === null || r.code === 127 || /ENOENT/.test(r.stderr))
      return `needs OpenSSH (sshd, ssh, ssh-keygen) and python3: \`${file}\` is missing`;
  }
  return null;
}

export interface Sshd {
  readonly proc: NsProcess;
  /** The throwaway client key (private key file) that authorized_keys lets in. */
  readonly identity: string;
  readonly port: number;
  /** `Accepted publickey … from ADDRESS` lines so far: the peers sshd saw. */
  accepted(): string[];
}

/** sshd -D -e in host's namespace on 127.0.0.1:port, its files in dir; stopped by cleanup. */
export async function startSshd(
  cleanup: Cleanup,
  topo: Topology,
  host: Host,
  dir: string,
  port: number,
): Promise<Sshd> {
  const at = path.join(dir, 'sshd');
  await fs.mkdir(at, { mode: 0o700 });
  const hostKey = path.join(at, 'host_ed25519');
  const identity = path.join(at, 'visitor_ed25519');
  for (const file of [hostKey, identity]) {
    const r = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ett-test', '-f', file]);
    if (r.code !== 0) throw new Error(`ssh-keygen ${file}: exit ${r.code}: ${r.stderr}`);
  }
  const authorized = path.join(at, 'authorized_keys');
  await fs.copyFile(`${identity}.pub`, authorized);
  const config = path.join(at, 'sshd_config');
  await fs.writeFile(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      'PidFile none',
      `AuthorizedKeysFile ${authorized}`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'LogLevel INFO',
      '',
    ].join('\n'),
  );
  // The privilege separation directory sshd insists on (Debian's package makes it at boot only).
  await fs.mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const proc = topo.spawn(cleanup, host, [SSHD, '-D', '-e', '-f', config]);
  await proc.waitForLine(new RegExp(`Server listening on 127\\.0\\.0\\.1 port ${port}`), { stderr: true });
  return {
    proc,
    identity,
    port,
    accepted: () =>
      proc.errLines.filter((l) => /Accepted publickey/.test(l)).map((l) => / from (\S+)/.exec(l)?.[1] ?? '?'),
  };
}

/** ssh argv (no config file, no host key check, key only, bounded) for CMD on host:port as this user. */
export function sshArgv(sshd: Sshd, host: string, port: number, cmd: string): string[] {
  return [
    'ssh',
    '-F',
    '/dev/null',
    '-i',
    sshd.identity,
    '-p',
    String(port),
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'ConnectTimeout=10',
    '-o',
    'LogLevel=ERROR',
    `${process.env.USER ?? 'root'}@${host}`,
    cmd,
  ];
}

// Accepts on 127.0.0.1:PORT, one connection at a time. One that starts with `r` is closed at once with
// SO_LINGER 0 (an RST); any other is read to its end, then `end eof N` or `end reset N` is printed.
const RST_SERVER = `
import socket, struct, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(sys.argv[1])))
s.listen(16)
print('ready', flush=True)
while True:
    c, peer = s.accept()
    first = c.recv(1)
    if first == b'r':
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        c.close()
        continue
    n, how = len(first), 'eof'
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            n += len(d)
    except ConnectionResetError:
        how = 'reset'
    print('end', how, n, flush=True)
    c.close()
`;

// Connects HOST:PORT, sends N bytes, waits half a second, then closes with SO_LINGER 0 (an RST).
const RST_VISITOR = `
import socket, struct, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
s.sendall(b'k' * int(sys.argv[3]))
time.sleep(0.5)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
s.close()
`;

// Connects HOST:PORT, sends MESSAGE, half-closes nothing, copies what it reads to stdout; at the end
// prints to stderr how the read side ended (`eof N`, `reset N` or `timeout N`, N bytes read).
const VISITOR = `
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
s.sendall(sys.argv[3].encode())
n = 0
how = 'eof'
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        n += len(d)
        sys.stdout.buffer.write(d)
        sys.stdout.flush()
except ConnectionResetError:
    how = 'reset'
except socket.timeout:
    how = 'timeout'
print(how, n, file=sys.stderr, flush=True)
`;

/** The resetting service on 127.0.0.1:port in host's namespace. */
export async function startRstServer(
  cleanup: Cleanup,
  topo: Topology,
  host: Host,
  port: number,
): Promise<NsProcess> {
  const proc = topo.spawn(cleanup, host, ['python3', '-u', '-c', RST_SERVER, String(port)]);
  await proc.waitForLine(/^ready$/);
  return proc;
}

/** A visitor in host's namespace that sends size bytes to addr:port, then resets its connection. */
export function resetFrom(topo: Topology, host: Host, addr: string, port: number, size: number) {
  return topo.exec(host, ['python3', '-c', RST_VISITOR, addr, String(port), String(size)], 30_000);
}

/** A raw TCP visitor in host's namespace: sends message to addr:port, streams what it reads (see VISITOR). */
export function visit(topo: Topology, host: Host, addr: string, port: number, message: string): Download {
  return streamIn(topo, host, ['python3', '-c', VISITOR, addr, String(port), message], 40_000);
}

/** Stops a relay of the chain and starts it again with the same key, address and flags plus `more`. */
export async function relayWith(
  cleanup: Cleanup,
  chain: Chain,
  name: RelayName,
  more: readonly string[],
): Promise<NsRelay> {
  const old = chain.relays[name];
  await old.proc.stop();
  const again = await startRelayIn(cleanup, chain.topo, old.host, old.key, [...old.args, ...more]);
  chain.relays[name] = again;
  return again;
}

/** Calls attempt up to `tries` times, `gapMs` apart, until it returns true; the number of calls made, or 0. */
export async function poll(tries: number, gapMs: number, attempt: () => Promise<boolean>): Promise<number> {
  for (let i = 1; i <= tries; i++) {
    if (await attempt()) return i;
    await sleep(gapMs);
  }
  return 0;
}
