import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DEFAULT_LIMITS } from '../limits.js';
import type { ClientSettings, RelaySettings } from './schema.js';
import {
  advertiseWarning,
  isUnspecifiedHost,
  openFilesWarning,
  openProxyWarning,
  parseOpenFilesLimit,
} from './warnings.js';

const client = (host: string, users?: Map<string, string>): ClientSettings =>
  ({ listen: { host, port: 1080 }, ...(users ? { socksUsers: users } : {}) }) as unknown as ClientSettings;
const relay = (host: string, advertise?: string): RelaySettings =>
  ({
    listen: { host, port: 7000 },
    allow: [],
    allowAny: false,
    exitRules: [],
    limits: DEFAULT_LIMITS,
    ...(advertise ? { advertise } : {}),
  }) as unknown as RelaySettings;

test('isUnspecifiedHost: 0.0.0.0 and :: in their spellings, nothing else', () => {
  for (const h of ['0.0.0.0', '::', '[::]', '0:0:0:0:0:0:0:0', '0'])
    assert.equal(isUnspecifiedHost(h), true, h);
  for (const h of ['127.0.0.1', '::1', '192.0.2.1', 'relay.example', '0.0.0.1']) {
    assert.equal(isUnspecifiedHost(h), false, h);
  }
});

test('openProxyWarning: beyond loopback without a login only', () => {
  assert.match(openProxyWarning(client('0.0.0.0'))!, /OPEN PROXY[\s\S]*\[socks_users\]/);
  assert.match(openProxyWarning(client('192.168.1.5'))!, /listens on 192\.168\.1\.5/);
  assert.equal(openProxyWarning(client('127.0.0.1')), null);
  assert.equal(openProxyWarning(client('::1')), null);
  assert.equal(openProxyWarning(client('localhost')), null);
  assert.equal(openProxyWarning(client('0.0.0.0', new Map([['a', 'b']]))), null);
});

test('advertiseWarning: the unspecified address without advertise only', () => {
  assert.match(advertiseWarning(relay('0.0.0.0'))!, /names 0\.0\.0\.0.*--advertise HOST/);
  assert.match(advertiseWarning(relay('::'))!, /names ::/);
  assert.equal(advertiseWarning(relay('0.0.0.0', 'relay.example')), null);
  assert.equal(
    advertiseWarning(relay('192.0.2.7')),
    null,
    'a real address is what the share string should say',
  );
  assert.equal(advertiseWarning(relay('127.0.0.1')), null);
});

const PROC_LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`;

test('parseOpenFilesLimit: the soft limit from /proc/self/limits; unlimited; null when absent', () => {
  assert.equal(parseOpenFilesLimit(PROC_LIMITS), 1024);
  assert.equal(parseOpenFilesLimit(PROC_LIMITS.replace('1024  ', 'unlimited')), Infinity);
  assert.equal(parseOpenFilesLimit('Limit Soft Hard Units\n'), null);
  assert.equal(parseOpenFilesLimit(''), null);
  assert.equal(parseOpenFilesLimit('Max open files            lots   lots   files\n'), null);
});

test('openFilesWarning: below the need only, with the number to set', () => {
  const w = openFilesWarning(1024, 21328, 'relay')!;
  assert.match(w, /limit is 1024, below the 21328 this relay's limits need/);
  assert.match(w, /ulimit -n 21328/);
  assert.match(w, /LimitNOFILE=21328/);
  assert.equal(openFilesWarning(21328, 21328, 'relay'), null);
  assert.equal(openFilesWarning(Infinity, 21328, 'client'), null);
  assert.equal(openFilesWarning(null, 21328, 'client'), null, 'unreadable: no warning');
});
