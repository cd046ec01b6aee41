import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  embeddedIpv4,
  formatIp,
  inCidr,
  parseIp,
  parseIpLoose,
  sameIp,
  unmapIp,
  type IpAddress,
} from './ip.js';

const hex = (ip: IpAddress | null): string | null => (ip ? Buffer.from(ip.bytes).toString('hex') : null);
const must = (text: string): IpAddress => {
  const ip = parseIp(text);
  assert.ok(ip, `expected ${text} to parse`);
  return ip;
};

test('parseIp: strict literals as bytes', () => {
  const vectors: [string, string][] = [
    ['0.0.0.0', '00000000'],
    ['127.0.0.1', '7f000001'],
    ['255.255.255.255', 'ffffffff'],
    ['10.20.30.40', '0a141e28'],
    ['::', '00000000000000000000000000000000'],
    ['::1', '00000000000000000000000000000001'],
    ['[::]', '00000000000000000000000000000000'],
    ['[::1]', '00000000000000000000000000000001'],
    ['1::', '00010000000000000000000000000000'],
    ['::ffff:1.2.3.4', '00000000000000000000ffff01020304'],
    ['::FFFF:7f00:1', '00000000000000000000ffff7f000001'],
    ['2001:db8::8:800:200c:417a', '20010db80000000000080800200c417a'],
    ['2001:DB8:0:0:8:800:200C:417a', '20010db80000000000080800200c417a'],
    ['0:0:0:0:0:0:13.1.68.3', '0000000000000000000000000d014403'],
    ['fe80::1:2:3:4:5:6', 'fe800000000100020003000400050006'],
    ['1:2:3:4:5:6:7::', '00010002000300040005000600070000'],
    ['::2:3:4:5:6:7:8', '00000002000300040005000600070008'],
    ['64:ff9b::10.0.0.1', '0064ff9b00000000000000000a000001'],
    ['0001:0002:0003:0004:0005:0006:0007:0008', '00010002000300040005000600070008'],
  ];
  for (const [text, bytes] of vectors) assert.equal(hex(parseIp(text)), bytes, text);
  assert.equal(parseIp('1.2.3.4')!.family, 4);
  assert.equal(parseIp('::1.2.3.4')!.family, 6);
});

test('parseIp: refuses everything that is not a strict literal', () => {
  const bad = [
    '',
    ' ',
    '1.2.3',
    '1.2.3.4.5',
    '1.2.3.256',
    '01.2.3.4',
    '1.2.3.04',
    '0x7f.0.0.1',
    '127.1',
    '2130706433',
    '1.2.3.4 ',
    ' 1.2.3.4',
    '1.2.3.',
    '.1.2.3',
    '+1.2.3.4',
    '１.2.3.4', // fullwidth digit
    'localhost',
    'example.com',
    '[1.2.3.4]',
    '[::1',
    '::1]',
    ':::',
    '1::2::3',
    ':1::2',
    '1::2:',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8::',
    '::1:2:3:4:5:6:7:8',
    '12345::',
    'g::',
    '::1.2.3',
    '::1.2.3.4:5',
    '1.2.3.4::',
    '::01.2.3.4',
    'fe80::1%eth0',
    '[fe80::1%25eth0]',
    '::ffff:256.0.0.1',
  ];
  for (const text of bad) assert.equal(parseIp(text), null, JSON.stringify(text));
});

test('parseIpLoose: every inet_aton form', () => {
  const vectors: [string, string][] = [
    ['127.1', '7f000001'],
    ['127.0.1', '7f000001'],
    ['0x7f.1', '7f000001'],
    ['0X7F.0.0.1', '7f000001'],
    ['2130706433', '7f000001'],
    ['017700000001', '7f000001'],
    ['0x7f000001', '7f000001'],
    ['0177.0.0.1', '7f000001'],
    ['0177.0.0.01', '7f000001'],
    ['0', '00000000'],
    ['0x', '00000000'], // glibc reads a bare 0x as zero
    ['0x0000000000000000007f000001', '7f000001'],
    ['10.0x10203', '0a010203'],
    ['10.1.0xffff', '0a01ffff'],
    ['4294967295', 'ffffffff'],
    ['0xffffffff', 'ffffffff'],
    ['037777777777', 'ffffffff'],
    ['192.168.1', 'c0a80001'],
    ['169.254.43518', 'a9fea9fe'],
    // Strict forms still parse.
    ['1.2.3.4', '01020304'],
    ['::ffff:127.0.0.1', '00000000000000000000ffff7f000001'],
    ['[::]', '00000000000000000000000000000000'],
  ];
  for (const [text, bytes] of vectors) assert.equal(hex(parseIpLoose(text)), bytes, text);
  const bad = [
    '',
    '4294967296',
    '0x100000000',
    '040000000000',
    '08',
    '0189',
    '256.1',
    '1.16777216',
    '1.2.65536',
    '1.2.3.256',
    '1.2.3.4.5',
    '1..2',
    '1.2.3.',
    '.1',
    '127.1 ',
    ' 127.1',
    '127.1 foo',
    '0xg',
    '-1',
    '1e3',
    'localhost',
    '[127.1]',
    '99999999999999999999999',
    '0x' + 'f'.repeat(40),
  ];
  for (const text of bad) assert.equal(parseIpLoose(text), null, JSON.stringify(text));
});

test('formatIp: dotted quad and RFC 5952', () => {
  const vectors: [string, string][] = [
    ['1.2.3.4', '1.2.3.4'],
    ['0.0.0.0', '0.0.0.0'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:0DB8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
    // §4.2.2: one zero group is not shortened.
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    // §4.2.3: the longest run; the first when tied.
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['0:0:1:0:0:0:0:0', '0:0:1::'],
    ['1:0:0:0:1:0:0:0', '1::1:0:0:0'],
    // §5: mapped addresses keep their dotted quad.
    ['::ffff:7f00:1', '::ffff:127.0.0.1'],
    ['0:0:0:0:0:0:1.2.3.4', '::102:304'],
    ['64:ff9b::10.0.0.1', '64:ff9b::a00:1'],
    ['fe80:0:0:0:0:0:0:1', 'fe80::1'],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ];
  for (const [text, canonical] of vectors) {
    assert.equal(formatIp(must(text)), canonical, text);
    // Canonical text parses back to the same bytes.
    assert.ok(sameIp(must(canonical), must(text)), canonical);
  }
  assert.equal(formatIp(parseIpLoose('0x7f.1')!), '127.0.0.1');
});

test('unmapIp: only ::ffff:0:0/96 unmaps', () => {
  const u = unmapIp(must('::ffff:127.0.0.1'));
  assert.equal(u.family, 4);
  assert.equal(hex(u), '7f000001');
  for (const text of [
    '::127.0.0.1',
    '::1',
    '2002:7f00:1::',
    '1.2.3.4',
    '::fffe:1.2.3.4',
    '1::ffff:1.2.3.4',
  ]) {
    const ip = must(text);
    assert.equal(unmapIp(ip), ip, text);
  }
});

test('embeddedIpv4: mapped, compatible, 6to4, NAT64, Teredo', () => {
  const vectors: [string, string[]][] = [
    ['::ffff:10.1.2.3', ['0a010203']],
    ['::10.1.2.3', ['0a010203']],
    ['::0.0.0.2', ['00000002']],
    ['::', []], // the unspecified address itself, not 0.0.0.0 in disguise
    ['::1', []], // loopback in its own right
    ['2002:c0a8:0101::1', ['c0a80101']],
    ['2002:7f00:1:ffff:1:2:3:4', ['7f000001']],
    ['64:ff9b::192.168.0.1', ['c0a80001']],
    ['64:ff9b::7f00:1', ['7f000001']],
    ['64:ff9b:1::7f00:1', []], // local-use prefix: where the IPv4 sits is the operator's choice
    // RFC 4380 §4 example: server 65.54.227.120, client 192.0.2.45 (stored inverted: 3fff:fdd2).
    ['2001:0000:4136:e378:8000:63bf:3fff:fdd2', ['c000022d']],
    ['2001::80ff:fffe', ['7f000001']],
    ['2001:db8::1', []],
    ['2003::1', []],
    ['fe80::1', []],
    ['1.2.3.4', []],
  ];
  for (const [text, list] of vectors) assert.deepEqual(embeddedIpv4(must(text)).map(hex), list, text);
  for (const ip of embeddedIpv4(must('2001::80ff:fffe'))) assert.equal(ip.family, 4);
});

test('inCidr: prefixes on and off byte boundaries', () => {
  const cases: [string, string, number, boolean][] = [
    ['10.1.2.3', '10.0.0.0', 8, true],
    ['11.1.2.3', '10.0.0.0', 8, false],
    ['100.64.0.1', '100.64.0.0', 10, true],
    ['100.127.255.255', '100.64.0.0', 10, true],
    ['100.128.0.0', '100.64.0.0', 10, false],
    ['172.31.255.255', '172.16.0.0', 12, true],
    ['172.32.0.0', '172.16.0.0', 12, false],
    ['198.19.1.1', '198.18.0.0', 15, true],
    ['198.20.0.0', '198.18.0.0', 15, false],
    ['1.2.3.4', '0.0.0.0', 0, true],
    ['1.2.3.4', '1.2.3.4', 32, true],
    ['1.2.3.5', '1.2.3.4', 32, false],
    ['fc00::1', 'fc00::', 7, true],
    ['fdff::1', 'fc00::', 7, true],
    ['fe00::1', 'fc00::', 7, false],
    ['febf::1', 'fe80::', 10, true],
    ['fec0::1', 'fe80::', 10, false],
    ['::1', '::1', 128, true],
    ['::2', '::1', 128, false],
    ['2001:db8:ffff::', '2001:db8::', 32, true],
    ['1.2.3.4', '::', 0, false], // families never match
    ['::', '0.0.0.0', 0, false],
    ['1.2.3.4', '1.2.3.4', 33, false],
    ['1.2.3.4', '1.2.3.4', -1, false],
    ['::1', '::1', 129, false],
    ['1.2.3.4', '1.2.3.4', 1.5, false],
  ];
  for (const [ip, net, prefix, want] of cases) {
    assert.equal(inCidr(must(ip), must(net), prefix), want, `${ip} in ${net}/${prefix}`);
  }
});
