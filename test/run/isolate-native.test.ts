// The isolated run's native parts on their own (native/isolate/): the addon's system calls, and the
// helper driven as `ett run --isolate` drives it: CMD (real curl and busybox) in its own namespaces,
// every TCP connection to any address redirected to a listener ett holds with its original
// destination readable, every DNS query redirected to ett's DNS sockets, nothing else out, no
// capability left to CMD, CMD's exit status passed back.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  findIsolateHelper,
  loadAddon,
  recvFdsWithin,
  socketFd,
  type Addon,
  type IsolateFds,
} from '../../src/run/native.js';

const addon = await loadAddon('this test');
const helper = await findIsolateHelper();
const missing =
  'why' in addon
    ? addon.why
    : 'why' in helper
      ? helper.why
      : spawnSync('nft', ['--version']).status !== 0
        ? 'nft (Debian nftables) is not installed'
        : process.getuid?.() !== 0 &&
            spawnSync('unshare', ['--user', '--net', 'true'], { timeout: 10_000 }).status !== 0
          ? 'neither root nor unprivileged user namespaces'
          : false;

test(
  'addon: a socket pair carries descriptors; recvFds waits at most its timeout; originalDst of a plain connection is null',
  { skip: 'why' in addon && addon.why },
  async () => {
    const a = addon as Addon;
    const [x, y] = a.socketPair();
    assert.equal(a.recvFds(x, 0), null);
    a.closeFd(y);
    const closed = a.recvFds(x, 0); // peer gone: an empty message, no descriptors
    assert.deepEqual(closed, { text: '', fds: [] });
    a.closeFd(x);
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
    const c = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    const s = await accepted;
    assert.ok(socketFd(s) > 2);
    assert.equal(a.originalDst(socketFd(s)), null); // not redirected: nothing to recover
    c.destroy();
    s.destroy();
    server.close();
    assert.throws(() => a.originalDst(-1), /getsockname/);
  },
);

interface Run {
  status: number;
  stdout: string;
  connections: { address: string; port: number }[];
  dns: string[];
  /** Other UDP: the original destinations connection tracking gave, as address:port. */
  udp: string[];
}

/**
 * Runs `sh -c script` through the helper, serving its redirected TCP and DNS as ett would; as the user
 * `uid` (its own group too) when given, which needs root here.
 */
async function isolated(script: string, uid?: number): Promise<Run> {
  const a = addon as Addon;
  const dir = mkdtempSync(path.join(tmpdir(), 'ett-iso-'));
  if (uid !== undefined) chmodSync(dir, 0o755);
  try {
    writeFileSync(path.join(dir, 'resolv.conf'), 'nameserver 127.0.0.53\n');
    writeFileSync(path.join(dir, 'nsswitch.conf'), 'hosts: files dns\n');
    const [mine, theirs] = a.socketPair();
    const child = spawn(
      (helper as { path: string }).path,
      [path.join(dir, 'resolv.conf'), path.join(dir, 'nsswitch.conf'), '/bin/sh', 'sh', '-c', script],
      { stdio: ['ignore', 'pipe', 'inherit', theirs], ...(uid === undefined ? {} : { uid, gid: uid }) },
    );
    a.closeFd(theirs);
    const got = await recvFdsWithin(a, mine, 10_000);
    a.closeFd(mine);
    assert.ok(got !== null, 'the helper handed over nothing within 10 s');
    assert.equal(got.text, 'OK\n', got.text);
    assert.equal(got.fds.length, 9);
    const [t4, t6, u4, u6, d4, d6, x4, x6, ct] = got.fds as IsolateFds;
    const run: Run = { status: -1, stdout: '', connections: [], dns: [], udp: [] };
    const servers: net.Server[] = [];
    for (const fd of [t4, t6]) {
      const server = net.createServer((s) => {
        const dst = a.originalDst(socketFd(s));
        if (dst !== null) run.connections.push(dst);
        s.end('HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n');
      });
      server.listen({ fd });
      servers.push(server);
    }
    for (const fd of [d4, d6]) {
      const server = net.createServer((s) => {
        run.dns.push('tcp');
        s.destroy();
      });
      server.listen({ fd });
      servers.push(server);
    }
    const sockets: dgram.Socket[] = [];
    for (const fd of [u4, u6]) {
      const u = dgram.createSocket('udp4');
      u.bind({ fd } as dgram.BindOptions);
      u.on('message', (_m, from) => run.dns.push(`udp from ${from.address}`));
      sockets.push(u);
    }
    for (const [fd, type] of [
      [x4, 'udp4'],
      [x6, 'udp6'],
    ] as const) {
      const u = dgram.createSocket(type);
      u.bind({ fd } as dgram.BindOptions, () => {
        const local = u.address();
        u.on('message', (m, from) => {
          const dst = a.conntrackOrigDst(ct, local.address, local.port, from.address, from.port);
          run.udp.push(dst === null ? 'unknown' : `${dst.address}:${dst.port}`);
          u.send(Buffer.concat([Buffer.from('re:'), m]), from.port, from.address);
        });
      });
      sockets.push(u);
    }
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (run.stdout += d));
    run.status = await new Promise<number>((r) => child.once('exit', (code) => r(code ?? -1)));
    for (const s of servers) s.close();
    for (const u of sockets) u.close();
    a.closeFd(ct);
    return run;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test(
  'helper: every TCP destination reaches ett with its original address; DNS to any resolver reaches ett; CMD keeps no capability; its status passes back',
  { skip: missing },
  async () => {
    const run = await isolated(
      [
        'curl -s -m 5 http://192.0.2.7:8080/a',
        'curl -s -m 5 http://[2001:db8::1]:81/b',
        'curl -s -m 5 http://240.0.0.9/c',
        'busybox nslookup -timeout=1 example.org 9.9.9.9 >/dev/null 2>&1',
        'busybox nslookup -type=a -timeout=1 example.org >/dev/null 2>&1',
        'nft list ruleset >/dev/null 2>&1 && echo CAPABLE',
        'ip link add dummy0 type dummy 2>/dev/null && echo CAPABLE',
        'exit 7',
      ].join('; '),
    );
    assert.equal(run.status, 7);
    assert.equal(run.stdout, 'ok\nok\nok\n');
    assert.deepEqual(run.connections, [
      { address: '192.0.2.7', port: 8080 },
      { address: '2001:db8::1', port: 81 },
      { address: '240.0.0.9', port: 80 },
    ]);
    assert.ok(run.dns.includes('udp from 9.9.9.9'), `DNS seen: ${run.dns.join(', ')}`);
    assert.ok(run.dns.includes('udp from 127.0.0.1'), `DNS seen: ${run.dns.join(', ')}`);
  },
);

test(
  "helper: CMD's loopback is its own; UDP elsewhere reaches ett with its original destination and is answered from there; the exit by a signal",
  { skip: missing },
  async () => {
    const run = await isolated(
      [
        // a server CMD starts on 127.0.0.1 answers CMD, not ett; UDP to elsewhere reaches ett, whose
        // answer CMD sees come from where it sent (two destinations from one socket, and IPv6)
        `python3 -c '${[
          'import socket',
          's=socket.socket(); s.bind(("127.0.0.1",0)); s.listen()',
          'c=socket.create_connection(s.getsockname()); a,_=s.accept(); a.sendall(b"mine"); print(c.recv(9).decode())',
          'u=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); u.settimeout(5)',
          'u.sendto(b"x",("192.0.2.8",5000)); print(u.recvfrom(64))',
          'u.sendto(b"y",("192.0.2.8",5001)); print(u.recvfrom(64))',
          'v=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM); v.settimeout(5)',
          'v.sendto(b"z",("2001:db8::8",5002)); r=v.recvfrom(64); print(r[0], r[1][:2])',
        ].join('; ')}'`,
        'kill -TERM $$',
      ].join('; '),
    );
    assert.equal(
      run.stdout,
      "mine\n(b're:x', ('192.0.2.8', 5000))\n(b're:y', ('192.0.2.8', 5001))\nb're:z' ('2001:db8::8', 5002)\n",
    );
    assert.deepEqual(run.connections, []); // the loopback connection did not reach ett
    assert.deepEqual(run.dns, []);
    assert.deepEqual(run.udp, ['192.0.2.8:5000', '192.0.2.8:5001', '2001:db8::8:5002']);
    assert.equal(run.status, -1); // killed by SIGTERM: the helper raised it on itself
  },
);

const NOBODY = 65534;
const unprivileged =
  missing ||
  (process.getuid?.() !== 0
    ? 'this test starts the helper as another user, which needs root'
    : spawnSync('unshare', ['--user', '--map-root-user', '--net', 'true'], {
          uid: NOBODY,
          gid: NOBODY,
          timeout: 10_000,
        }).status !== 0
      ? 'unprivileged user namespaces are not allowed here (user.max_user_namespaces, or a distribution switch)'
      : spawnSync((helper as { path: string }).path, [], { uid: NOBODY, gid: NOBODY, timeout: 10_000 })
            .error !== undefined
        ? `uid ${NOBODY} cannot run ${(helper as { path: string }).path} (a directory above it is private to its owner)`
        : false);

test(
  'helper, rootless: started by an unprivileged user (uid 65534), it builds the same namespace through a user namespace; TCP, DNS and UDP reach ett',
  { skip: unprivileged },
  async () => {
    const run = await isolated(
      [
        'id -u',
        'curl -s -m 5 http://192.0.2.7:8080/a',
        'busybox nslookup -timeout=1 example.org 9.9.9.9 >/dev/null 2>&1',
        `python3 -c 'import socket; u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(5); u.sendto(b"x", ("192.0.2.8", 5000)); print(u.recvfrom(16)[0].decode())'`,
        'ip link add dummy0 type dummy 2>/dev/null && echo CAPABLE',
        'exit 3',
      ].join('; '),
      NOBODY,
    );
    assert.equal(run.status, 3);
    // CMD sees itself as the user who started it, with no capability (no CAPABLE line).
    assert.equal(run.stdout, `${NOBODY}\nok\nre:x\n`);
    assert.deepEqual(run.connections, [{ address: '192.0.2.7', port: 8080 }]);
    assert.ok(run.dns.includes('udp from 9.9.9.9'), `DNS seen: ${run.dns.join(', ')}`);
    assert.deepEqual(run.udp, ['192.0.2.8:5000']);
  },
);
