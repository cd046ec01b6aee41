// DNS answers from the name table, against queries dig sent (captured bytes), and malformed messages.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { TunnelError } from '../errors.js';
import { encodeName, parseQuery, readName } from '../wire/dns.js';
import { answerDns } from './dns-answer.js';
import { NameTable } from './names.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
// `dig @127.0.0.1 Example.COM AAAA` (EDNS with a cookie option) and `dig +noedns x.y A`, as sent.
const DIG_AAAA = hex(
  '884801200001000000000001074578616d706c6503434f4d00001c000100002904d000000000000c000a0008929a106420559ce2',
);
const DIG_A = hex('72af01200001000000000000017801790000010001');

/** A query for name/type with id 0x1234, RD set, no EDNS. */
function query(name: string, type: number, klass = 1, flags = 0x0100): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(0x1234, 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(klass, 2);
  return Buffer.concat([h, encodeName(name), tail]);
}

test("dig's queries parse: case folded, EDNS seen", () => {
  const q = parseQuery(DIG_AAAA);
  assert.deepEqual(q, {
    id: 0x8848,
    opcode: 0,
    rd: true,
    question: { name: 'example.com', type: 28, class: 1 },
    edns: true,
  });
  assert.equal(parseQuery(DIG_A).edns, false);
  assert.equal(parseQuery(DIG_A).question.name, 'x.y');
});

test('A: the table address, same for the same name; the header and answer bytes', () => {
  const table = new NameTable();
  const r = answerDns(table, DIG_A)!;
  // ID, flags 8580 (QR AA RD RA, NOERROR), 1 question, 1 answer; question echoed; answer c00c A IN TTL 60 len 4.
  assert.deepEqual(
    r,
    hex('72af 8580 0001 0001 0000 0000 0178 0179 00 0001 0001 c00c 0001 0001 0000003c 0004 f0000001'),
  );
  assert.deepEqual(answerDns(table, query('X.Y', 1))!.subarray(-4), hex('f0000001'), 'case folded');
  assert.equal(table.nameFor('240.0.0.1'), 'x.y');
});

test('AAAA: 100::240.x.y.z, with an OPT record since the query had one', () => {
  const table = new NameTable();
  const r = answerDns(table, DIG_AAAA)!;
  assert.equal(r.readUInt16BE(10), 1, 'ARCOUNT 1: the OPT record');
  const at = r.indexOf(hex('c00c 001c 0001'));
  assert.ok(at > 0);
  assert.deepEqual(r.subarray(at + 12, at + 28), hex('0100 0000 0000 0000 0000 0000 f000 0001'));
  assert.deepEqual(r.subarray(-11), hex('00 0029 04d0 00000000 0000'));
});

test('PTR of a table address gives the name back; other reverse names and forgotten ones NXDOMAIN', () => {
  const table = new NameTable();
  answerDns(table, query('git.example.org', 1));
  const r = answerDns(table, query('1.0.0.240.in-addr.arpa', 12))!;
  assert.equal(r[3]! & 0xf, 0);
  assert.ok(r.includes(encodeName('git.example.org')));
  assert.equal(answerDns(table, query('2.0.0.240.in-addr.arpa', 12))![3]! & 0xf, 3);
  assert.equal(answerDns(table, query('1.0.0.127.in-addr.arpa', 12))![3]! & 0xf, 3);
});

test('localhost names are loopback, never table addresses (RFC 6761)', () => {
  const table = new NameTable();
  assert.deepEqual(answerDns(table, query('localhost', 1))!.subarray(-4), hex('7f000001'));
  assert.deepEqual(
    answerDns(table, query('a.localhost', 28))!.subarray(-16),
    hex('00000000000000000000000000000001'),
  );
  assert.equal(table.size, 0);
});

test('other types: NODATA for a host name; NXDOMAIN for a bad name; NOTIMP for another class or opcode', () => {
  const table = new NameTable();
  const mx = answerDns(table, query('example.org', 15))!;
  assert.equal(mx[3]! & 0xf, 0);
  assert.equal(mx.readUInt16BE(6), 0, 'no answer');
  assert.equal(answerDns(table, query('bad name!', 1))![3]! & 0xf, 3);
  assert.equal(answerDns(table, query('version.bind', 16, 3))![3]! & 0xf, 4);
  assert.equal(
    answerDns(table, query('example.org', 1, 1, 0x1000 | 0x0100))![3]! & 0xf,
    4,
    'opcode 2 (STATUS)',
  );
});

test('malformed: FORMERR with the ID when it can be read, else nothing; never a throw', () => {
  const table = new NameTable();
  assert.equal(answerDns(table, hex('')), null);
  assert.equal(answerDns(table, hex('12')), null);
  // A response is never answered (two servers would bounce FORMERRs at each other).
  assert.equal(answerDns(table, hex('1234 8100 0001 0000 0000 0000 00 0001 0001')), null);
  assert.equal(answerDns(table, hex('1234 8180')), null);
  const cases = [
    hex('1234'), // header cut short
    hex('1234 0100 0001 0000 0000 0000 012e 00 0001 0003'), // a label "." (class CH): cannot be echoed
    hex('1234 0100 0001 0000 0000 0000 03612e62 00 0001 0001'), // a label "a.b": cannot be echoed
    hex('1234 0100 0002 0000 0000 0000 00 0001 0001'), // two questions
    hex('1234 0100 0001 0000 0000 0000 03 6162'), // label cut short
    hex('1234 0100 0001 0000 0000 0000 c00c 0001 0001'), // pointer to itself
    hex('1234 0100 0001 0000 0000 0000 40 0001 0001'), // label type 01
    hex('1234 0100 0001 0000 0000 0000 00 0001'), // question cut short
  ];
  for (const c of cases) {
    const r = answerDns(table, c)!;
    assert.equal(r.readUInt16BE(0), 0x1234);
    assert.equal(r[3]! & 0xf, 1, c.toString('hex'));
  }
});

test('names: pointers must point back, at most 255 bytes, labels at most 63', () => {
  const msg = Buffer.concat([hex('000000000000000000000000'), encodeName('a.b'), hex('01 63 c00c')]);
  assert.deepEqual(readName(msg, 17), { name: 'c.a.b', end: 21 });
  assert.throws(
    () => readName(hex('c000'), 0),
    (e) => e instanceof TunnelError && /point back/.test(e.message),
  );
  assert.throws(() => encodeName('a'.repeat(64)), TunnelError);
  const long = Array.from({ length: 5 }, () => 'a'.repeat(60)).join('.');
  assert.throws(() => encodeName(long), /255/);
});
