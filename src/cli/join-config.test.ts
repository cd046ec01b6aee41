import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseConfigText } from '../config/load.js';
import { validateClientExceptKey } from '../config/schema.js';
import { TunnelError } from '../errors.js';
import { addRelay } from './join-config.js';

const SHARE = 'ett://AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8@relay.example.org:7000';
const OTHER = 'ett://-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_8@relay.example.org:7000';
const w = { name: 'home', share: SHARE, keyPath: '/etc/ett/client.key', file: '/etc/ett/client.toml' };

function routesTo(text: string, name: string): void {
  const s = validateClientExceptKey(parseConfigText(text, 'client.toml'));
  assert.ok(s.routing.relays.has(name), text);
  assert.equal(s.routing.default.kind, 'route');
}

test('join-config: a new file has the key (relative to the file), a listen port, the relay and the default', () => {
  const r = addRelay(null, w);
  assert.ok(r.text !== null);
  assert.match(r.text, /^key = "client\.key"$/m);
  assert.match(r.text, /^default = "home"$/m);
  routesTo(r.text, 'home');
  assert.match(r.lines[0]!, /wrote \/etc\/ett\/client\.toml: relays\.home, the default path/);
});

test('join-config: an existing file keeps every line and comment, gains [relays.NAME] and a default when it had none', () => {
  const old =
    '# mine\nkey = "k.key"\nlisten = "127.0.0.1:0"  # any port\n\n[relays]\nwork = "' + OTHER + '"\n';
  const r = addRelay(old, w);
  assert.ok(r.text !== null);
  assert.ok(r.text.endsWith(`${old}\n[relays.home]\nshare = "${SHARE}"\n`), r.text);
  assert.ok(r.text.startsWith('default = "home"\n'), r.text);
  routesTo(r.text, 'home');
  // With a via already: kept, and said so.
  const via = addRelay(`key = "k"\nvia = "${OTHER}"`, w);
  assert.ok(via.text !== null && !via.text.includes('default ='));
  assert.ok(via.lines.some((l) => /kept its via/.test(l)));
  // The same relay under the name: nothing changes; another relay under it: refused, nothing written.
  assert.equal(addRelay(r.text, w).text, null);
  assert.equal(addRelay(`[relays]\nhome = { share = "${SHARE}" }\n`, w).text, null);
  assert.throws(
    () => addRelay(`default = "home"\n[relays]\nhome = "${OTHER}"\n`, w),
    (e) =>
      e instanceof TunnelError && e.code === 'config' && /another relay; choose another name/.test(e.message),
  );
});

test('join-config: refused when the result would not be a valid config, or for a bad name', () => {
  assert.throws(() => addRelay('key = [', w), /is not valid TOML now/);
  // An inline [relays] table cannot be extended by a [relays.NAME] table.
  assert.throws(
    () => addRelay(`relays = { work = "${OTHER}" }\n`, w),
    /cannot add the relay .* automatically/,
  );
  for (const name of ['', 'a b', 'direct', 'block', 'x'.repeat(65)]) {
    assert.throws(() => addRelay(null, { ...w, name }), /join: --name/, name);
  }
});
