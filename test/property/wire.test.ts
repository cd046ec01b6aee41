// Properties of the pure wire parsers: SOCKS5, SOCKS4/4a, the SOCKS address encoding, IP literals, pins
// and share strings. Each runs RUNS (10 000) times; see run.ts for seeds.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';

import { decodeSocksAddress, encodeSocksAddress, formatTarget, type Target } from '../../src/wire/address.js';
import { formatIp, parseIp, parseIpLoose } from '../../src/wire/ip.js';
import { formatShareString, normalizePin, parseShareString } from '../../src/wire/share-string.js';
import { decodeSocks4Request } from '../../src/wire/socks4.js';
import { decodeMethodSelection, decodeRequest, decodeUserPassRequest } from '../../src/wire/socks5.js';
import { bytesStartingWith, check, domainArb, ipBytesArb, portArb, settle } from './run.js';

const cat = (...parts: (number[] | Uint8Array)[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => [...p]));

/** Every strict prefix of `bytes` decodes to null (need more). */
function prefixesNeedMore(decode: (b: Uint8Array) => unknown, bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i++) assert.equal(decode(bytes.subarray(0, i)), null, `prefix ${i}`);
}

/** A decoder on junk: null, or a value using at most the bytes given; a throw is only a TunnelError. */
function junkProperty(
  decode: (b: Uint8Array) => { bytesUsed: number } | null,
  arb: fc.Arbitrary<Uint8Array>,
): void {
  check(
    fc.property(arb, (buf) => {
      const r = settle(() => decode(buf));
      if (r.ok && r.value !== null) assert.ok(r.value.bytesUsed >= 1 && r.value.bytesUsed <= buf.length);
    }),
  );
}

// A target as the decoders give it back: IPv4 dotted, IPv6 canonical, or a name.
const targetArb: fc.Arbitrary<Target> = fc.record({
  host: fc.oneof(
    ipBytesArb.map((ip) => formatIp(ip)),
    domainArb,
  ),
  port: portArb,
});

// ---- SOCKS5 ----

test('socks5 decoders on arbitrary bytes throw only TunnelError', () => {
  junkProperty(decodeMethodSelection, bytesStartingWith([5], [5, 0], [5, 1]));
  junkProperty(decodeUserPassRequest, bytesStartingWith([1], [1, 0], [1, 3]));
  junkProperty(decodeRequest, bytesStartingWith([5, 1, 0], [5, 1, 0, 3], [5, 1, 0, 1], [5, 1, 0, 4]));
});

test('socks5 method selection: valid encodings decode whole; every strict prefix needs more', () => {
  check(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 255 }),
      fc.uint8Array({ maxLength: 4 }),
      (methods, tail) => {
        const bytes = cat([5, methods.length], methods);
        assert.deepEqual(decodeMethodSelection(cat(bytes, tail)), {
          value: { methods },
          bytesUsed: bytes.length,
        });
        prefixesNeedMore(decodeMethodSelection, bytes);
      },
    ),
  );
});

test('socks5 username/password: UTF-8 credentials round trip; every strict prefix needs more', () => {
  const cred = fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => Buffer.byteLength(s) <= 255);
  check(
    fc.property(cred, cred, (username, password) => {
      const u = Buffer.from(username);
      const p = Buffer.from(password);
      const bytes = cat([1, u.length], u, [p.length], p);
      assert.deepEqual(decodeUserPassRequest(bytes), {
        value: { username, password },
        bytesUsed: bytes.length,
      });
      prefixesNeedMore(decodeUserPassRequest, bytes);
    }),
  );
});

test('socks5 request: encoded targets decode to themselves; every strict prefix needs more', () => {
  check(
    fc.property(fc.integer({ min: 0, max: 255 }), targetArb, (command, target) => {
      const bytes = cat([5, command, 0], encodeSocksAddress(target));
      assert.deepEqual(decodeRequest(bytes), { value: { command, target }, bytesUsed: bytes.length });
      prefixesNeedMore(decodeRequest, bytes);
    }),
  );
});

// ---- SOCKS address encoding ----

test('encodeSocksAddress / decodeSocksAddress round trip at any offset; prefixes need more; junk throws only TunnelError', () => {
  check(
    fc.property(
      targetArb,
      fc.uint8Array({ maxLength: 8 }),
      fc.uint8Array({ maxLength: 8 }),
      (target, before, after) => {
        const enc = encodeSocksAddress(target);
        const buf = cat(before, enc, after);
        assert.deepEqual(decodeSocksAddress(buf, before.length), { value: target, bytesUsed: enc.length });
        for (let i = 0; i < enc.length; i++)
          assert.equal(decodeSocksAddress(cat(before, enc.subarray(0, i)), before.length), null);
      },
    ),
  );
  junkProperty((b) => decodeSocksAddress(b, 0), bytesStartingWith([1], [3], [4], [3, 9]));
});

// ---- SOCKS4/4a ----

test('socks4 on arbitrary bytes and any maxLength throws only TunnelError', () => {
  check(
    fc.property(
      bytesStartingWith([4, 1], [4, 1, 0, 80, 0, 0, 0, 1], [4, 1, 0, 80, 1, 2, 3, 4]),
      fc.integer({ min: 0, max: 64 }),
      (buf, max) => {
        const r = settle(() => decodeSocks4Request(buf, max));
        if (r.ok && r.value !== null) assert.ok(r.value.bytesUsed <= buf.length);
      },
    ),
  );
});

test('socks4/4a: valid requests decode; every strict prefix needs more', () => {
  const userArb = fc.string({ unit: 'grapheme-ascii', maxLength: 20 }).filter((s) => !s.includes('\0'));
  check(
    fc.property(
      fc.integer({ min: 0, max: 255 }),
      portArb,
      fc.oneof(
        fc
          .uint8Array({ minLength: 4, maxLength: 4 })
          .filter((b) => !(b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] !== 0)),
        domainArb,
      ),
      userArb,
      (command, port, dest, userId) => {
        const user = Buffer.from(userId);
        const socks4a = typeof dest === 'string';
        const ip = socks4a ? [0, 0, 0, 1] : [...dest];
        const host = socks4a ? dest : ip.join('.');
        const bytes = cat(
          [4, command, port >> 8, port & 0xff],
          ip,
          user,
          [0],
          socks4a ? [...Buffer.from(dest), 0] : [],
        );
        const want = { value: { command, target: { host, port }, userId, socks4a }, bytesUsed: bytes.length };
        assert.deepEqual(decodeSocks4Request(bytes, 255), want);
        prefixesNeedMore((b) => decodeSocks4Request(b, 255), bytes);
      },
    ),
  );
});

// ---- IP literals ----

test('parseIp(formatIp(ip)) is ip; formatIp is canonical (idempotent through parseIp)', () => {
  check(
    fc.property(ipBytesArb, (ip) => {
      const text = formatIp(ip);
      const back = parseIp(text);
      assert.ok(back !== null, text);
      assert.equal(back.family, ip.family);
      assert.deepEqual([...back.bytes], [...ip.bytes], text);
      assert.deepEqual(parseIp(`[${text}]`) === null, ip.family === 4, 'brackets hold IPv6 only');
      assert.equal(formatIp(parseIpLoose(text)!), text, 'parseIpLoose agrees');
    }),
  );
});

test('parseIpLoose agrees with parseIp on dotted quads, and with a reference inet_aton on numeric forms', () => {
  const part = fc.oneof(
    fc.integer({ min: 0, max: 255 }).map((n) => ({ n, text: String(n) })),
    fc.integer({ min: 0, max: 255 }).map((n) => ({ n, text: '0x' + n.toString(16) })),
    fc.integer({ min: 0, max: 255 }).map((n) => ({ n, text: '0' + n.toString(8) })),
  );
  check(
    fc.property(fc.array(part, { minLength: 4, maxLength: 4 }), (parts) => {
      const text = parts.map((p) => p.text).join('.');
      const loose = parseIpLoose(text);
      assert.ok(loose !== null, text);
      assert.deepEqual(
        [...loose.bytes],
        parts.map((p) => p.n),
        text,
      );
      const decimal = parts.map((p) => p.n).join('.');
      assert.deepEqual([...parseIp(decimal)!.bytes], [...parseIpLoose(decimal)!.bytes]);
    }),
  );
  check(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(10, 16, 8), (n, radix) => {
      const text = radix === 10 ? String(n) : radix === 16 ? '0x' + n.toString(16) : '0' + n.toString(8);
      const want = [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
      assert.deepEqual([...parseIpLoose(text)!.bytes], want, text);
    }),
  );
  check(
    fc.property(fc.string({ maxLength: 24 }), (s) => {
      // never throws; strict ⊆ loose
      const strict = parseIp(s);
      const loose = parseIpLoose(s);
      if (strict !== null) assert.ok(loose !== null && formatIp(loose) === formatIp(strict), s);
    }),
  );
});

// ---- pins and share strings ----

const pinBytesArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b));

test('normalizePin accepts both alphabets, padded or not, with sha256// in any case, and nothing with stray bits', () => {
  check(
    fc.property(
      pinBytesArb,
      fc.boolean(),
      fc.boolean(),
      fc.constantFrom('', 'sha256//', 'SHA256//', 'Sha256//'),
      fc.integer({ min: 1, max: 3 }),
      (bytes, url, pad, prefix, bump) => {
        const canonical = bytes.toString('base64');
        let body = url ? bytes.toString('base64url') : canonical.replace(/=$/, '');
        if (pad) body += '=';
        assert.equal(normalizePin(prefix + body), canonical);
        // The 43rd character holds 4 data bits and 2 zero bits: setting a zero bit must be refused.
        const alphabet = url
          ? 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
          : 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
        const last = alphabet.indexOf(body[42]!);
        const stray = body.slice(0, 42) + alphabet[last + bump] + body.slice(43);
        const r = settle(() => normalizePin(prefix + stray));
        assert.deepEqual(r, { ok: false, code: 'config' }, stray);
      },
    ),
  );
});

test('share strings: format then parse is the identity; junk throws only TunnelError(config)', () => {
  check(
    fc.property(pinBytesArb, targetArb, (bytes, target) => {
      const pin = bytes.toString('base64');
      const text = formatShareString({ pin, target });
      assert.ok(text.startsWith('ett://') && !text.includes('='), text);
      assert.equal(text, `ett://${bytes.toString('base64url')}@${formatTarget(target)}`);
      assert.deepEqual(parseShareString(text), { pin, target });
    }),
  );
  check(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 80 }),
        fc
          .tuple(pinBytesArb, fc.string({ maxLength: 40 }))
          .map(([b, rest]) => `ett://${b.toString('base64url')}@${rest}`),
      ),
      (s) => {
        const r = settle(() => parseShareString(s));
        if (!r.ok) assert.equal(r.code, 'config');
      },
    ),
  );
});
