import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIp, type IpAddress } from '../wire/ip.js';
import { shortPin } from '../wire/share-string.js';
import { evaluatePublish, parsePublishRule } from './publish-policy.js';

const PIN_A = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
const PIN_B = '+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/8=';
const ip = (s: string): IpAddress => parseIp(s)!;

const rules = [
  parsePublishRule(`${PIN_A} ports 8000-8100 on 127.0.0.1,::1`),
  parsePublishRule(`${PIN_A} ports 2222`),
  parsePublishRule(`${PIN_B} ports 9000-9001 on 0.0.0.0`),
];

test('evaluatePublish: the first rule of the key whose ports and address fit accepts', () => {
  const ok = (pin: string, bind: string, port: number): boolean =>
    evaluatePublish(rules, pin, ip(bind), port).accept;
  assert.equal(ok(PIN_A, '127.0.0.1', 8000), true);
  assert.equal(ok(PIN_A, '::1', 8100), true);
  assert.equal(ok(PIN_A, '::ffff:127.0.0.1', 8050), true); // an IPv4-mapped address is its IPv4
  assert.equal(ok(PIN_A, '0.0.0.0', 2222), true); // no "on": any address
  assert.equal(ok(PIN_A, '0.0.0.0', 8000), false); // the wildcard must be named
  assert.equal(ok(PIN_A, '127.0.0.1', 8101), false);
  assert.equal(ok(PIN_A, '127.0.0.1', 7999), false);
  assert.equal(ok(PIN_B, '0.0.0.0', 9001), true);
  assert.equal(ok(PIN_B, '127.0.0.1', 9001), false); // 0.0.0.0 granted is not every address
  assert.equal(ok(PIN_B, '0.0.0.0', 2222), false); // another key's rule is not this one's
});

test("evaluatePublish: a refusal names what was asked and what this key may have, never another key's rules", () => {
  const r = (pin: string, bind: string, port: number): string => {
    const v = evaluatePublish(rules, pin, ip(bind), port);
    assert.equal(v.accept, false);
    return v.accept ? '' : v.reason;
  };
  assert.equal(
    r(PIN_A, '127.0.0.1', 80),
    "127.0.0.1 port 80 refused: port 80 is outside this key's ports (allowed: 8000-8100 on 127.0.0.1,::1; 2222)",
  );
  assert.equal(
    r(PIN_A, '10.0.0.1', 8000),
    '10.0.0.1 port 8000 refused: address 10.0.0.1 is not one this key may bind (allowed: 8000-8100 on 127.0.0.1,::1; 2222)',
  );
  assert.doesNotMatch(r(PIN_A, '10.0.0.1', 9000), /9000-9001|0\.0\.0\.0/);
  const none = 'CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCA=';
  assert.equal(
    r(none, '127.0.0.1', 8000),
    `key ${shortPin(none)} may publish nothing on this relay (no publish rule)`,
  );
  assert.equal(evaluatePublish([], PIN_A, ip('127.0.0.1'), 8000).accept, false); // default: none
});

test('parsePublishRule: normalized text; errors give the shape or the reason', () => {
  assert.equal(parsePublishRule(`  ${PIN_A}   ports 80  `).text, `${PIN_A} ports 80`);
  assert.equal(
    parsePublishRule(`${PIN_A} ports 80-80 on ::ffff:10.0.0.1`).text,
    `${PIN_A} ports 80 on 10.0.0.1`,
  );
  assert.throws(() => parsePublishRule(`${PIN_A} ports`), /expected "PIN ports LOW\[-HIGH\]/);
  assert.throws(() => parsePublishRule(`${PIN_A} ports 80 at 1.2.3.4`), /after the ports: "on"/);
  assert.throws(() => parsePublishRule(`${PIN_A} ports 80-70000`), /ports are 1\.\.65535/);
  assert.throws(() => parsePublishRule(`${PIN_A} ports eighty`), /expected LOW or LOW-HIGH/);
  assert.throws(() => parsePublishRule(`${PIN_A} ports 80 on 1.2.3.4,`), /on "": not an IP address/);
});
