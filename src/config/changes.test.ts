// What a reload reports and keeps: settings from TOML text (no key file is read), compared.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { formatShareString, shortPin } from '../wire/share-string.js';
import { clientChanges, relayChanges } from './changes.js';
import { parseConfigText } from './load.js';
import { validateClient, validateRelay } from './schema.js';

const PIN_A = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
const PIN_B = '+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/8=';
const SHARE_A = formatShareString({ pin: PIN_A, target: { host: '127.0.0.1', port: 7000 } });
const SHARE_B = formatShareString({ pin: PIN_B, target: { host: '::1', port: 7001 } });

const relay = (toml: string) => validateRelay(parseConfigText(`key = "r.key"\n${toml}`, 'relay.toml'));
const client = (toml: string) => validateClient(parseConfigText(`key = "c.key"\n${toml}`, 'client.toml'));

test('relay: nothing changed → no lines, same values', () => {
  const a = relay(`listen = "127.0.0.1:7000"\nallow = ["${PIN_A}"]`);
  const r = relayChanges(a, relay(`listen = "127.0.0.1:7000"\nallow = ["${PIN_A}"]`));
  assert.deepEqual(r.lines, []);
  assert.deepEqual(r.settings.allow, a.allow);
});

test('relay: allow list, exit policy, log level apply; listen, key, advertise and fixed limits are kept', () => {
  const a = relay(
    `listen = "127.0.0.1:7000"\nallow = ["${PIN_A}"]\nexit = ["accept *:443"]\n[limits]\nlinks_per_client = 4`,
  );
  const b = relayChanges(
    a,
    validateRelay(
      parseConfigText(
        [
          'key = "other.key"',
          'listen = "127.0.0.1:7001"',
          'advertise = "relay.example"',
          'log_level = "debug"',
          `allow = ["${PIN_B}"]`,
          'exit = ["accept *:443", "reject *:25"]',
          '[limits]',
          'links_per_client = 8',
          'stream_window_max = 1048576',
        ].join('\n'),
        'relay.toml',
      ),
    ),
  );
  assert.deepEqual(b.lines, [
    'key: r.key -> other.key needs a restart (kept)',
    'listen: 127.0.0.1:7000 -> 127.0.0.1:7001 needs a restart (kept)',
    'advertise: (none) -> relay.example needs a restart (kept)',
    `allow: added client ${shortPin(PIN_B)}`,
    `allow: removed client ${shortPin(PIN_A)}`,
    'exit policy: added "reject *:25"',
    'limits.links_per_client: 4 -> 8',
    `limits.stream_window_max: ${a.limits.streamWindowMax} -> 1048576 needs a restart (kept ${a.limits.streamWindowMax})`,
    'log_level: info -> debug',
  ]);
  assert.equal(b.settings.keyPath, 'r.key');
  assert.equal(b.settings.listen.port, 7000);
  assert.equal(b.settings.advertise, undefined, 'absent stays absent');
  assert.deepEqual(b.settings.allow, [PIN_B]);
  assert.equal(b.settings.exitRules.length, 2);
  assert.equal(b.settings.limits.linksPerClient, 8);
  assert.equal(b.settings.limits.streamWindowMax, a.limits.streamWindowMax);
  assert.equal(b.settings.logLevel, 'debug');
  assert.ok(!b.lines.some((l) => l.includes(PIN_B)), 'short pins only');
});

test('relay: the same exit rules in another order say so (first match wins)', () => {
  const a = relay(`allow = ["${PIN_A}"]\nlisten = "127.0.0.1:1"\nexit = ["accept *:443", "reject *:*"]`);
  const b = relay(`allow = ["${PIN_A}"]\nlisten = "127.0.0.1:1"\nexit = ["reject *:*", "accept *:443"]`);
  assert.deepEqual(relayChanges(a, b).lines, ['exit policy: order changed']);
});

test('client: relays, routes, groups, rules, default, forwards and SOCKS users, one line each, no password', () => {
  const a = client(
    [
      'default = "one"',
      '[relays]',
      `one = "${SHARE_A}"`,
      '[socks_users]',
      'alice = "first password"',
      'bob = "bob password"',
    ].join('\n'),
  );
  const b = client(
    [
      'default = "safe"',
      '[relays]',
      `one = "${SHARE_A}"`,
      `two = "${SHARE_B}"`,
      '[routes]',
      'chain = ["one", "two"]',
      '[groups]',
      'safe = ["chain", "one"]',
      '[[rules]]',
      'host = ".example.org"',
      'action = "block"',
      '[[forwards]]',
      'listen = "127.0.0.1:2222"',
      'to = "git.internal:22"',
      'via = "one"',
      '[socks_users]',
      'alice = "second password"',
      'carol = "carol password"',
    ].join('\n'),
  );
  const { lines, settings } = clientChanges(a, b);
  assert.deepEqual(lines, [
    `relay two added: ${shortPin(PIN_B)} at [::1]:7001`,
    `route chain added: ${shortPin(PIN_A)} > ${shortPin(PIN_B)}`,
    'group safe added: chain, one',
    'rules: added "host=.example.org -> block"',
    'default: route one -> group safe',
    'forward 127.0.0.1:2222 added: -> git.internal:22 via route one',
    'socks user alice: password changed',
    'socks user carol added',
    'socks user bob removed',
  ]);
  for (const pw of ['first password', 'second password', 'carol password', 'bob password']) {
    assert.ok(!lines.join('\n').includes(pw), 'no password in a line');
  }
  assert.equal(settings.routing.default.kind, 'group');
  assert.deepEqual([...(settings.socksUsers ?? new Map()).keys()], ['alice', 'carol']);
  const back = clientChanges(b, a).lines;
  assert.ok(back.includes('relay two removed (was ' + `${shortPin(PIN_B)} at [::1]:7001)`), back.join('\n'));
  assert.ok(back.includes('forward 127.0.0.1:2222 removed (was -> git.internal:22 via route one)'));
});

test('client: a login turned on and off', () => {
  const open = client(`via = "${SHARE_A}"`);
  const closed = client(`via = "${SHARE_A}"\n[socks_users]\nalice = "pw pw pw pw"`);
  assert.deepEqual(clientChanges(open, closed).lines, [
    'socks_users: a SOCKS login is now required',
    'socks user alice added',
  ]);
  assert.deepEqual(clientChanges(closed, open).lines, [
    'socks_users: no SOCKS login required any more',
    'socks user alice removed',
  ]);
});

test('client: pac is decided at start (a reload keeps it, saying so); it defaults to true', () => {
  const a = client(`via = "${SHARE_A}"`);
  assert.equal(a.pac, true);
  const r = clientChanges(a, client(`via = "${SHARE_A}"\npac = false`));
  assert.deepEqual(r.lines, ['pac: true -> false needs a restart (kept)']);
  assert.equal(r.settings.pac, true);
  assert.throws(() => client(`via = "${SHARE_A}"\npac = "no"`), /client\.toml: pac: /);
});

test('client: the transparent and DNS ports are bound at start (a reload keeps them); bad values name the key', () => {
  const a = client(`via = "${SHARE_A}"\ntransparent = "localhost:9040"`);
  assert.deepEqual(a.transparent, { host: 'localhost', port: 9040 });
  assert.equal(a.dns, undefined);
  const r = clientChanges(a, client(`via = "${SHARE_A}"\ntransparent = "[::]:9041"\ndns = "[::]:5353"`));
  assert.deepEqual(r.lines, [
    'transparent: localhost:9040 -> [::]:9041 needs a restart (kept)',
    'dns: (none) -> [::]:5353 needs a restart (kept)',
  ]);
  assert.deepEqual(r.settings.transparent, { host: 'localhost', port: 9040 });
  assert.equal(r.settings.dns, undefined);
  assert.throws(
    () => client(`via = "${SHARE_A}"\ntransparent = 9040`),
    /client\.toml: transparent: must be a string/,
  );
  assert.throws(
    () => client(`via = "${SHARE_A}"\ndns = "5353"`),
    /client\.toml: dns: "5353": expected HOST:PORT/,
  );
});

test('client: stream isolation changes are reported and apply', () => {
  const a = client(`via = "${SHARE_A}"`);
  const b = clientChanges(
    a,
    client(`via = "${SHARE_A}"\nisolate = ["destination"]\nisolate_per_host = true`),
  );
  assert.deepEqual(b.lines, ['isolate: (default) -> [destination]', 'isolate_per_host: false -> true']);
  assert.deepEqual(b.settings.routing.isolate, ['destination']);
  assert.equal(b.settings.routing.isolatePerHost, true);
});

test('relay: the allow file’s keys apply (a line per key added or removed); its path needs a restart', () => {
  const a = { ...relay(`listen = "127.0.0.1:7000"\nallow_file = "allow.json"`), joined: [PIN_A] };
  const b = { ...relay(`listen = "127.0.0.1:7000"\nallow_file = "other.json"`), joined: [PIN_B] };
  const r = relayChanges(a, b);
  assert.deepEqual(r.lines, [
    `allow_file: added client ${shortPin(PIN_B)}`,
    `allow_file: removed client ${shortPin(PIN_A)}`,
    'allow_file: allow.json -> other.json needs a restart (kept)',
  ]);
  assert.deepEqual(r.settings.joined, [PIN_B]);
  assert.equal(r.settings.allowFile, 'allow.json');
  assert.deepEqual(relayChanges(a, { ...a }).lines, []);
});
