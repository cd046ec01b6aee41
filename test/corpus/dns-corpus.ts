// The DNS bad-input corpus (dns.json), written by generate.ts. Outcomes from RFC 1035 §4 and the
// contract in src/run/dns-answer.ts's header comment, not from running the code.

import type { DnsEntry } from './entries.js';

const ID = 0xbeef;
const be16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
const name = (...labels: (string | Buffer)[]): Buffer =>
  Buffer.concat([
    ...labels.map((l) => {
      const b = typeof l === 'string' ? Buffer.from(l, 'latin1') : l;
      return Buffer.concat([Buffer.from([b.length]), b]);
    }),
    Buffer.from([0]),
  ]);
/** A header: id, flags, QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT. */
const header = (flags = 0x0100, qd = 1, an = 0, ns = 0, ar = 0): Buffer =>
  Buffer.concat([be16(ID), be16(flags), be16(qd), be16(an), be16(ns), be16(ar)]);
const question = (n: Buffer, type = 1, cls = 1): Buffer => Buffer.concat([n, be16(type), be16(cls)]);
const OPT = Buffer.from('0000291000000000000000', 'hex'); // root, OPT, 4096, rcode/version/flags 0, rdlen 0
const HOST = name('www', 'example', 'com');

export function dns(): DnsEntry[] {
  const out: DnsEntry[] = [];
  const add = (n: string, msg: Buffer, expect: DnsEntry['expect'], more: Partial<DnsEntry> = {}): void => {
    out.push({
      name: n,
      hex: msg.toString('hex'),
      expect,
      ...(expect === 'dropped' ? {} : { id: ID }),
      ...more,
    });
  };
  const valid = Buffer.concat([header(), question(HOST)]);
  add('valid A query', valid, 'NOERROR', { answer: 'A 240.0.0.1' });
  for (let n = 0; n <= 12; n++) {
    add(`first ${n} bytes of a valid query`, valid.subarray(0, n), n < 2 ? 'dropped' : 'FORMERR');
  }
  for (let n = valid.length - 4; n < valid.length; n++) {
    add(`question cut to ${n} bytes (type/class cut)`, valid.subarray(0, n), 'FORMERR');
  }
  add('name cut inside a label', valid.subarray(0, 15), 'FORMERR');
  add('name without its terminating 0', valid.subarray(0, 12 + HOST.length - 1), 'FORMERR');
  for (const qd of [0, 2, 65535])
    add(`QDCOUNT ${qd}`, Buffer.concat([header(0x0100, qd), question(HOST)]), 'FORMERR');
  add('QR set: a response', Buffer.concat([header(0x8180), question(HOST)]), 'dropped');
  add('QR set, header only', header(0x8000), 'dropped');
  add('QR set, 3 bytes', Buffer.from([0xbe, 0xef, 0x80]), 'dropped');
  for (const op of [1, 2, 4, 5, 15]) {
    add(`opcode ${op}`, Buffer.concat([header(0x0100 | (op << 11)), question(HOST)]), 'NOTIMP');
  }
  add(
    'label length 64 (label type 01)',
    Buffer.concat([header(), Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from([0, 0, 1, 0, 1])]),
    'FORMERR',
  );
  add('label type 10 (0x80)', Buffer.concat([header(), Buffer.from([0x80, 0, 0, 1, 0, 1])]), 'FORMERR');
  add('label of 63 bytes', Buffer.concat([header(), question(name('a'.repeat(63), 'com'))]), 'NOERROR', {
    answer: 'A 240.0.0.1',
  });
  const long = (n: number): Buffer => name(...Array.from({ length: n }, () => 'a'.repeat(63)));
  add('name of 257 wire bytes (4 x 63-byte labels)', Buffer.concat([header(), question(long(4))]), 'FORMERR');
  add(
    'name of 255 wire bytes (the longest, 253 characters)',
    Buffer.concat([header(), question(name('a'.repeat(63), 'a'.repeat(63), 'a'.repeat(63), 'a'.repeat(61)))]),
    'NOERROR',
    { answer: 'A 240.0.0.1' },
  );
  add(
    'name of 256 wire bytes',
    Buffer.concat([header(), question(name('a'.repeat(63), 'a'.repeat(63), 'a'.repeat(63), 'a'.repeat(62)))]),
    'FORMERR',
  );
  add('name of 320 wire bytes (5 x 63)', Buffer.concat([header(), question(long(5))]), 'FORMERR');
  add('pointer to itself', Buffer.concat([header(), Buffer.from('c00c00010001', 'hex')]), 'FORMERR');
  add('forward pointer', Buffer.concat([header(), Buffer.from('c00e00010001', 'hex'), HOST]), 'FORMERR');
  add('pointer past the end', Buffer.concat([header(), Buffer.from('ffff00010001', 'hex')]), 'FORMERR');
  add('pointer cut after its first byte', Buffer.concat([header(), Buffer.from('c0', 'hex')]), 'FORMERR');
  add(
    "pointer loop: label a then a pointer to itself's label",
    Buffer.concat([header(), Buffer.from('0161c00c00010001', 'hex')]),
    'FORMERR',
  );
  add(
    'pointer back into the header (ARCOUNT low byte 0 = root)',
    Buffer.concat([header(), Buffer.from('c00b00010001', 'hex')]),
    'NXDOMAIN',
  );
  add('class CH', Buffer.concat([header(), question(HOST, 16, 3)]), 'NOTIMP');
  add('class ANY', Buffer.concat([header(), question(HOST, 1, 255)]), 'NOTIMP');
  add('class 0', Buffer.concat([header(), question(HOST, 1, 0)]), 'NOTIMP');
  add('AAAA', Buffer.concat([header(), question(HOST, 28)]), 'NOERROR', { answer: 'AAAA 100::f000:1' });
  for (const [t, n] of [
    [15, 'MX'],
    [16, 'TXT'],
    [255, 'ANY'],
    [65, 'HTTPS'],
    [12, 'PTR of a host name'],
    [0, 'type 0'],
    [65535, 'type 65535'],
  ] as const) {
    add(`${n} of a host name: NODATA`, Buffer.concat([header(), question(HOST, t)]), 'NOERROR');
  }
  add(
    'PTR of a 240/4 address never handed out',
    Buffer.concat([header(), question(name('254', '255', '7', '240', 'in-addr', 'arpa'), 12)]),
    'NXDOMAIN',
  );
  add(
    'PTR of 127.0.0.1',
    Buffer.concat([header(), question(name('1', '0', '0', '127', 'in-addr', 'arpa'), 12)]),
    'NXDOMAIN',
  );
  add(
    'PTR under ip6.arpa',
    Buffer.concat([header(), question(name('1', '0', 'ip6', 'arpa'), 12)]),
    'NXDOMAIN',
  );
  add('A of localhost', Buffer.concat([header(), question(name('localhost'))]), 'NOERROR', {
    answer: 'A 127.0.0.1',
  });
  add('AAAA of x.localhost', Buffer.concat([header(), question(name('x', 'localhost'), 28)]), 'NOERROR', {
    answer: 'AAAA ::1',
  });
  add('EDNS OPT record', Buffer.concat([header(0x0100, 1, 0, 0, 1), question(HOST), OPT]), 'NOERROR', {
    answer: 'A 240.0.0.1',
    edns: true,
  });
  add(
    'EDNS OPT cut short',
    Buffer.concat([header(0x0100, 1, 0, 0, 1), question(HOST), OPT.subarray(0, 5)]),
    'NOERROR',
    { answer: 'A 240.0.0.1', edns: false },
  );
  add(
    'ARCOUNT 65535, one OPT',
    Buffer.concat([header(0x0100, 1, 0, 0, 65535), question(HOST), OPT]),
    'NOERROR',
    { answer: 'A 240.0.0.1', edns: true },
  );
  add(
    'additional record with a bad name',
    Buffer.concat([header(0x0100, 1, 0, 0, 1), question(HOST), Buffer.from('c0ff', 'hex')]),
    'FORMERR',
  );
  add(
    'OPT record claiming 65535 bytes of data',
    Buffer.concat([
      header(0x0100, 1, 0, 0, 2),
      question(HOST),
      Buffer.from('00002910000000000000ffff', 'hex'),
    ]),
    'NOERROR',
    { answer: 'A 240.0.0.1', edns: true },
  );
  add(
    'ANCOUNT 1 in a query (answers ignored, no EDNS looked for)',
    Buffer.concat([header(0x0100, 1, 1, 0, 1), question(HOST), OPT]),
    'NOERROR',
    { answer: 'A 240.0.0.1', edns: false },
  );
  add('16 trailing bytes', Buffer.concat([valid, Buffer.alloc(16, 0xff)]), 'NOERROR', {
    answer: 'A 240.0.0.1',
  });
  add(
    '65535-byte message (zeros after the question)',
    Buffer.concat([valid, Buffer.alloc(65535 - valid.length)]),
    'NOERROR',
    { answer: 'A 240.0.0.1' },
  );
  add('65536-byte message', Buffer.concat([valid, Buffer.alloc(65536 - valid.length)]), 'FORMERR');
  add('uppercase name', Buffer.concat([header(), question(name('WWW', 'Example', 'COM'))]), 'NOERROR', {
    answer: 'A 240.0.0.1',
  });
  add(
    'UTF-8 name',
    Buffer.concat([header(), question(name(Buffer.from('bücher', 'utf8'), 'example'))]),
    'NXDOMAIN',
  );
  add(
    'latin1 byte e9 in a label',
    Buffer.concat([header(), question(name(Buffer.from([0x63, 0xe9]), 'example'))]),
    'NXDOMAIN',
  );
  add(
    'NUL byte in a label',
    Buffer.concat([header(), question(name(Buffer.from([0x61, 0]), 'example'))]),
    'NXDOMAIN',
  );
  add('space in a label', Buffer.concat([header(), question(name('a b', 'example'))]), 'NXDOMAIN');
  add('a label holding a dot', Buffer.concat([header(), question(name('a.b', 'example'))]), 'FORMERR');
  add('a label "." in class CH', Buffer.concat([header(), question(name('.'), 16, 3)]), 'FORMERR');
  add('root name "." A', Buffer.concat([header(), question(name())]), 'NXDOMAIN');
  add('root name "." NS', Buffer.concat([header(), question(name(), 2)]), 'NXDOMAIN');
  add('RD clear', Buffer.concat([header(0x0000), question(HOST)]), 'NOERROR', { answer: 'A 240.0.0.1' });
  add('TC and Z bits set', Buffer.concat([header(0x0370), question(HOST)]), 'NOERROR', {
    answer: 'A 240.0.0.1',
  });
  add('rcode 5 set in a query', Buffer.concat([header(0x0105), question(HOST)]), 'NOERROR', {
    answer: 'A 240.0.0.1',
  });
  return out;
}
