import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isolatedNsswitch } from './isolate.js';
import { NameTable } from './names.js';
import { tableAddress, targetFor } from './transparent.js';

test('targetFor: a table address becomes its name again, from IPv4 and from 100::/96', () => {
  const table = new NameTable(4, 64);
  const a = table.addressFor('Target.Test.')!;
  assert.equal(a, '240.0.0.1');
  assert.deepEqual(targetFor(table, '240.0.0.1', 8080), { host: 'target.test', port: 8080 });
  assert.deepEqual(targetFor(table, '100::f000:1', 443), { host: 'target.test', port: 443 });
});

test('targetFor: any other address is an IP literal (canonical), CIDR rules apply to it', () => {
  const table = new NameTable(4, 64);
  assert.deepEqual(targetFor(table, '192.0.2.7', 80), { host: '192.0.2.7', port: 80 });
  assert.deepEqual(targetFor(table, '2001:DB8:0:0::1', 81), { host: '2001:db8::1', port: 81 });
  // 100:: outside /96's zero middle is not ours
  assert.deepEqual(targetFor(table, '100::1:f000:1', 82), { host: '100::1:f000:1', port: 82 });
});

test('targetFor: a table address whose name is forgotten or never handed out is refused, not guessed', () => {
  const table = new NameTable(1, 64);
  table.addressFor('a.test'); // 240.0.0.1
  table.addressFor('b.test'); // 240.0.0.2; a.test forgotten
  assert.throws(() => targetFor(table, '240.0.0.1', 80), { code: 'bad-request' });
  assert.throws(() => targetFor(table, '240.0.0.9', 80), /stands for no name/);
  assert.deepEqual(targetFor(table, '240.0.0.2', 80), { host: 'b.test', port: 80 });
});

test('tableAddress and targetFor: a dual-stack listener sees IPv4 as ::ffff:a.b.c.d, the same thing', () => {
  const table = new NameTable(4, 64);
  table.addressFor('mapped.test'); // 240.0.0.1
  assert.equal(tableAddress('240.0.0.1'), '240.0.0.1');
  assert.equal(tableAddress('::ffff:240.0.0.1'), '240.0.0.1');
  assert.equal(tableAddress('::FFFF:f000:1'), '240.0.0.1');
  assert.equal(tableAddress('100::240.0.0.1'), '240.0.0.1');
  for (const other of ['239.255.255.255', '::ffff:10.0.0.1', '100::1:f000:1', '2001:db8::1', 'x']) {
    assert.equal(tableAddress(other), null, other);
  }
  assert.deepEqual(targetFor(table, '::ffff:240.0.0.1', 80), { host: 'mapped.test', port: 80 });
  assert.deepEqual(targetFor(table, '::ffff:192.0.2.7', 80), { host: '192.0.2.7', port: 80 });
});

test('isolatedNsswitch: the hosts line becomes `files dns`, every other line stays', () => {
  const host =
    'passwd: files systemd\nhosts: files mdns4_minimal [NOTFOUND=return] resolve dns myhostname\nnetworks: files\n';
  assert.equal(isolatedNsswitch(host), 'passwd: files systemd\nnetworks: files\nhosts: files dns\n');
  assert.equal(isolatedNsswitch(''), 'hosts: files dns\n');
  assert.equal(isolatedNsswitch('  hosts :  resolve\n'), 'hosts: files dns\n');
});
