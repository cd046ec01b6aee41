// Properties of the client's host patterns (parseHostPattern) and of host rules matching targets.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';

import { parseHostPattern, ruleMatches, type Rule } from '../../src/client/rules.js';
import { check, portArb, settle } from './run.js';

const LABEL = fc.stringMatching(/^[a-z0-9_](?:[a-z0-9_-]{0,10}[a-z0-9_])?$/);
const nameArb = fc.array(LABEL, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('.'));
const caseArb = fc.constantFrom('lower', 'upper', 'first');
const recase = (s: string, how: string): string =>
  how === 'upper' ? s.toUpperCase() : how === 'first' ? s.charAt(0).toUpperCase() + s.slice(1) : s;

const rule = (text: string): Rule => ({ text, hosts: [parseHostPattern(text)], action: { kind: 'direct' } });

test('parseHostPattern: exact names, .suffix and globs in any case, padded, with a trailing dot', () => {
  check(
    fc.property(
      nameArb,
      fc.constantFrom('exact', 'suffix', 'glob'),
      caseArb,
      fc.constantFrom('', ' ', '\t'),
      fc.boolean(),
      (name, kind, how, pad, dot) => {
        const body = kind === 'suffix' ? `.${name}` : kind === 'glob' ? `*.${name}` : name;
        const p = parseHostPattern(`${pad}${recase(body, how)}${dot ? '.' : ''}${pad}`);
        assert.equal(p.kind, kind);
        assert.equal(p.text, kind === 'suffix' ? name : body);
      },
    ),
  );
});

test('host rules: a name matches its exact, suffix and glob patterns whatever the case or trailing dot; siblings do not', () => {
  check(
    fc.property(nameArb, LABEL, caseArb, fc.boolean(), portArb, (name, sub, how, dot, port) => {
      const host = recase(`${sub}.${name}`, how) + (dot ? '.' : '');
      assert.ok(ruleMatches(rule(`${sub}.${name}`), { host, port }), 'exact');
      assert.ok(ruleMatches(rule(`.${name}`), { host, port }), 'suffix covers names under it');
      assert.ok(ruleMatches(rule(`.${name}`), { host: name, port }), 'suffix covers the name itself');
      assert.ok(ruleMatches(rule(`*.${name}`), { host, port }), 'glob');
      assert.ok(!ruleMatches(rule(`*.${name}`), { host: name, port }), '* matches at least one character');
      assert.ok(
        !ruleMatches(rule(`.${name}`), { host: `x${name}`, port }),
        'suffix respects label boundaries',
      );
    }),
  );
});

test('parseHostPattern on arbitrary text: TunnelError(config), or a pattern of letters, digits, . _ - *', () => {
  check(
    fc.property(fc.oneof(fc.string({ maxLength: 30 }), fc.stringMatching(/^[a-z.*_-]{0,12}$/)), (s) => {
      const r = settle(() => parseHostPattern(s));
      if (!r.ok) return assert.equal(r.code, 'config');
      assert.match(r.value.text, /^[a-z0-9._*-]+$/);
      if (r.value.kind === 'suffix') assert.ok(!r.value.text.includes('*'));
      if (r.value.kind === 'exact') assert.ok(!r.value.text.includes('*'));
    }),
  );
});
