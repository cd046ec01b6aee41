// Stream isolation keys (pure): which streams may share a circuit, and what a status label shows.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { canonicalIsolate, isolationOf } from './isolation.js';
import { isolateOf, type Action, type RoutingTable } from './rules.js';

const SECRET = Buffer.alloc(32, 7);
const T = { host: 'Example.ORG.', port: 443 };
const alice = { login: { username: 'alice', password: 'pw-1' } };

test('the key is HMAC-SHA256 over the criteria values in canonical order (vector)', () => {
  const iso = isolationOf(['socks-auth'], T, alice, SECRET)!;
  const expected = createHmac('sha256', SECRET).update('socks-auth\0alice\0pw-1').digest('hex');
  assert.equal(iso.key, expected);
  assert.equal(iso.label, `login alice #${expected.slice(0, 6)}`);
  const both = isolationOf(['destination', 'socks-auth'], T, alice, SECRET)!;
  const expected2 = createHmac('sha256', SECRET)
    .update('socks-auth\0alice\0pw-1\0\0destination\0example.org')
    .digest('hex');
  assert.equal(both.key, expected2, 'config order does not matter; host lower-cased, trailing dot dropped');
  assert.equal(both.label, `login alice, host example.org #${expected2.slice(0, 6)}`);
});

test('same login → same key; another password or user → another key; the password is never shown', () => {
  const a = isolationOf(['socks-auth'], T, alice, SECRET)!;
  const again = isolationOf(['socks-auth'], { host: 'other.test', port: 80 }, alice, SECRET)!;
  const otherPw = isolationOf(['socks-auth'], T, { login: { username: 'alice', password: 'pw-2' } }, SECRET)!;
  const bob = isolationOf(['socks-auth'], T, { login: { username: 'bob', password: 'pw-1' } }, SECRET)!;
  assert.equal(a.key, again.key, 'the destination is not a criterion here');
  assert.notEqual(a.key, otherPw.key);
  assert.notEqual(a.key, bob.key);
  assert.notEqual(a.label, otherPw.label, 'the tag tells two passwords of one user apart');
  for (const l of [a.label, otherPw.label, bob.label]) assert.ok(!l.includes('pw-'), l);
  // A user name cannot be split into the password: "a\0b" + "c" differs from "a" + "b\0c".
  const x = isolationOf(['socks-auth'], T, { login: { username: 'a\0b', password: 'c' } }, SECRET)!;
  const y = isolationOf(['socks-auth'], T, { login: { username: 'a', password: 'b\0c' } }, SECRET);
  assert.equal(x.label, 'login a?b #' + x.key.slice(0, 6), 'control characters shown as ?');
  assert.ok(y !== null);
});

test('a stream with no value for any criterion takes the shared circuit (null); other secrets, other keys', () => {
  assert.equal(isolationOf(['socks-auth'], T, undefined, SECRET), null);
  assert.equal(isolationOf(['socks-auth', 'forward', 'source'], T, {}, SECRET), null);
  assert.equal(isolationOf([], T, alice, SECRET), null);
  const f = isolationOf(
    ['forward', 'source'],
    T,
    { forward: '127.0.0.1:2222→h:22', source: '10.0.0.5' },
    SECRET,
  )!;
  assert.match(f.label, /^forward 127\.0\.0\.1:2222→h:22, from 10\.0\.0\.5 #[0-9a-f]{6}$/);
  const other = isolationOf(['socks-auth'], T, alice, Buffer.alloc(32, 8))!;
  assert.notEqual(other.key, isolationOf(['socks-auth'], T, alice, SECRET)!.key);
  const long = isolationOf(
    ['socks-auth'],
    T,
    { login: { username: 'u'.repeat(100), password: '' } },
    SECRET,
  )!;
  assert.match(long.label, /^login u{32}… #/);
});

test('canonicalIsolate orders and de-duplicates', () => {
  assert.deepEqual(canonicalIsolate(['source', 'socks-auth', 'source']), ['socks-auth', 'source']);
});

test("isolateOf: the rule's, else the route's or group's, else the table's, else socks-auth; per host adds destination", () => {
  const route: Action = { kind: 'route', route: { name: 'r', relays: [], isolate: ['source'] } };
  const plain: Action = { kind: 'route', route: { name: 'p', relays: [] } };
  const group: Action = { kind: 'group', name: 'g', members: [], isolate: [] };
  const table: RoutingTable = { rules: [], default: plain };
  assert.deepEqual(isolateOf(table, { rule: null, action: plain }), ['socks-auth']);
  assert.deepEqual(isolateOf({ ...table, isolate: ['forward'] }, { rule: null, action: plain }), ['forward']);
  assert.deepEqual(isolateOf(table, { rule: null, action: route }), ['source']);
  assert.deepEqual(isolateOf(table, { rule: null, action: group }), []);
  const rule = { text: 'rules[0]', action: route, isolate: ['destination'] as const };
  assert.deepEqual(isolateOf(table, { rule, action: route }), ['destination']);
  assert.deepEqual(isolateOf({ ...table, isolatePerHost: true }, { rule: null, action: group }), [
    'destination',
  ]);
  assert.deepEqual(isolateOf({ ...table, isolatePerHost: true }, { rule: null, action: plain }), [
    'socks-auth',
    'destination',
  ]);
});
