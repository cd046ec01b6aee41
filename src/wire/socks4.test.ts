import { test } from 'node:test';
import assert from 'node:assert/strict';

import { SOCKS4_GRANTED, mappingOf } from '../errors.js';
import { SOCKS4_CMD_BIND, SOCKS4_CMD_CONNECT, decodeSocks4Request, encodeSocks4Reply } from './socks4.js';

import { ascii, checkDecoder, checkRefused, hex, isCode } from '../../test/support/decoder.js';

const MAX = 16; // a small maxLength so the bound is easy to cross
const decode = (b: Uint8Array) => decodeSocks4Request(b, MAX);

test('SOCKS4: vectors, prefixes, byte-by-byte and random chunks', () => {
  checkDecoder(decode, hex('04 01 0050 7f000001 00'), {
    command: SOCKS4_CMD_CONNECT,
    target: { host: '127.0.0.1', port: 80 },
    userId: '',
    socks4a: false,
  });
  checkDecoder(decode, hex(`04 01 01bb c0a80001 ${ascii('fred')} 00`), {
    command: SOCKS4_CMD_CONNECT,
    target: { host: '192.168.0.1', port: 443 },
    userId: 'fred',
    socks4a: false,
  });
  // Commands are returned, not judged.
  checkDecoder(decode, hex('04 02 ffff 0a000001 00'), {
    command: SOCKS4_CMD_BIND,
    target: { host: '10.0.0.1', port: 65535 },
    userId: '',
    socks4a: false,
  });
  // DSTIP 0.0.0.0 is not the SOCKS4a form (x must be non-zero): no host follows.
  checkDecoder(decode, hex('04 01 0050 00000000 00'), {
    command: SOCKS4_CMD_CONNECT,
    target: { host: '0.0.0.0', port: 80 },
    userId: '',
    socks4a: false,
  });
  // 0.1.0.1 is an ordinary address: only the first three bytes being zero means SOCKS4a.
  checkDecoder(decode, hex('04 01 0050 00010001 00'), {
    command: SOCKS4_CMD_CONNECT,
    target: { host: '0.1.0.1', port: 80 },
    userId: '',
    socks4a: false,
  });
});

test('SOCKS4a: DSTIP 0.0.0.x (x != 0) is followed by a host name', () => {
  checkDecoder(decode, hex(`04 01 01bb 00000001 00 ${ascii('example.com')} 00`), {
    command: SOCKS4_CMD_CONNECT,
    target: { host: 'example.com', port: 443 },
    userId: '',
    socks4a: true,
  });
  checkDecoder(decode, hex(`04 01 0050 000000ff ${ascii('fred')} 00 ${ascii('example.com')} 00`), {
    command: SOCKS4_CMD_CONNECT,
    target: { host: 'example.com', port: 80 },
    userId: 'fred',
    socks4a: true,
  });
  // A literal in HOST stays text, as a literal sent as a SOCKS5 domain does.
  checkDecoder(decode, hex(`04 01 0050 00000001 00 ${ascii('::1')} 00`), {
    command: SOCKS4_CMD_CONNECT,
    target: { host: '::1', port: 80 },
    userId: '',
    socks4a: true,
  });
  // Without the host's NUL, a SOCKS4a request is not complete even though a SOCKS4 one would be.
  assert.equal(decode(hex('04 01 0050 00000001 00')), null);
  assert.equal(decode(hex(`04 01 0050 00000001 00 ${ascii('exam')}`)), null);
});

test('USERID and HOST are bounded by maxLength', () => {
  const full = 'u'.repeat(MAX);
  checkDecoder(decode, hex(`04 01 0050 7f000001 ${ascii(full)} 00`), {
    command: SOCKS4_CMD_CONNECT,
    target: { host: '127.0.0.1', port: 80 },
    userId: full,
    socks4a: false,
  });
  // MAX bytes and no NUL yet: the NUL may still come.
  assert.equal(decode(hex(`04 01 0050 7f000001 ${ascii(full)}`)), null);
  // MAX + 1 bytes and no NUL: it never will be valid.
  checkRefused(decode, hex(`04 01 0050 7f000001 ${ascii(full + 'u')}`), 'bad-request');
  checkRefused(decode, hex(`04 01 0050 7f000001 ${ascii(full + 'u')} 00`), 'bad-request');
  // The same for a SOCKS4a host.
  const name = 'h'.repeat(MAX);
  checkDecoder(decode, hex(`04 01 0050 00000001 00 ${ascii(name)} 00`), {
    command: SOCKS4_CMD_CONNECT,
    target: { host: name, port: 80 },
    userId: '',
    socks4a: true,
  });
  checkRefused(decode, hex(`04 01 0050 00000001 00 ${ascii(name + 'h')} 00`), 'bad-request');
  // maxLength 0 admits only an empty user id.
  assert.equal(decodeSocks4Request(hex('04 01 0050 7f000001 00'), 0)?.bytesUsed, 9);
  assert.throws(() => decodeSocks4Request(hex('04 01 0050 7f000001 41'), 0), isCode('bad-request'));
});

test('SOCKS4 refuses wrong versions, port 0, empty or malformed SOCKS4a hosts', () => {
  checkRefused(decode, hex('05 01 0050 7f000001 00'), 'bad-request');
  checkRefused(decode, hex('00 01 0050 7f000001 00'), 'bad-request');
  assert.throws(() => decode(hex('05')), isCode('bad-request'), 'refused at the first byte');
  checkRefused(decode, hex('04 01 0000 7f000001 00'), 'address-type');
  checkRefused(decode, hex('04 01 0000 00000001 00 61 00'), 'address-type');
  checkRefused(decode, hex('04 01 0050 00000001 00 00'), 'address-type'); // empty SOCKS4a host
  checkRefused(decode, hex('04 01 0050 00000001 00 c328 00'), 'address-type'); // not UTF-8
  checkRefused(decode, hex(`04 01 0050 00000001 00 ${ascii('a b')} 00`), 'address-type');
  checkRefused(decode, hex(`04 01 0050 00000001 00 ${ascii('a:b')} 00`), 'address-type');
  checkRefused(decode, hex('04 01 0050 7f000001 ff 00'), 'bad-request'); // user id not UTF-8
  // A host over 255 bytes cannot be carried onward in the SOCKS5 encoding, whatever maxLength allows.
  const long = 'h'.repeat(256);
  assert.throws(
    () => decodeSocks4Request(hex(`04 01 0050 00000001 00 ${ascii(long)} 00`), 1024),
    isCode('address-type'),
  );
});

test('SOCKS4: truncated input is null', () => {
  assert.equal(decode(hex('')), null);
  assert.equal(decode(hex('04')), null);
  assert.equal(decode(hex('04 01 0050 7f0000')), null);
  assert.equal(decode(hex('04 01 0050 7f000001')), null);
  assert.equal(decode(hex(`04 01 0050 7f000001 ${ascii('fre')}`)), null);
});

test('encodeSocks4Reply: VN 0, CD, zero port and address', () => {
  const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  assert.equal(toHex(encodeSocks4Reply(SOCKS4_GRANTED)), '005a000000000000');
  assert.equal(toHex(encodeSocks4Reply(mappingOf('refused').socks4)), '005b000000000000');
  for (const c of [-1, 256, 1.5]) assert.throws(() => encodeSocks4Reply(c), isCode('general'));
});
