import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { PerSecond } from './log.js';

test('PerSecond: the first event at once, then one line a second with the count and the latest detail', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const said: [number, string][] = [];
    const r = new PerSecond((n, d) => said.push([n, d]));
    r.add('a');
    assert.deepEqual(said, [[1, 'a']]);
    for (const d of ['b', 'c', 'd']) r.add(d);
    assert.deepEqual(said, [[1, 'a']], 'nothing more within the second');
    mock.timers.tick(1000);
    assert.deepEqual(said, [
      [1, 'a'],
      [3, 'd'],
    ]);
    mock.timers.tick(5000);
    assert.equal(said.length, 2, 'a quiet second says nothing');
    r.add('e');
    assert.deepEqual(said.at(-1), [1, 'e'], 'after a quiet spell the next event is reported at once');
  } finally {
    mock.timers.reset();
  }
});
