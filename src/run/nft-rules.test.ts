import assert from 'node:assert/strict';
import { test } from 'node:test';
import { transparentRuleset } from './nft-rules.js';

/** The rule lines of one chain (without its type line and braces). */
function chain(text: string, name: string): string[] {
  const at = text.indexOf(`\tchain ${name} {\n`);
  assert.ok(at >= 0, `chain ${name} in:\n${text}`);
  const body = text.slice(at).split('\n').slice(1);
  return body.slice(0, body.indexOf('\t}')).map((l) => l.trim());
}

test('machine mode: DNS first, loopback and local addresses stay, every other TCP to the port', () => {
  const text = transparentRuleset({ transparentPort: 9040, dnsPort: 5353, uidExclude: 'ett' });
  assert.match(text, /^# ett transparent-rules: machine mode \(all users but ett\)\./);
  // Applied again, it replaces itself: the table is made, deleted and made anew in one transaction.
  assert.match(text, /\ntable inet ett\ndelete table inet ett\ntable inet ett \{\n/);
  assert.deepEqual(chain(text, 'machine_redirect'), [
    'type nat hook output priority -100; policy accept;',
    'meta skuid "ett" return',
    'udp dport 53 redirect to :5353',
    'tcp dport 53 redirect to :5353',
    'ip daddr 127.0.0.0/8 return',
    'ip6 daddr ::1 return',
    'fib daddr type local return',
    'meta l4proto tcp redirect to :9040',
  ]);
  const only = chain(text, 'machine_only_ett');
  assert.equal(only[0], 'type filter hook output priority filter; policy drop;');
  assert.ok(only.includes('oifname "lo" accept'));
  assert.ok(
    only.includes('ip daddr 127.0.0.0/8 accept'),
    'a redirected packet still names its first interface',
  );
  assert.ok(only.includes('meta skuid "ett" accept'));
  assert.equal(only.at(-1), 'counter drop');
  assert.ok(!text.includes('router_'), 'no router chains');
  assert.match(text, /--transparent localhost:9040 --dns localhost:5353/);
});

test('router mode: the LAN interface only, nothing forwarded from it; a numeric uid is unquoted', () => {
  const text = transparentRuleset({ transparentPort: 9040, dnsPort: 53, router: 'eth1' });
  assert.deepEqual(chain(text, 'router_redirect'), [
    'type nat hook prerouting priority dstnat; policy accept;',
    'iifname "eth1" udp dport 53 redirect to :53',
    'iifname "eth1" tcp dport 53 redirect to :53',
    'iifname "eth1" fib daddr type local return',
    'iifname "eth1" meta l4proto tcp redirect to :9040',
  ]);
  assert.deepEqual(chain(text, 'router_no_forward'), [
    'type filter hook forward priority filter; policy accept;',
    'iifname "eth1" counter drop',
  ]);
  assert.ok(!text.includes('machine_'));
  assert.match(text, /--transparent \[::\]:9040/);
  const both = transparentRuleset({ transparentPort: 1, dnsPort: 2, router: 'br-lan*', uidExclude: '999' });
  assert.ok(chain(both, 'machine_redirect').includes('meta skuid 999 return'));
  assert.ok(chain(both, 'router_redirect').includes('iifname "br-lan*" meta l4proto tcp redirect to :1'));
});

test('refused: machine mode without the excluded user, bad names and ports', () => {
  assert.throws(
    () => transparentRuleset({ transparentPort: 9040, dnsPort: 5353 }),
    (e: Error & { code?: string }) => e.code === 'config' && /needs --uid-exclude USER/.test(e.message),
  );
  for (const router of ['', 'eth0; drop', 'a'.repeat(16), 'eth"0', 'eth 0']) {
    assert.throws(
      () => transparentRuleset({ transparentPort: 1, dnsPort: 2, router }),
      /is not an interface name/,
      router,
    );
  }
  for (const uidExclude of ['', 'e tt', 'x"y', '-1', 'a'.repeat(40)]) {
    assert.throws(
      () => transparentRuleset({ transparentPort: 1, dnsPort: 2, uidExclude }),
      /is not a user name or number/,
      uidExclude,
    );
  }
  for (const port of [0, 65536, 1.5, -1]) {
    assert.throws(
      () => transparentRuleset({ transparentPort: port, dnsPort: 2, router: 'x' }),
      /not 1\.\.65535/,
    );
    assert.throws(() => transparentRuleset({ transparentPort: 1, dnsPort: port, router: 'x' }), /--dns/);
  }
});

test('--udp: other UDP to unicast addresses goes to the transparent port, after DNS and the local returns; without it, none', () => {
  const text = transparentRuleset({
    transparentPort: 9040,
    dnsPort: 5353,
    uidExclude: 'ett',
    router: 'eth1',
    udp: true,
  });
  assert.match(
    text,
    /^# ett transparent-rules: machine mode \(all users but ett\) and router mode \(LAN on eth1\), UDP carried\./,
  );
  const machine = chain(text, 'machine_redirect');
  assert.deepEqual(machine.slice(-2), [
    'meta l4proto tcp redirect to :9040',
    'fib daddr type unicast meta l4proto udp redirect to :9040',
  ]);
  assert.ok(
    machine.indexOf('udp dport 53 redirect to :5353') < machine.indexOf('ip daddr 127.0.0.0/8 return'),
  );
  assert.deepEqual(
    chain(text, 'router_redirect').at(-1),
    'iifname "eth1" fib daddr type unicast meta l4proto udp redirect to :9040',
  );
  const without = transparentRuleset({
    transparentPort: 9040,
    dnsPort: 5353,
    uidExclude: 'ett',
    router: 'eth1',
  });
  assert.ok(!/l4proto udp/.test(without), without);
});
