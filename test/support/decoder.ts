// The decoder harness every wire/ codec test uses: valid messages decoded whole, with trailing bytes,
// every strict prefix ("need more"), byte by byte and in seeded random chunks; malformed ones refused
// with the right code at every prefix. Kept here, not in a *.test.ts file, so that importing it never
// runs another file's tests.

import assert from 'node:assert/strict';
import { TunnelError, type ErrorCode } from '../../src/errors.js';
import type { Decoded } from '../../src/wire/decoded.js';

export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
export const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));
export const ascii = (s: string): string => Buffer.from(s, 'utf8').toString('hex');

// mulberry32: seeded, so a failing split is the same split on every run.
export function rng(seed: number): () => number {
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
export function feed<T>(
  decode: (b: Uint8Array) => Decoded<T>,
  bytes: Uint8Array,
  sizes: number[],
  value: T,
): void {
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
export function checkDecoder<T>(decode: (b: Uint8Array) => Decoded<T>, bytes: Uint8Array, value: T): void {
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

export const isCode = (code: ErrorCode) => (err: unknown) => err instanceof TunnelError && err.code === code;

/** Malformed input: the whole throws `code`; every prefix is null or throws the same (never a value). */
export function checkRefused(
  decode: (b: Uint8Array) => Decoded<unknown>,
  bytes: Uint8Array,
  code: ErrorCode,
): void {
  assert.throws(() => decode(bytes), isCode(code));
  for (let i = 0; i < bytes.length; i++) {
    try {
      assert.equal(decode(bytes.subarray(0, i)), null, `prefix ${i}`);
    } catch (err) {
      assert.ok(isCode(code)(err), `prefix ${i} threw ${String(err)}`);
    }
  }
}
