import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeOpen, encodeOpen, OPEN_INCOMING, OPEN_PUBLISH } from './open.js';
import { decodeReason, encodeReason, REASON_MAX } from './stream.js';

test('OPEN PUBLISH and INCOMING: byte vectors both ways (§20)', () => {
  const publish = encodeOpen({ command: OPEN_PUBLISH, target: { host: '0.0.0.0', port: 8022 } });
  assert.equal(publish.toString('hex'), '040100000000' + '1f56');
  const incoming = encodeOpen({ command: OPEN_INCOMING, target: { host: '::', port: 443 } });
  assert.equal(incoming.toString('hex'), '0504' + '00'.repeat(16) + '01bb');
  assert.deepEqual(decodeOpen(Buffer.from('04017f000001' + '1f56' + 'ff', 'hex')), {
    open: { command: OPEN_PUBLISH, target: { host: '127.0.0.1', port: 8022 } },
    bytesUsed: 8,
  });
  assert.deepEqual(decodeOpen(incoming).open, { command: OPEN_INCOMING, target: { host: '::', port: 443 } });
  assert.throws(() => decodeOpen(Buffer.from('06017f0000010050', 'hex')), /OPEN command 6/);
});

test('refusal reasons: printable ASCII only, at most REASON_MAX bytes, both ways', () => {
  assert.equal(encodeReason('port 80 refused').toString('latin1'), 'port 80 refused');
  assert.equal(encodeReason('a\nb\u00e9c').toString('latin1'), 'a?b?c');
  assert.equal(encodeReason('x'.repeat(300)).length, REASON_MAX);
  assert.equal(decodeReason(Buffer.from('6f6b0a1b', 'hex')), 'ok??');
  assert.equal(decodeReason(Buffer.alloc(400, 0x41)).length, REASON_MAX);
  assert.equal(decodeReason(Buffer.alloc(0)), '');
});
