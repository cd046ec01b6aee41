// Replays dns.json (written by generate.ts): each message given to answerDns with a fresh name table,
// then every message sent over UDP to a real DNS port on 127.0.0.1, which must still answer a valid
// query over UDP and TCP afterwards. Failures are reported together, each naming its entry. Then a flood of distinct names
// through a real port past a small name table: the oldest forgotten, a held one kept.

import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { withLimits } from '../../src/limits.js';
import { silentLogger } from '../../src/log.js';
import { answerDns } from '../../src/run/dns-answer.js';
import { startDnsServer } from '../../src/run/dns-server.js';
import { NameTable } from '../../src/run/names.js';
import { readName } from '../../src/wire/dns.js';
import { formatIp } from '../../src/wire/ip.js';
import type { DnsEntry } from './entries.js';

const CORPUS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'corpus');
const entries = (JSON.parse(readFileSync(join(CORPUS, 'dns.json'), 'utf8')) as { entries: DnsEntry[] })
  .entries;
const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
/** UDP cannot carry more (65535 - 8 UDP - 20 IPv4 header). */
const UDP_MAX = 65_507;

/** What a response says: its ID, rcode name, first answer as "A x" / "AAAA x", and whether it has an OPT. */
function describe(r: Buffer): { id: number; rcode: string; answer?: string; edns: boolean } {
  assert.ok(r.length >= 12, 'a response has a header');
  assert.ok((r[2]! & 0x80) !== 0, 'QR set');
  const id = r.readUInt16BE(0);
  const rcode = RCODES[r[3]! & 0xf] ?? `rcode ${r[3]! & 0xf}`;
  const an = r.readUInt16BE(6);
  const ar = r.readUInt16BE(10);
  let answer: string | undefined;
  if (r.readUInt16BE(4) === 1) {
    let at = readName(r, 12).end + 4;
    if (an > 0) {
      const rr = readName(r, at).end;
      const type = r.readUInt16BE(rr);
      const len = r.readUInt16BE(rr + 8);
      const data = r.subarray(rr + 10, rr + 10 + len);
      const family = type === 1 ? 4 : 6;
      answer = `${type === 1 ? 'A' : type === 28 ? 'AAAA' : `type ${type}`} ${formatIp({ family, bytes: data } as never)}`;
      at = rr + 10 + len;
    }
  }
  return { id, rcode, ...(answer === undefined ? {} : { answer }), edns: ar === 1 };
}

function check(e: DnsEntry, r: Buffer | null, fresh: boolean): void {
  if (e.expect === 'dropped') {
    assert.equal(r, null, 'no answer');
    return;
  }
  assert.ok(r !== null, 'an answer');
  const d = describe(r);
  assert.equal(d.rcode, e.expect, 'rcode');
  assert.equal(d.id, e.id, 'id');
  if (fresh) assert.equal(d.answer, e.answer, 'answer');
  else assert.equal(d.answer?.split(' ')[0], e.answer?.split(' ')[0], 'answer type');
  if (e.edns !== undefined) assert.equal(d.edns, e.edns, 'OPT record');
}

function collect(failures: string[], e: DnsEntry, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    failures.push(`${e.name} [${e.hex.slice(0, 80)}]: ${(err as Error).message}`);
  }
}

test(`corpus dns.json: ${entries.length} entries through answerDns`, () => {
  assert.ok(entries.length > 0);
  const failures: string[] = [];
  for (const e of entries)
    collect(failures, e, () => check(e, answerDns(new NameTable(), Buffer.from(e.hex, 'hex')), true));
  assert.deepEqual(failures, []);
});

function udpAsk(port: number, msg: Buffer, wait: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const done = (r: Buffer | null): void => {
      clearTimeout(timer);
      s.close();
      resolve(r);
    };
    const timer = setTimeout(() => done(null), wait);
    s.on('message', (m) => done(m));
    s.on('error', () => done(null));
    s.send(msg, port, '127.0.0.1');
  });
}

function tcpAsk(port: number, msg: Buffer): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => finish(null), 5_000);
    const finish = (r: Buffer | null): void => {
      clearTimeout(timer);
      c.destroy();
      resolve(r);
    };
    c.on('connect', () => c.write(Buffer.concat([Buffer.from([msg.length >> 8, msg.length & 0xff]), msg])));
    c.on('data', (d) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0))
        finish(got.subarray(2, 2 + got.readUInt16BE(0)));
    });
    c.on('error', () => finish(null));
  });
}

test('corpus dns.json over UDP to a real DNS port, which keeps serving UDP and TCP', async () => {
  const s = await startDnsServer(
    { kind: 'address', address: { host: '127.0.0.1', port: 0 } },
    { table: new NameTable(), limits: withLimits(), log: silentLogger },
  );
  try {
    const udp = s.udpAddress!.port;
    const failures: string[] = [];
    let sent = 0;
    for (const e of entries) {
      const msg = Buffer.from(e.hex, 'hex');
      if (msg.length > UDP_MAX) continue; // not a datagram ett could be sent
      sent++;
      // A dropped message waits out a short timer (no answer is the outcome); an answer comes at once.
      const r = await udpAsk(udp, msg, e.expect === 'dropped' ? 300 : 5_000);
      collect(failures, e, () => check(e, r, false));
    }
    assert.deepEqual(failures, []);
    assert.ok(sent > 50, `sent ${sent}`);
    const valid = Buffer.from(entries.find((e) => e.name === 'valid A query')!.hex, 'hex');
    const u = await udpAsk(udp, valid, 5_000);
    assert.ok(u !== null, 'still answers over UDP');
    assert.equal(describe(u).rcode, 'NOERROR');
    assert.match(describe(u).answer ?? '', /^A 240\./);
    const t = await tcpAsk(s.tcpAddress!.port, valid);
    assert.ok(t !== null, 'still answers over TCP');
    assert.equal(describe(t).rcode, 'NOERROR');
    assert.match(describe(t).answer ?? '', /^A 240\./);
  } finally {
    await s.close();
  }
});

/** A query for name's type-A record with the given ID. */
function query(id: number, name: string, type = 1): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const h = Buffer.from([id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([h, ...labels, Buffer.from([0, type >> 8, type & 0xff, 0, 1])]);
}

test('a flood of distinct names past the table bound: the oldest forgotten, a held one kept, the port answers', async () => {
  const table = new NameTable(4, 1000);
  const s = await startDnsServer(
    { kind: 'address', address: { host: '127.0.0.1', port: 0 } },
    { table, limits: withLimits(), log: silentLogger },
  );
  try {
    const udp = s.udpAddress!.port;
    const first = describe((await udpAsk(udp, query(1, 'held.example'), 5_000))!).answer!.split(' ')[1]!;
    const second = describe((await udpAsk(udp, query(2, 'old.example'), 5_000))!).answer!.split(' ')[1]!;
    const release = table.hold(first); // an open connection to held.example
    for (let i = 0; i < 40; i++) {
      const r = await udpAsk(udp, query(100 + i, `flood${i}.example`), 5_000);
      assert.ok(r !== null, `flood${i} answered`);
      assert.equal(describe(r).rcode, 'NOERROR');
    }
    assert.ok(table.size <= 4, `table holds ${table.size}`);
    const ptr = (ip: string): Buffer => query(7, `${ip.split('.').reverse().join('.')}.in-addr.arpa`, 12);
    assert.equal(describe((await udpAsk(udp, ptr(first), 5_000))!).rcode, 'NOERROR', 'held name kept');
    assert.equal(table.nameFor(first), 'held.example');
    assert.equal(describe((await udpAsk(udp, ptr(second), 5_000))!).rcode, 'NXDOMAIN', 'oldest forgotten');
    assert.equal(table.nameFor(second), undefined);
    release();
    const again = await tcpAsk(s.tcpAddress!.port, query(9, 'after.example'));
    assert.ok(again !== null);
    assert.match(describe(again).answer ?? '', /^A 240\./);
  } finally {
    await s.close();
  }
});
