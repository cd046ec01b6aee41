import { test } from 'node:test';
import assert from 'node:assert/strict';

import { TunnelError } from '../errors.js';
import { formatShareString, normalizePin, parseShareString, pinBytes, shortPin } from './share-string.js';

// Pin A: the bytes 00..1f. Pin B: bytes chosen so base64 needs '+' and '/' (and base64url '-' and '_').
const A_HEX = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const A_STD = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
const A_URL = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8';
const B_STD = '+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/8=';
const B_URL = '-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_8';

/** A TunnelError('config') whose message quotes no run of 9 characters of `pin`. */
const configErrorHiding = (pin: string) => (err: unknown) => {
  if (!(err instanceof TunnelError) || err.code !== 'config') return false;
  for (let i = 0; i + 9 <= pin.length; i++) {
    assert.ok(!err.message.includes(pin.slice(i, i + 9)), `message echoes the pin: ${err.message}`);
  }
  return true;
};

test('normalizePin accepts every spelling and returns canonical base64', () => {
  for (const [std, url] of [
    [A_STD, A_URL],
    [B_STD, B_URL],
  ]) {
    const spellings = [
      std,
      std.slice(0, -1),
      url,
      `${url}=`,
      `sha256//${std}`,
      `sha256//${url}`,
      `SHA256//${url}`,
    ];
    for (const s of spellings) assert.equal(normalizePin(s), std, s);
  }
  assert.equal(Buffer.from(pinBytes(A_URL)).toString('hex'), A_HEX);
  assert.equal(Buffer.from(pinBytes(`sha256//${A_STD}`)).toString('hex'), A_HEX);
  assert.equal(pinBytes(B_STD).length, 32);
});

test('normalizePin refuses what is not a 32-byte pin, without echoing it', () => {
  const bad = [
    '',
    'sha256//',
    A_URL.slice(0, 42), // 31.5 bytes
    `${A_URL}A`, // 44 chars, no padding: 33 bytes
    `${A_STD}=`, // extra padding
    `${A_URL.slice(0, 40)}==`,
    A_HEX, // the hex of the right bytes is not a pin
    `${B_URL.slice(0, 10)}+${B_URL.slice(11)}`, // mixed alphabets
    `${A_URL.slice(0, 20)}=${A_URL.slice(21)}`, // padding in the middle
    `${A_URL.slice(0, 20)}!${A_URL.slice(21)}`, // stray character
    `${A_URL.slice(0, 20)} ${A_URL.slice(21)}`,
    ` ${A_URL}`,
    `${A_URL.slice(0, -1)}9`, // non-canonical: the last character's unused bits are set
    `sha1//${A_URL}`,
  ];
  for (const text of bad) {
    assert.throws(() => normalizePin(text), configErrorHiding(text), JSON.stringify(text));
    assert.throws(() => pinBytes(text), configErrorHiding(text));
  }
});

test('shortPin: the first 8 characters of the canonical pin; never throws', () => {
  assert.equal(shortPin(A_URL), 'AAECAwQF');
  assert.equal(shortPin(B_URL), '+/+/+/+/');
  assert.equal(shortPin(`sha256//${B_STD}`), '+/+/+/+/');
  assert.equal(shortPin('not-a-pin-at-all'), 'not-a-pi');
  assert.equal(shortPin(''), '');
});

test('parseShareString: ett://<pin>@host:port', () => {
  assert.deepEqual(parseShareString(`ett://${A_URL}@relay.example.com:7000`), {
    pin: A_STD,
    target: { host: 'relay.example.com', port: 7000 },
  });
  assert.deepEqual(parseShareString(`ett://${B_URL}@[::1]:7000`), {
    pin: B_STD,
    target: { host: '::1', port: 7000 },
  });
  assert.deepEqual(parseShareString(`ett://${A_URL}@192.0.2.1:1`), {
    pin: A_STD,
    target: { host: '192.0.2.1', port: 1 },
  });
  assert.deepEqual(parseShareString(`ett://${A_URL}@[::ffff:1.2.3.4]:65535`).target, {
    host: '::ffff:1.2.3.4',
    port: 65535,
  });
  // Any pin spelling is read; the scheme, like a URL's, is case-insensitive.
  for (const pin of [A_STD, A_STD.slice(0, -1), `${A_URL}=`, `sha256//${A_STD}`]) {
    assert.equal(parseShareString(`ett://${pin}@h:1`).pin, A_STD, pin);
  }
  assert.equal(parseShareString(`ETT://${A_URL}@h:1`).pin, A_STD);
});

test('parseShareString refuses bad strings with TunnelError(config), never echoing the pin', () => {
  const bad = [
    '',
    'junk',
    A_URL,
    `${A_URL}@h:1`, // no scheme
    `http://${A_URL}@h:1`,
    `ett:/${A_URL}@h:1`,
    `ett:${A_URL}@h:1`,
    `ett://${A_URL}`, // no '@'
    `ett://${A_URL}h:1`,
    `ett://@h:1`, // no pin
    `ett://${A_URL.slice(0, 42)}@h:1`, // wrong length pin
    `ett://${A_URL}A@h:1`,
    `ett://${A_URL.slice(0, -1)}9@h:1`,
    `ett://${A_URL}@h`, // missing port
    `ett://${A_URL}@h:`,
    `ett://${A_URL}@h:0`,
    `ett://${A_URL}@h:65536`,
    `ett://${A_URL}@h:99999`,
    `ett://${A_URL}@h:-1`,
    `ett://${A_URL}@:7000`, // no host
    `ett://${A_URL}@::1:7000`, // IPv6 without brackets
    `ett://${A_URL}@[::1]`,
    `ett://${A_URL}@[::1:7000`,
    `ett://${A_URL}@h:7000/`, // nothing after the port
    `ett://${A_URL}@h:7000?x=1`,
    `ett://${A_URL}@h:7000 `,
    ` ett://${A_URL}@h:7000`,
    `ett://${A_URL}@user@h:7000`,
    `ett://${A_URL}@${A_URL}`, // the pin again where the host goes: still not echoed
  ];
  for (const text of bad) {
    assert.throws(() => parseShareString(text), configErrorHiding(A_URL), JSON.stringify(text));
  }
});

test('formatShareString writes base64url without padding; parse and format round-trip', () => {
  assert.equal(
    formatShareString({ pin: A_STD, target: { host: 'relay.example.com', port: 7000 } }),
    `ett://${A_URL}@relay.example.com:7000`,
  );
  assert.equal(
    formatShareString({ pin: B_STD, target: { host: '::1', port: 7000 } }),
    `ett://${B_URL}@[::1]:7000`,
  );
  // Canonical strings come back byte for byte.
  for (const text of [
    `ett://${A_URL}@relay.example.com:7000`,
    `ett://${B_URL}@[::1]:7000`,
    `ett://${A_URL}@[::]:1`,
    `ett://${B_URL}@[::ffff:1.2.3.4]:443`,
    `ett://${A_URL}@192.0.2.1:65535`,
    `ett://${A_URL}@xn--bcher-kva.example:8443`,
  ]) {
    assert.equal(formatShareString(parseShareString(text)), text);
  }
  // Other spellings settle on the canonical one after a single pass.
  for (const text of [`ETT://sha256//${A_STD}@h:1`, `ett://${B_STD}@h:1`, `ett://${B_URL}=@h:1`]) {
    const once = formatShareString(parseShareString(text));
    assert.match(once, /^ett:\/\/[A-Za-z0-9_-]{43}@h:1$/);
    assert.equal(formatShareString(parseShareString(once)), once);
  }
});

test('formatShareString refuses a bad pin or port', () => {
  for (const port of [0, 65536, 1.5]) {
    assert.throws(
      () => formatShareString({ pin: A_STD, target: { host: 'h', port } }),
      configErrorHiding(A_STD),
      String(port),
    );
  }
  assert.throws(
    () => formatShareString({ pin: 'short', target: { host: 'h', port: 1 } }),
    configErrorHiding(''),
  );
});

test('invites: ett://PIN@HOST:PORT?invite=TOKEN both ways; the token checked, never quoted', async () => {
  const { formatInvite, parseInvite, tokenBytes } = await import('./share-string.js');
  const token = A_URL; // 32 bytes 00..1f, as base64url
  const text = `ett://${B_URL}@relay.example.org:7000?invite=${token}`;
  const inv = parseInvite(text);
  assert.equal(inv.share.pin, B_STD);
  assert.deepEqual(inv.share.target, { host: 'relay.example.org', port: 7000 });
  assert.equal(inv.token, token);
  assert.equal(formatInvite(inv), text);
  assert.equal(Buffer.from(tokenBytes(token)).toString('hex'), A_HEX);
  // Any pin spelling is read; the written form is base64url; IPv6 in brackets.
  const v6 = parseInvite(`ETT://${B_STD}@[::1]:1?invite=${token}`);
  assert.equal(formatInvite(v6), `ett://${B_URL}@[::1]:1?invite=${token}`);
  const bad: [string, RegExp][] = [
    [`ett://${B_URL}@h:1`, /no '\?invite=TOKEN'/],
    [`ett://${B_URL}@h:1?token=${token}`, /exactly '\?invite=TOKEN'/],
    [`ett://${B_URL}@h:1?invite=`, /43 base64url characters, got 0/],
    [`ett://${B_URL}@h:1?invite=${token}&x=1`, /43 base64url characters, got 47/],
    [`ett://${B_URL}@h:1?invite=${token.slice(0, 42)}+`, /43 base64url characters/],
    [`ett://${B_URL}@h:1?invite=${token.slice(0, 42)}B`, /not canonical/],
    [`ett://${B_URL}@h:0?invite=${token}`, /port/],
    [`ett://${B_URL}h:1?invite=${token}`, /no '@'/],
  ];
  for (const [t, re] of bad) {
    assert.throws(
      () => parseInvite(t),
      (e) =>
        e instanceof TunnelError &&
        e.code === 'config' &&
        re.test(e.message) &&
        !e.message.includes(token.slice(0, 9)),
      t,
    );
  }
  // A share string with a query is still refused where a share string is read.
  assert.throws(() => parseShareString(text), TunnelError);
});
