import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatNameAddress, nameAddressIndex, NameTable, NAME_SPAN, normalizeName } from './names.js';

describe('run name table', () => {
  test('address text both ways, byte for byte', () => {
    assert.equal(formatNameAddress(1), '240.0.0.1');
    assert.equal(formatNameAddress(256), '240.0.1.0');
    assert.equal(formatNameAddress(NAME_SPAN - 1), '247.255.255.255');
    assert.equal(nameAddressIndex('240.0.0.1'), 1);
    assert.equal(nameAddressIndex('240.0.1.0'), 256);
    assert.equal(nameAddressIndex('255.255.255.255'), 0x0fffffff);
    for (const bad of ['239.255.255.255', '10.0.0.1', '240.0.0', '240.0.0.256', '::1', '240.0.0.1 ', '']) {
      assert.equal(nameAddressIndex(bad), null, bad);
    }
  });

  test('names: case and one trailing dot fold; what cannot be a host name is refused', () => {
    assert.equal(normalizeName('Example.COM.'), 'example.com');
    assert.equal(normalizeName('a_b-c.test'), 'a_b-c.test');
    assert.equal(normalizeName('x'.repeat(253)), 'x'.repeat(253));
    for (const bad of ['', '.', 'a..b', '-a', '.a', 'a b', 'a/b', 'x'.repeat(254), 'ü.test', 'a\n']) {
      assert.equal(normalizeName(bad), null, JSON.stringify(bad));
    }
  });

  test('the same name gets the same address; both directions agree', () => {
    const t = new NameTable();
    const a = t.addressFor('one.test');
    assert.equal(a, '240.0.0.1');
    assert.equal(t.addressFor('two.test'), '240.0.0.2');
    assert.equal(t.addressFor('ONE.test.'), a);
    assert.equal(t.nameFor(a!), 'one.test');
    assert.equal(t.nameFor('240.0.0.2'), 'two.test');
    assert.equal(t.nameFor('240.0.0.3'), undefined);
    assert.equal(t.nameFor('127.0.0.1'), undefined);
    assert.equal(t.size, 2);
    assert.equal(t.addressFor('bad name'), null);
    assert.equal(t.size, 2);
  });

  test('bounded: the least recently used name is forgotten, and its address is not reused at once', () => {
    const t = new NameTable(3, 100);
    t.addressFor('a.test'); // .1
    t.addressFor('b.test'); // .2
    t.addressFor('c.test'); // .3
    t.nameFor('240.0.0.1'); // a used again: b is now the oldest
    assert.equal(t.addressFor('d.test'), '240.0.0.4');
    assert.equal(t.size, 3);
    assert.equal(t.nameFor('240.0.0.2'), undefined, 'b was forgotten');
    assert.equal(t.nameFor('240.0.0.1'), 'a.test');
    assert.equal(t.addressFor('b.test'), '240.0.0.5', 'b comes back at a new address');
  });

  test('going round the span skips addresses still held', () => {
    const t = new NameTable(2, 4); // indexes 1..3, two names at a time
    for (const n of ['a', 'b', 'c', 'd', 'e']) t.addressFor(`${n}.test`); // held: d=.1, e=.2
    assert.equal(t.nameFor('240.0.0.1'), 'd.test');
    assert.equal(t.addressFor('f.test'), '240.0.0.3'); // e forgotten; next is .1 again
    t.nameFor('240.0.0.1'); // d used: f is the oldest
    assert.equal(t.addressFor('g.test'), '240.0.0.2', '.1 is still d, so it is skipped');
    assert.equal(t.nameFor('240.0.0.1'), 'd.test');
  });

  test('many names: size never exceeds capacity, every held name maps back', () => {
    const t = new NameTable(1000);
    for (let i = 0; i < 5000; i++) t.addressFor(`host${i}.test`);
    assert.equal(t.size, 1000);
    for (let i = 4000; i < 5000; i++) {
      assert.equal(t.nameFor(t.addressFor(`host${i}.test`)!), `host${i}.test`);
    }
    assert.equal(t.nameFor(formatNameAddress(1)), undefined);
  });

  test('a name held by an open connection keeps its address through a flood of new names', () => {
    const t = new NameTable(3, 1000);
    const a = t.addressFor('held.test')!;
    const release = t.hold(a);
    const again = t.hold(a); // a second connection to the same name
    assert.equal(t.heldCount, 1);
    for (let i = 0; i < 50; i++) t.addressFor(`flood${i}.test`);
    assert.equal(t.size, 3);
    assert.equal(t.nameFor(a), 'held.test', 'held through 50 newer names');
    release();
    release(); // a second call does nothing
    for (let i = 50; i < 100; i++) t.addressFor(`flood${i}.test`);
    assert.equal(t.nameFor(a), 'held.test', 'still held by the second connection');
    again();
    assert.equal(t.heldCount, 0);
    for (let i = 100; i < 103; i++) t.addressFor(`flood${i}.test`);
    assert.equal(t.nameFor(a), undefined, 'forgotten once no connection holds it');
  });

  test('when every name is held, the oldest goes anyway: the size bound comes first', () => {
    const t = new NameTable(2, 100);
    const a = t.addressFor('a.test')!;
    const b = t.addressFor('b.test')!;
    t.hold(a);
    t.hold(b);
    assert.equal(t.addressFor('c.test'), '240.0.0.3');
    assert.equal(t.size, 2);
    assert.equal(t.nameFor(a), undefined, 'a, the oldest, was forgotten');
    assert.equal(t.nameFor(b), 'b.test');
    assert.equal(t.hold('240.0.0.99')(), undefined, 'an address of no name: a release that does nothing');
    assert.equal(t.hold('10.0.0.1')(), undefined);
  });
});
