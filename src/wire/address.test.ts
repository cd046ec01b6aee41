import { test } from 'node:test';
import assert from 'node:assert/strict';

import { TunnelError } from '../errors.js';
import {
  decodeSocksAddress,
  encodeSocksAddress,
  formatTarget,
  hostKind,
  parseTarget,
  type Target,
} from './address.js';

import { ascii, checkDecoder, checkRefused, concat, hex, isCode, rng } from '../../test/support/decoder.js';

// ---- vectors ----

const decodeAt0 = (b: Uint8Array) => decodeSocksAddress(b, 0);
// Same decoder behind 3 unrelated bytes, so offsets and bytesUsed-from-offset are exercised.
const decodeAt3 = (b: Uint8Array) => decodeSocksAddress(concat(hex('ee ee ee'), b), 3);

const label63 = 'a'.repeat(63);
const VECTORS: [string, string, Target][] = [
  ['IPv4', '01 7f000001 0050', { host: '127.0.0.1', port: 80 }],
  ['IPv4 port 65535', '01 c0a80101 ffff', { host: '192.168.1.1', port: 65535 }],
  ['IPv4 port 0 (bound address)', '01 00000000 0000', { host: '0.0.0.0', port: 0 }],
  ['IPv6 ::1', '04 00000000000000000000000000000001 01bb', { host: '::1', port: 443 }],
  ['IPv6 ::', '04 00000000000000000000000000000000 0000', { host: '::', port: 0 }],
  ['IPv4-mapped', '04 00000000000000000000ffff01020304 0050', { host: '::ffff:1.2.3.4', port: 80 }],
  ['IPv6 RFC 5952 text', '04 20010db8000000000000000000000001 1b58', { host: '2001:db8::1', port: 7000 }],
  ['domain', `03 0b ${ascii('example.com')} 01bb`, { host: 'example.com', port: 443 }],
  ['one-byte domain', `03 01 ${ascii('x')} 0001`, { host: 'x', port: 1 }],
  ['UTF-8 domain', `03 0a ${ascii('bücher.de')} 0050`, { host: 'bücher.de', port: 80 }],
  ['literal sent as domain', `03 07 ${ascii('1.2.3.4')} 0050`, { host: '1.2.3.4', port: 80 }],
  ['v6 literal sent as domain', `03 03 ${ascii('::1')} 0050`, { host: '::1', port: 80 }],
];

test('decodeSocksAddress: vectors, prefixes, byte-by-byte and random chunks', () => {
  for (const [, bytes, value] of VECTORS) {
    checkDecoder(decodeAt0, hex(bytes), value);
    checkDecoder(decodeAt3, hex(bytes), value);
  }
});

test('encodeSocksAddress: IP literals as bytes, names as names', () => {
  for (const [name, bytes, value] of VECTORS) {
    if (name.includes('sent as domain')) continue; // those re-encode as IP bytes, checked below
    assert.equal(Buffer.from(encodeSocksAddress(value)).toString('hex'), bytes.replace(/\s+/g, ''), name);
  }
  assert.deepEqual(encodeSocksAddress({ host: '1.2.3.4', port: 80 }), hex('01 01020304 0050'));
  assert.deepEqual(
    encodeSocksAddress({ host: '::ffff:102:304', port: 80 }),
    hex('04 00000000000000000000ffff01020304 0050'),
  );
});

test('a 255-byte domain is carried; 256 bytes throws', () => {
  const name255 = `${label63}.${label63}.${label63}.${'b'.repeat(63)}`;
  assert.equal(name255.length, 255);
  const bytes = encodeSocksAddress({ host: name255, port: 443 });
  assert.equal(bytes.length, 1 + 1 + 255 + 2);
  assert.equal(bytes[1], 0xff);
  checkDecoder(decodeAt0, bytes, { host: name255, port: 443 });
  assert.throws(() => encodeSocksAddress({ host: `${name255}c`, port: 443 }), isCode('address-type'));
  // 128 two-byte characters are 128 chars but 256 bytes: the limit is in bytes.
  assert.throws(() => encodeSocksAddress({ host: 'é'.repeat(128), port: 443 }), isCode('address-type'));
  assert.equal(encodeSocksAddress({ host: 'é'.repeat(127), port: 443 })[1], 254);
});

test('decodeSocksAddress refuses bad ATYP, empty and malformed names', () => {
  for (const atyp of ['00', '02', '05', 'ff'])
    checkRefused(decodeAt0, hex(`${atyp} 7f000001 0050`), 'address-type');
  checkRefused(decodeAt0, hex('03 00 0050'), 'address-type'); // empty domain: refused at its length byte
  assert.throws(() => decodeAt0(hex('03 00')), isCode('address-type'));
  checkRefused(decodeAt0, hex('03 02 c328 0050'), 'address-type'); // not UTF-8
  checkRefused(decodeAt0, hex(`03 03 ${ascii('a\nb')} 0050`), 'address-type'); // control character
  checkRefused(decodeAt0, hex(`03 03 ${ascii('a\u0000b')} 0050`), 'address-type'); // NUL
  checkRefused(decodeAt0, hex(`03 03 ${ascii('a:b')} 0050`), 'address-type'); // would not parse back
  checkRefused(decodeAt0, hex(`03 05 ${ascii('[a.b]')} 0050`), 'address-type'); // brackets around a non-address
  checkRefused(decodeAt0, hex(`03 07 ${ascii('a b.com')} 0050`), 'address-type');
});

test('decodeSocksAddress: truncated input is null at any offset', () => {
  assert.equal(decodeSocksAddress(hex(''), 0), null);
  assert.equal(decodeSocksAddress(hex('01 7f000001 0050'), 7), null);
  assert.equal(decodeSocksAddress(hex('ffff 04 0000'), 2), null);
});

test('encodeSocksAddress refuses ports that do not fit and unusable names', () => {
  for (const port of [-1, 65536, 1.5, Number.NaN]) {
    assert.throws(() => encodeSocksAddress({ host: '1.2.3.4', port }), isCode('address-type'), String(port));
  }
  assert.deepEqual(encodeSocksAddress({ host: 'a', port: 0 }), hex(`03 01 ${ascii('a')} 0000`));
  for (const host of ['', 'a b', 'a:b', '[::1]', 'x/y', 'user@host', 'tab\there']) {
    assert.throws(() => encodeSocksAddress({ host, port: 80 }), isCode('address-type'), JSON.stringify(host));
  }
});

test('hostKind classifies strict literals only', () => {
  const cases: [string, string][] = [
    ['1.2.3.4', 'ipv4'],
    ['0.0.0.0', 'ipv4'],
    ['::1', 'ipv6'],
    ['::', 'ipv6'],
    ['::ffff:1.2.3.4', 'ipv6'],
    ['2001:db8::1', 'ipv6'],
    ['example.com', 'domain'],
    ['127.1', 'domain'], // inet_aton forms are names here; the exit policy normalises them (ip.ts parseIpLoose)
    ['2130706433', 'domain'],
    ['01.2.3.4', 'domain'],
    ['[::1]', 'domain'],
    ['fe80::1%eth0', 'domain'],
  ];
  for (const [host, kind] of cases) assert.equal(hostKind(host), kind, host);
});

test('formatTarget brackets IPv6 only', () => {
  assert.equal(formatTarget({ host: '::1', port: 7000 }), '[::1]:7000');
  assert.equal(formatTarget({ host: '::ffff:1.2.3.4', port: 80 }), '[::ffff:1.2.3.4]:80');
  assert.equal(formatTarget({ host: '1.2.3.4', port: 80 }), '1.2.3.4:80');
  assert.equal(formatTarget({ host: 'example.com', port: 443 }), 'example.com:443');
});

test('parseTarget accepts host:port and [v6]:port, keeping the host as written', () => {
  const good: [string, Target][] = [
    ['example.com:443', { host: 'example.com', port: 443 }],
    ['Example.COM.:1', { host: 'Example.COM.', port: 1 }],
    ['1.2.3.4:80', { host: '1.2.3.4', port: 80 }],
    ['[::1]:7000', { host: '::1', port: 7000 }],
    ['[::]:65535', { host: '::', port: 65535 }],
    ['[::ffff:1.2.3.4]:80', { host: '::ffff:1.2.3.4', port: 80 }],
    ['[0:0::1]:80', { host: '0:0::1', port: 80 }],
    ['127.1:80', { host: '127.1', port: 80 }],
    ['host:080', { host: 'host', port: 80 }],
  ];
  for (const [text, want] of good) {
    assert.deepEqual(parseTarget(text), want, text);
    if (text !== 'host:080') assert.equal(formatTarget(parseTarget(text)), text, 'round trip');
  }
});

test('parseTarget refuses what is not host:port', () => {
  const bad = [
    '',
    'example.com',
    'example.com:',
    ':80',
    'example.com:0',
    'example.com:65536',
    'example.com:999999',
    'example.com:0x50',
    'example.com:+80',
    'example.com: 80',
    'example.com:80 ',
    '::1:80', // IPv6 without brackets
    '::1',
    '[::1]',
    '[::1]80',
    '[::1',
    '[1.2.3.4]:80',
    '[example.com]:80',
    '[fe80::1%eth0]:80',
    'a b:80',
    'user@host:80',
    'host/path:80',
    `${'a'.repeat(256)}:80`,
  ];
  for (const text of bad)
    assert.throws(() => parseTarget(text), isCode('address-type'), JSON.stringify(text));
});

test('parseTarget errors do not echo the host', () => {
  const secretish = 'my-very-private-hostname.internal';
  for (const text of [`${secretish}:0`, `${secretish}:x`, `${secretish} :80`]) {
    assert.throws(
      () => parseTarget(text),
      (err: unknown) => err instanceof TunnelError && !err.message.includes('private'),
    );
  }
});

test('encode then decode round-trips random targets', () => {
  const next = rng(42);
  for (let i = 0; i < 200; i++) {
    const port = Math.floor(next() * 65536);
    const kind = Math.floor(next() * 3);
    let host: string;
    if (kind === 0) host = [0, 1, 2, 3].map(() => Math.floor(next() * 256)).join('.');
    else if (kind === 1) host = `h${Math.floor(next() * 1e9).toString(36)}.example`;
    else host = `2001:db8::${(1 + Math.floor(next() * 0xfffe)).toString(16)}`;
    const bytes = encodeSocksAddress({ host, port });
    assert.deepEqual(decodeAt0(bytes), { value: { host, port }, bytesUsed: bytes.length });
  }
});

test('a bracketed IPv6 literal sent as a domain stands for that address', () => {
  const name = Buffer.from('[::]');
  const bytes = Buffer.concat([Buffer.of(0x03, name.length), name, Buffer.of(0x00, 0x50)]);
  assert.deepEqual(decodeSocksAddress(bytes, 0), {
    value: { host: '::', port: 80 },
    bytesUsed: bytes.length,
  });
  const mapped = Buffer.from('[::ffff:127.0.0.1]');
  const b2 = Buffer.concat([Buffer.of(0x03, mapped.length), mapped, Buffer.of(0x00, 0x50)]);
  assert.equal(decodeSocksAddress(b2, 0)?.value.host, '::ffff:127.0.0.1');
  const junk = Buffer.from('[nothost]');
  const b3 = Buffer.concat([Buffer.of(0x03, junk.length), junk, Buffer.of(0x00, 0x50)]);
  assert.throws(() => decodeSocksAddress(b3, 0), /host name contains/);
});
