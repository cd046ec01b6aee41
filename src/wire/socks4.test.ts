import { test } from 'node:test';
import assert from 'node:assert/strict';

import { SOCKS4_GRANTED, TunnelError, mappingOf, type ErrorCode } from '../errors.js';
import type { Decoded } from './decoded.js';
import { SOCKS4_CMD_BIND, SOCKS4_CMD_CONNECT, decodeSocks4Request, encodeSocks4Reply } from './socks4.js';

// ---- decoder harness (each wire test file carries its own copy: test files must not import each other,
// or node:test would run the imported file's tests again) ----

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));
const ascii = (s: string): string => Buffer.from(s, 'utf8').toString('hex');

// mulberry32: seeded, so a failing split is the same split on every run.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// A stream reader appends each chunk to what it holds and asks again: null until the last chunk.
function feed<T>(decode: (b: Uint8Array) => Decoded<T>, bytes: Uint8Array, sizes: number[], value: T): void {
  let held: Uint8Array = new Uint8Array(0);
  let at = 0;
  for (const [i, n] of sizes.entries()) {
    held = concat(held, bytes.subarray(at, at + n));
    at += n;
    const got = decode(held);
    if (i < sizes.length - 1) assert.equal(got, null, `after ${at} of ${bytes.length} bytes`);
    else assert.deepEqual(got, { value, bytesUsed: bytes.length });
  }
}

/** One valid message: whole, with bytes after it, every strict prefix, byte by byte, seeded random chunks. */
function checkDecoder<T>(decode: (b: Uint8Array) => Decoded<T>, bytes: Uint8Array, value: T): void {
  const want = { value, bytesUsed: bytes.length };
  assert.deepEqual(decode(bytes), want);
  assert.deepEqual(decode(concat(bytes, hex('05 00 01 ff'))), want, 'bytes after the message are left alone');
  for (let i = 0; i < bytes.length; i++) assert.equal(decode(bytes.subarray(0, i)), null, `prefix ${i}`);
  feed(decode, bytes, new Array<number>(bytes.length).fill(1), value);
  const next = rng(0x5eed ^ bytes.length);
  for (let trial = 0; trial < 32; trial++) {
    const sizes: number[] = [];
    for (let left = bytes.length; left > 0;) {
      const n = 1 + Math.floor(next() * Math.min(left, 1 + (bytes.length >> 1)));
      sizes.push(n);
      left -= n;
    }
    feed(decode, bytes, sizes, value);
  }
}

const isCode = (code: ErrorCode) => (err: unknown) => err instanceof TunnelError && err.code === code;

/** Malformed input: the whole throws `code`; every prefix is null or throws the same (never a value). */
function checkRefused(decode: (b: Uint8Array) => Decoded<unknown>, bytes: Uint8Array, code: ErrorCode): void {
  assert.throws(() => decode(bytes), isCode(code));
  for (let i = 0; i < bytes.length; i++) {
    try {
      assert.equal(decode(bytes.subarray(0, i)), null, `prefix ${i}`);
    } catch (err) {
      assert.ok(isCode(code)(err), `prefix ${i} threw ${String(err)}`);
    }
  }
}

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
