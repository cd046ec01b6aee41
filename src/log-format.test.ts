import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger, logWriter } from './log.js';

test('json log lines: one object each, the message word for word', () => {
  const lines: string[] = [];
  const log = createLogger(
    'info',
    logWriter('json', (l) => lines.push(l)),
  );
  log.info('link down: Z4UhHI1f > pnPpocwv: ping-timeout (PING deadline missed)');
  log.debug('not shown');
  log.warn('say "this" \\ and that');
  assert.equal(lines.length, 2);
  const [a, b] = lines.map((l) => JSON.parse(l) as { time: string; level: string; msg: string });
  assert.deepEqual(Object.keys(a!), ['time', 'level', 'msg']);
  assert.ok(!Number.isNaN(Date.parse(a!.time)));
  assert.deepEqual(
    [a!.level, a!.msg],
    ['info', 'link down: Z4UhHI1f > pnPpocwv: ping-timeout (PING deadline missed)'],
  );
  assert.deepEqual([b!.level, b!.msg], ['warn', 'say "this" \\ and that']);
  const text: string[] = [];
  createLogger(
    'info',
    logWriter('text', (l) => text.push(l)),
  ).info('as before');
  assert.match(text[0]!, /^\S+Z info as before$/);
});
