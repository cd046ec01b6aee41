import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codeFromMuxResult, ERROR_TABLE, outOfDescriptors, toTunnelError, TunnelError } from './errors.js';

const sysErr = (code: string): Error => Object.assign(new Error(`connect ${code}`), { code });

test('system errors map to stable codes; running out of file descriptors is a limit', () => {
  const cases: [string, string][] = [
    ['ECONNREFUSED', 'refused'],
    ['ETIMEDOUT', 'timeout'],
    ['ENOTFOUND', 'host-unreachable'],
    ['ENETUNREACH', 'network-unreachable'],
    ['ECONNRESET', 'reset'],
    ['EMFILE', 'limit'],
    ['ENFILE', 'limit'],
    ['EWHATEVER', 'general'],
  ];
  for (const [errno, code] of cases) assert.equal(toTunnelError(sysErr(errno)).code, code, errno);
  // 'limit' reaches a SOCKS5 app as general failure (1), an HTTP one as 503, a peer as result 14.
  assert.deepEqual(ERROR_TABLE.limit, { socks5: 1, socks4: 0x5b, http: 503, mux: 14 });
});

test('in-use (a published port another client holds) is result byte 16 and reads back as itself', () => {
  assert.deepEqual(ERROR_TABLE['in-use'], { socks5: 1, socks4: 0x5b, http: 409, mux: 16 });
  assert.equal(codeFromMuxResult(16), 'in-use');
  assert.equal(codeFromMuxResult(17), 'general');
});

test('outOfDescriptors finds EMFILE/ENFILE on an error or down its cause chain, and nothing else', () => {
  assert.equal(outOfDescriptors(sysErr('EMFILE')), 'EMFILE');
  assert.equal(outOfDescriptors(new TunnelError('limit', 'x', { cause: sysErr('ENFILE') })), 'ENFILE');
  assert.equal(outOfDescriptors(toTunnelError(toTunnelError(sysErr('EMFILE')))), 'EMFILE');
  assert.equal(outOfDescriptors(sysErr('ECONNREFUSED')), undefined);
  for (const v of [undefined, null, 'EMFILE', 7, {}]) assert.equal(outOfDescriptors(v), undefined);
  // a cause chain that loops is walked a bounded number of steps
  const a: { code?: string; cause?: unknown } = {};
  a.cause = a;
  assert.equal(outOfDescriptors(a), undefined);
});
