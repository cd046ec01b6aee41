// The DNS port with dig (Debian bind9-dnsutils) over UDP and TCP, on an address and on adopted
// descriptors; malformed messages and a TCP flood are bounded outcomes.
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { test } from 'node:test';

import { withLimits } from '../limits.js';
import { silentLogger } from '../log.js';
import { startDnsServer } from './dns-server.js';
import { NameTable } from './names.js';

const haveDig = spawnSync('dig', ['-v'], { timeout: 10_000 }).status === 0;
const skip = haveDig ? false : 'dig is not installed (Debian bind9-dnsutils; .ci/run installs it)';

function dig(port: number, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      'dig',
      ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=3', '+short', ...args],
      { timeout: 20_000 },
      (_e, out) => resolve(out.trim()),
    );
  });
}

test('dig over UDP and TCP: A, AAAA, PTR from one table', { skip }, async () => {
  const table = new NameTable();
  const s = await startDnsServer(
    { kind: 'address', address: { host: '127.0.0.1', port: 0 } },
    { table, limits: withLimits(), log: silentLogger },
  );
  try {
    assert.equal(s.udpAddress?.port !== undefined, true);
    const udpPort = s.udpAddress!.port;
    const tcpPort = s.tcpAddress!.port;
    assert.equal(await dig(udpPort, ['only.exit.example', 'A']), '240.0.0.1');
    assert.equal(await dig(udpPort, ['only.exit.example', 'AAAA']), '100::f000:1');
    assert.equal(await dig(tcpPort, ['+tcp', 'second.example', 'A']), '240.0.0.2');
    assert.equal(await dig(tcpPort, ['+tcp', '-x', '240.0.0.1']), 'only.exit.example.');
    assert.equal(await dig(udpPort, ['localhost', 'A']), '127.0.0.1');
    assert.ok(s.counts.answered >= 5);
  } finally {
    await s.close();
  }
});

test('adopted descriptors: a UDP and a TCP socket another process opened are served', { skip }, async () => {
  // Python opens and binds both sockets (as the isolated run's helper does inside a namespace), then
  // execs node with them as fds 3 and 4; that node serves DNS on them and prints the ports.
  const serve = [
    `import { startDnsServer } from ${JSON.stringify(new URL('./dns-server.js', import.meta.url).href)};`,
    `import { NameTable } from ${JSON.stringify(new URL('./names.js', import.meta.url).href)};`,
    `import { withLimits } from ${JSON.stringify(new URL('../limits.js', import.meta.url).href)};`,
    `import { silentLogger } from ${JSON.stringify(new URL('../log.js', import.meta.url).href)};`,
    "const s = await startDnsServer({ kind: 'fds', udp: 3, tcp: 4 }, { table: new NameTable(), limits: withLimits(), log: silentLogger });",
    'console.log(s.udpAddress.port, s.tcpAddress.port);',
  ].join('\n');
  const py = [
    'import os, socket, sys',
    'u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))',
    't = socket.socket(socket.AF_INET, socket.SOCK_STREAM); t.bind(("127.0.0.1", 0)); t.listen(16)',
    'os.dup2(u.fileno(), 3); os.dup2(t.fileno(), 4)',
    'os.set_inheritable(3, True); os.set_inheritable(4, True)',
    'os.execv(sys.argv[1], [sys.argv[1], "--input-type=module", "-e", sys.argv[2]])',
  ].join('\n');
  const child = spawn('/usr/bin/python3', ['-c', py, process.execPath, serve], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no ports from the child')), 15_000);
      child.stdout!.once('data', (d: Buffer) => {
        clearTimeout(timer);
        resolve(d.toString().trim());
      });
    });
    const [udpPort, tcpPort] = line.split(' ').map(Number);
    assert.equal(await dig(udpPort!, ['fd.example', 'A']), '240.0.0.1');
    assert.equal(await dig(tcpPort!, ['+tcp', 'fd.example', 'A']), '240.0.0.1');
  } finally {
    child.kill('SIGTERM');
  }
});

test(
  'garbage over UDP gets FORMERR or nothing; TCP connections beyond the bound are closed; the port keeps answering',
  { skip },
  async () => {
    const limits = withLimits({ dnsTcpConnectionsMax: 4, dnsTcpIdleTimeoutMs: 60_000 });
    const s = await startDnsServer(
      { kind: 'address', address: { host: '127.0.0.1', port: 0 } },
      { table: new NameTable(), limits, log: silentLogger },
    );
    try {
      const c = dgram.createSocket('udp4');
      const got: Buffer[] = [];
      c.on('message', (m) => got.push(m));
      await new Promise<void>((r) => c.bind(0, '127.0.0.1', r));
      // 'ffff…' has QR set (a response): never answered; '1234 0100 ffff…' claims 65535 questions: FORMERR.
      const junkList = [
        '',
        '12',
        '1234',
        'ffffffffffffffffffffffffffff',
        '12340100ffff00000000000000',
        '1234010000010000000000000c',
      ];
      for (const junk of junkList) {
        c.send(Buffer.from(junk, 'hex'), s.udpAddress!.port, '127.0.0.1');
      }
      for (let i = 0; i < 50 && got.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
      c.close();
      assert.equal(got.length, 3, 'three carried an ID: FORMERR each');
      for (const g of got) assert.equal(g[3]! & 0xf, 1);
      const held: net.Socket[] = [];
      for (let i = 0; i < 8; i++) {
        const sock = net.connect(s.tcpAddress!.port, '127.0.0.1');
        sock.on('error', () => undefined);
        held.push(sock);
        await new Promise((r) => sock.once('connect', r));
      }
      await new Promise((r) => setTimeout(r, 200));
      const closed = held.filter((h) => h.destroyed || h.readableEnded).length;
      assert.ok(closed >= 4, `${closed} of 8 closed at the bound of 4`);
      for (const h of held) h.destroy();
      assert.equal(await dig(s.udpAddress!.port, ['still.example', 'A']), '240.0.0.1');
      assert.ok(s.counts.malformed >= 5);
    } finally {
      await s.close();
    }
  },
);
