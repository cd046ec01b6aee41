import assert from 'node:assert/strict';
import { test } from 'node:test';

import { TunnelError } from '../errors.js';
import {
  decodeSocksUdp,
  encodeRecord,
  encodeSocksUdp,
  RECORD_BODY_MAX,
  RecordSplitter,
  UDP_PAYLOAD_MAX,
} from './udp.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const code = (c: string) => (e: unknown) => e instanceof TunnelError && e.code === c;

test('SOCKS5 UDP request: IPv4, a name, IPv6 (RFC 1928 §7 layout)', () => {
  const v4 = decodeSocksUdp(hex('0000 00 01 7f000001 0035 abcd'));
  assert.deepEqual(v4.peer, { host: '127.0.0.1', port: 53 });
  assert.deepEqual(Buffer.from(v4.data), hex('abcd'));
  const name = decodeSocksUdp(hex('0000 00 03 0b 6578616d706c652e636f6d 01bb 00'));
  assert.deepEqual(name.peer, { host: 'example.com', port: 443 });
  assert.equal(name.data.length, 1);
  const v6 = decodeSocksUdp(hex('0000 00 04 00000000000000000000000000000001 1f90'));
  assert.deepEqual(v6.peer, { host: '::1', port: 8080 });
  assert.equal(v6.data.length, 0, 'an empty datagram is a datagram');
});

test('SOCKS5 UDP request: refused shapes', () => {
  assert.throws(() => decodeSocksUdp(hex('0000 00')), code('bad-request'));
  assert.throws(() => decodeSocksUdp(hex('0001 00 01 7f000001 0035')), /RSV/);
  assert.throws(() => decodeSocksUdp(hex('0000 01 01 7f000001 0035 00')), /fragment 1/);
  assert.throws(() => decodeSocksUdp(hex('0000 00 01 7f0000')), /truncated/);
  assert.throws(() => decodeSocksUdp(hex('0000 00 05 7f000001 0035')), code('address-type'));
  assert.throws(() => decodeSocksUdp(hex('0000 00 03 00 0035')), code('address-type'));
});

test('SOCKS5 UDP reply bytes', () => {
  const b = encodeSocksUdp({ peer: { host: '10.0.0.1', port: 53 }, data: hex('0102') });
  assert.deepEqual(b, hex('0000 00 01 0a000001 0035 0102'));
});

test('record: bytes, and split at every boundary', () => {
  const r1 = encodeRecord({ peer: { host: 'example.com', port: 53 }, data: hex('aabb') });
  assert.deepEqual(r1, hex('0011 03 0b 6578616d706c652e636f6d 0035 aabb'));
  const r2 = encodeRecord({ peer: { host: '::1', port: 9 }, data: Buffer.alloc(0) });
  assert.deepEqual(r2, hex('0013 04 00000000000000000000000000000001 0009'));
  const both = Buffer.concat([r1, r2]);
  for (let cut = 0; cut <= both.length; cut++) {
    const s = new RecordSplitter();
    const got = [...s.push(both.subarray(0, cut)), ...s.push(both.subarray(cut))];
    assert.equal(got.length, 2, `cut at ${cut}`);
    assert.deepEqual(got[0]!.peer, { host: 'example.com', port: 53 });
    assert.deepEqual(Buffer.from(got[0]!.data), hex('aabb'));
    assert.deepEqual(got[1]!.peer, { host: '::1', port: 9 });
    assert.equal(s.buffered, 0);
  }
});

test('record: the largest datagram passes; larger ones and bad lengths are refused', () => {
  const big = encodeRecord({ peer: { host: '1.2.3.4', port: 1 }, data: Buffer.alloc(UDP_PAYLOAD_MAX) });
  assert.equal(new RecordSplitter().push(big)[0]!.data.length, UDP_PAYLOAD_MAX);
  assert.throws(
    () => encodeRecord({ peer: { host: '1.2.3.4', port: 1 }, data: Buffer.alloc(UDP_PAYLOAD_MAX + 1) }),
    code('bad-request'),
  );
  assert.throws(() => new RecordSplitter().push(hex('0000')), code('protocol'));
  const longName = 'a'.repeat(63) + '.' + 'b'.repeat(63) + '.' + 'c'.repeat(63) + '.' + 'd'.repeat(63);
  assert.throws(
    () => encodeRecord({ peer: { host: longName, port: 1 }, data: Buffer.alloc(RECORD_BODY_MAX - 200) }),
    /for a 2\d\d-byte address/,
  );
  // LEN within bounds but the data past the IPv4 address is over UDP_PAYLOAD_MAX.
  const fat = Buffer.concat([hex('fff0 01 01020304 0001'), Buffer.alloc(0xfff0 - 7)]);
  assert.throws(() => new RecordSplitter().push(fat), /bytes of data/);
  assert.throws(() => new RecordSplitter().push(hex('0003 01 0102')), /shorter than its address/);
  assert.throws(() => new RecordSplitter().push(hex('0003 09 0102')), code('address-type'));
});
