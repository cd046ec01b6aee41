import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  CMD_BIND,
  CMD_CONNECT,
  CMD_UDP_ASSOCIATE,
  METHOD_NONE_ACCEPTABLE,
  METHOD_NO_AUTH,
  METHOD_USERPASS,
  decodeMethodSelection,
  decodeRequest,
  decodeUserPassRequest,
  encodeMethodReply,
  encodeReply,
  encodeUserPassReply,
} from './socks5.js';

import { ascii, checkDecoder, checkRefused, concat, hex, isCode } from '../../test/support/decoder.js';

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// ---- method selection (RFC 1928 §3) ----

test('decodeMethodSelection: vectors, prefixes, byte-by-byte and random chunks', () => {
  checkDecoder(decodeMethodSelection, hex('05 01 00'), { methods: [METHOD_NO_AUTH] });
  checkDecoder(decodeMethodSelection, hex('05 02 00 02'), { methods: [METHOD_NO_AUTH, METHOD_USERPASS] });
  checkDecoder(decodeMethodSelection, hex('05 03 02 01 00'), { methods: [2, 1, 0] }); // client's order kept
  const all = Array.from({ length: 255 }, (_, i) => i);
  checkDecoder(decodeMethodSelection, concat(hex('05 ff'), Uint8Array.from(all)), { methods: all });
});

test('decodeMethodSelection refuses wrong versions and NMETHODS=0', () => {
  checkRefused(decodeMethodSelection, hex('04 01 00'), 'bad-request');
  checkRefused(decodeMethodSelection, hex('00 01 00'), 'bad-request');
  checkRefused(decodeMethodSelection, hex('47 45 54 20'), 'bad-request'); // "GET " on the SOCKS5 path
  assert.throws(() => decodeMethodSelection(hex('04')), isCode('bad-request'), 'refused at the first byte');
  checkRefused(decodeMethodSelection, hex('05 00'), 'bad-request');
  assert.throws(() => decodeMethodSelection(hex('05 00 00 00')), isCode('bad-request'));
});

test('encodeMethodReply', () => {
  assert.equal(toHex(encodeMethodReply(METHOD_NO_AUTH)), '0500');
  assert.equal(toHex(encodeMethodReply(METHOD_USERPASS)), '0502');
  assert.equal(toHex(encodeMethodReply(METHOD_NONE_ACCEPTABLE)), '05ff');
  for (const m of [-1, 256, 0.5]) assert.throws(() => encodeMethodReply(m), isCode('general'));
});

// ---- username/password (RFC 1929) ----

test('decodeUserPassRequest: vectors, prefixes, byte-by-byte and random chunks', () => {
  checkDecoder(decodeUserPassRequest, hex(`01 04 ${ascii('user')} 04 ${ascii('pass')}`), {
    username: 'user',
    password: 'pass',
  });
  checkDecoder(decodeUserPassRequest, hex('01 00 00'), { username: '', password: '' });
  checkDecoder(decodeUserPassRequest, hex(`01 00 03 ${ascii('abc')}`), { username: '', password: 'abc' });
  checkDecoder(decodeUserPassRequest, hex(`01 03 ${ascii('abc')} 00`), { username: 'abc', password: '' });
  checkDecoder(decodeUserPassRequest, hex(`01 05 ${ascii('jürg')} 02 ${ascii('π')}`), {
    username: 'jürg',
    password: 'π',
  });
  const u = 'u'.repeat(255);
  const p = 'p'.repeat(255);
  checkDecoder(decodeUserPassRequest, hex(`01 ff ${ascii(u)} ff ${ascii(p)}`), { username: u, password: p });
});

test('decodeUserPassRequest refuses a wrong version and non-UTF-8 credentials without echoing them', () => {
  checkRefused(decodeUserPassRequest, hex(`05 01 ${ascii('u')} 01 ${ascii('p')}`), 'bad-request');
  checkRefused(decodeUserPassRequest, hex(`00 01 ${ascii('u')} 01 ${ascii('p')}`), 'bad-request');
  checkRefused(decodeUserPassRequest, hex(`01 01 ff 01 ${ascii('p')}`), 'auth-failed');
  const secret = 'hunter2-secret';
  assert.throws(
    () => decodeUserPassRequest(hex(`01 01 ${ascii('u')} 0f ${ascii(secret)}ff`)),
    (err: unknown) => isCode('auth-failed')(err) && !(err as Error).message.includes('hunter2'),
  );
});

test('encodeUserPassReply', () => {
  assert.equal(toHex(encodeUserPassReply(true)), '0100');
  assert.equal(toHex(encodeUserPassReply(false)), '0101');
});

// ---- request (RFC 1928 §4) ----

test('decodeRequest: vectors, prefixes, byte-by-byte and random chunks', () => {
  checkDecoder(decodeRequest, hex('05 01 00 01 7f000001 0050'), {
    command: CMD_CONNECT,
    target: { host: '127.0.0.1', port: 80 },
  });
  checkDecoder(decodeRequest, hex(`05 01 00 03 0b ${ascii('example.com')} 01bb`), {
    command: CMD_CONNECT,
    target: { host: 'example.com', port: 443 },
  });
  checkDecoder(decodeRequest, hex('05 01 00 04 00000000000000000000000000000001 1b58'), {
    command: CMD_CONNECT,
    target: { host: '::1', port: 7000 },
  });
  checkDecoder(decodeRequest, hex('05 01 00 04 00000000000000000000ffff01020304 0050'), {
    command: CMD_CONNECT,
    target: { host: '::ffff:1.2.3.4', port: 80 },
  });
  checkDecoder(decodeRequest, hex('05 01 00 04 00000000000000000000000000000000 0016'), {
    command: CMD_CONNECT,
    target: { host: '::', port: 22 },
  });
  const name255 = 'n'.repeat(255);
  checkDecoder(decodeRequest, hex(`05 01 00 03 ff ${ascii(name255)} 0050`), {
    command: CMD_CONNECT,
    target: { host: name255, port: 80 },
  });
  // Commands are returned, not judged: the front-end answers BIND with "command not supported".
  checkDecoder(decodeRequest, hex('05 02 00 01 0a000001 1f90'), {
    command: CMD_BIND,
    target: { host: '10.0.0.1', port: 8080 },
  });
  checkDecoder(decodeRequest, hex('05 09 00 01 0a000001 1f90'), {
    command: 9,
    target: { host: '10.0.0.1', port: 8080 },
  });
  // UDP ASSOCIATE may send all zeros (RFC 1928 §7).
  checkDecoder(decodeRequest, hex('05 03 00 01 00000000 0000'), {
    command: CMD_UDP_ASSOCIATE,
    target: { host: '0.0.0.0', port: 0 },
  });
  // RSV is not judged either.
  checkDecoder(decodeRequest, hex('05 01 ff 01 7f000001 0050'), {
    command: CMD_CONNECT,
    target: { host: '127.0.0.1', port: 80 },
  });
});

test('decodeRequest refuses wrong versions, bad ATYP, empty names and port 0', () => {
  checkRefused(decodeRequest, hex('04 01 00 01 7f000001 0050'), 'bad-request');
  assert.throws(() => decodeRequest(hex('04')), isCode('bad-request'));
  checkRefused(decodeRequest, hex('05 01 00 02 7f000001 0050'), 'address-type');
  checkRefused(decodeRequest, hex('05 01 00 00 7f000001 0050'), 'address-type');
  checkRefused(decodeRequest, hex('05 01 00 05 7f000001 0050'), 'address-type');
  checkRefused(decodeRequest, hex('05 01 00 03 00 0050'), 'address-type');
  checkRefused(decodeRequest, hex(`05 01 00 03 03 ${ascii('a\rb')} 0050`), 'address-type');
  checkRefused(decodeRequest, hex('05 01 00 01 7f000001 0000'), 'address-type');
  checkRefused(decodeRequest, hex(`05 01 00 03 01 ${ascii('a')} 0000`), 'address-type');
  checkRefused(decodeRequest, hex('05 02 00 01 7f000001 0000'), 'address-type');
});

test('decodeRequest: truncated input is null', () => {
  assert.equal(decodeRequest(hex('')), null);
  assert.equal(decodeRequest(hex('05 01 00')), null);
  assert.equal(decodeRequest(hex('05 01 00 03')), null);
  assert.equal(decodeRequest(hex('05 01 00 03 0b 6578')), null);
  assert.equal(decodeRequest(hex('05 01 00 04 0000')), null);
});

// ---- reply (RFC 1928 §6) ----

test('encodeReply', () => {
  assert.equal(toHex(encodeReply(0x00)), '050000' + '01' + '00000000' + '0000');
  assert.equal(toHex(encodeReply(0x05)), '050500' + '01' + '00000000' + '0000');
  assert.equal(
    toHex(encodeReply(0x00, { host: '10.1.2.3', port: 1080 })),
    '050000' + '01' + '0a010203' + '0438',
  );
  assert.equal(
    toHex(encodeReply(0x00, { host: '::1', port: 7000 })),
    '050000' + '04' + '00000000000000000000000000000001' + '1b58',
  );
  assert.equal(
    toHex(encodeReply(0x04, { host: 'a.b', port: 1 })),
    '050400' + '03' + '03' + ascii('a.b') + '0001',
  );
  for (const r of [-1, 256]) assert.throws(() => encodeReply(r), isCode('general'));
  assert.throws(() => encodeReply(0, { host: 'x'.repeat(256), port: 1 }), isCode('address-type'));
});

test('a reply decodes as a request would (same layout), so the vectors agree', () => {
  // A SOCKS5 reply has the request's layout with REP in CMD's place: decodeRequest reads it back.
  const bound = { host: '2001:db8::7', port: 443 };
  assert.deepEqual(decodeRequest(encodeReply(0x01, bound)), {
    value: { command: 0x01, target: bound },
    bytesUsed: 3 + 1 + 16 + 2,
  });
});
