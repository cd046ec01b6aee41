import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';

import { TunnelError } from '../errors.js';
import {
  durationMs,
  findInvite,
  formatAllowFile,
  formatInvites,
  hashToken,
  labelValue,
  newToken,
  parseAllowFile,
  parseInvites,
  pruneInvites,
  redeem,
  type InviteRecord,
} from './allow-file.js';
import { JoinFailures } from './join.js';

// The token of 32 bytes 00..1f, and its hash computed here by hand.
const TOKEN = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8';
const TOKEN_HASH = createHash('sha256')
  .update(Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex'))
  .digest('base64url');
const PIN = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
const NOW = new Date('2026-12-07T06:00:00.000Z');

function record(o: Partial<InviteRecord> = {}): InviteRecord {
  return {
    hash: TOKEN_HASH,
    name: 'alice',
    usesLeft: 1,
    expires: '2026-12-08T06:00:00.000Z',
    created: '2026-12-07T06:00:00.000Z',
    ...o,
  };
}

test('newToken: 43 base64url characters from 32 random bytes, never the same twice', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const t = newToken();
    assert.match(t, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(t, 'base64url').length, 32);
    seen.add(t);
  }
  assert.equal(seen.size, 200);
});

test('hashToken: base64url SHA-256 of the 32 bytes; a malformed token throws config without quoting it', () => {
  assert.equal(hashToken(TOKEN), TOKEN_HASH);
  assert.equal(TOKEN_HASH.length, 43);
  for (const bad of ['', TOKEN.slice(1), `${TOKEN}A`, `${TOKEN.slice(0, 42)}+`, `${TOKEN.slice(0, 42)}B`]) {
    assert.throws(
      () => hashToken(bad),
      (e) => e instanceof TunnelError && e.code === 'config' && !e.message.includes(TOKEN.slice(0, 20)),
      bad,
    );
  }
});

test('findInvite: the matching record among many, whatever its place; malformed and wrong tokens match none', () => {
  const others = Array.from({ length: 5 }, () => record({ hash: hashToken(newToken()) }));
  for (let at = 0; at <= others.length; at++) {
    const list = [...others.slice(0, at), record(), ...others.slice(at)];
    assert.equal(findInvite(list, TOKEN), at);
  }
  assert.equal(findInvite(others, TOKEN), -1);
  assert.equal(findInvite([record()], 'x'), -1);
  assert.equal(findInvite([record({ hash: 'A'.repeat(43) })], TOKEN), -1);
  assert.equal(findInvite([], TOKEN), -1);
});

test('redeem: takes one use; spent, expired and unknown tokens say which', () => {
  const r = redeem([record({ usesLeft: 2 })], TOKEN, NOW);
  assert.equal(r.kind, 'ok');
  if (r.kind !== 'ok') return;
  assert.equal(r.records[0]!.usesLeft, 1);
  const again = redeem(r.records, TOKEN, NOW);
  assert.equal(again.kind, 'ok');
  if (again.kind !== 'ok') return;
  assert.equal(redeem(again.records, TOKEN, NOW).kind, 'spent');
  assert.equal(redeem([record({ expires: NOW.toISOString() })], TOKEN, NOW).kind, 'expired');
  assert.equal(redeem([record()], newToken(), NOW).kind, 'unknown');
});

test('pruneInvites: keeps records until 7 days after they expire', () => {
  const old = record({ expires: '2026-11-30T05:59:59.000Z' });
  const recent = record({ expires: '2026-11-30T06:00:01.000Z' });
  assert.deepEqual(pruneInvites([old, recent], NOW), [recent]);
});

test('allow file: format and parse are inverse; errors name file and entry, never the pin', () => {
  const entries = [
    { pin: PIN, name: 'alice', added: NOW.toISOString() },
    { pin: '+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/8=', name: 'bob "b"', added: NOW.toISOString() },
  ];
  const text = formatAllowFile(entries);
  assert.deepEqual(parseAllowFile(text, 'allow.json'), entries);
  assert.deepEqual(parseAllowFile(formatAllowFile([]), 'a'), []);
  // A pin in the url alphabet reads as its canonical spelling.
  const url = text.replace(PIN, 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8');
  assert.equal(parseAllowFile(url, 'a')[0]!.pin, PIN);
  const cases: [string, RegExp][] = [
    ['not json', /allow\.json: not valid JSON/],
    ['[]', /allow\.json: must be a JSON object/],
    ['{"clients": []}', /not an ett allow file/],
    ['{"ett_allow": 1, "clients": [3]}', /clients\[0\]: must be an object/],
    [
      `{"ett_allow": 1, "clients": [{"pin": "${PIN.slice(0, 40)}", "name": "a", "added": "2026-01-01"}]}`,
      /clients\[0\]\.pin: pin must be 43/,
    ],
    [
      `{"ett_allow": 1, "clients": [{"pin": "${PIN}", "name": "", "added": "2026-01-01"}]}`,
      /clients\[0\]\.name: invite name must be 1\.\.64/,
    ],
    [
      `{"ett_allow": 1, "clients": [{"pin": "${PIN}", "name": "a", "added": "soon"}]}`,
      /clients\[0\]\.added: must be a time/,
    ],
    [formatAllowFile([entries[0]!, entries[0]!]), /clients\[1\]\.pin: listed twice/],
  ];
  for (const [bad, re] of cases) {
    assert.throws(
      () => parseAllowFile(bad, 'allow.json'),
      (e) =>
        e instanceof TunnelError &&
        e.code === 'config' &&
        re.test(e.message) &&
        !e.message.includes(PIN.slice(0, 12)),
      bad,
    );
  }
});

test('invites store: format and parse are inverse; it holds hashes, never a token', () => {
  const records = [record(), record({ hash: hashToken(newToken()), name: 'b', usesLeft: 0 })];
  const text = formatInvites(records);
  assert.deepEqual(parseInvites(text, 'i'), records);
  assert.ok(!text.includes(TOKEN));
  assert.throws(
    () => parseInvites(text.replace('"uses_left":1', '"uses_left":-1'), 'inv'),
    /inv: invites\[0\]\.uses_left/,
  );
  assert.throws(() => parseInvites(text.replace(TOKEN_HASH, 'short'), 'inv'), /inv: invites\[0\]\.hash/);
  assert.throws(() => parseInvites('{"ett_invites": 2, "invites": []}', 'inv'), /not an ett invites file/);
});

test('labels and durations', () => {
  assert.equal(labelValue('alice’s laptop'), 'alice’s laptop');
  for (const bad of ['', 'a'.repeat(65), 'a\nb', 'a\u202eb', 'a\x1b[31m'])
    assert.throws(() => labelValue(bad), TunnelError);
  assert.equal(durationMs('90s'), 90_000);
  assert.equal(durationMs('30m'), 1_800_000);
  assert.equal(durationMs('24h'), 86_400_000);
  assert.equal(durationMs('30d'), 30 * 86_400_000);
  for (const bad of ['', '24', 'h', '0h', '1.5h', '31d', '-1h', '24 h', '1w']) {
    assert.throws(
      () => durationMs(bad),
      (e) => e instanceof TunnelError && e.code === 'config',
      bad,
    );
  }
});

test('JoinFailures: a source is blocked after join_failures_per_source failures, until the window from the first passes; others are not', () => {
  let now = 1_000_000;
  const f = new JoinFailures({ joinFailuresPerSource: 3, joinFailureWindowMs: 60_000 }, () => now);
  for (let i = 0; i < 3; i++) {
    assert.equal(f.blocked('10.0.0.1'), false, `after ${i}`);
    f.fail('10.0.0.1');
  }
  assert.equal(f.blocked('10.0.0.1'), true);
  assert.equal(f.blocked('10.0.0.2'), false);
  now += 59_999;
  assert.equal(f.blocked('10.0.0.1'), true);
  now += 1;
  assert.equal(f.blocked('10.0.0.1'), false, 'the window has passed');
  f.fail('10.0.0.1');
  assert.equal(f.blocked('10.0.0.1'), false, 'counted afresh');
});
