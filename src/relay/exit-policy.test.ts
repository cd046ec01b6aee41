import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TunnelError } from '../errors.js';
import { parseIp, parseIpLoose, type IpAddress } from '../wire/ip.js';
import {
  buildExitPolicy,
  defaultExitRules,
  evaluateExitPolicy,
  parseExitRule,
  parseExitRules,
  type ExitRule,
} from './exit-policy.js';

const ip = (text: string): IpAddress => {
  const a = parseIpLoose(text);
  assert.ok(a, text);
  return a;
};
const DEFAULTS = defaultExitRules([]);
const verdict = (policy: readonly ExitRule[], addr: string, port: number): string => {
  const v = evaluateExitPolicy(policy, ip(addr), port);
  return `${v.accept ? 'accept' : 'reject'} by ${v.rule.text}`;
};

test('parseExitRule: good rules and their canonical text', () => {
  const vectors: [string, string, number, number][] = [
    ['accept *:*', 'accept *:*', 1, 65535],
    ['reject *:25', 'reject *:25', 25, 25],
    ['REJECT *4:*', 'reject *4:*', 1, 65535],
    ['Accept *6:80-443', 'accept *6:80-443', 80, 443],
    ['  accept   1.2.3.4:80  ', 'accept 1.2.3.4:80', 80, 80],
    ['\taccept 1.2.3.4/32:80\n', 'accept 1.2.3.4:80', 80, 80],
    ['reject 10.0.0.0/8:*', 'reject 10.0.0.0/8:*', 1, 65535],
    ['reject 10.0.0.0/255.0.0.0:*', 'reject 10.0.0.0/8:*', 1, 65535],
    ['reject 172.16.0.0/255.240.0.0:1-1024', 'reject 172.16.0.0/12:1-1024', 1, 1024],
    ['reject 0.0.0.0/0:*', 'reject 0.0.0.0/0:*', 1, 65535],
    ['reject 0.0.0.0/0.0.0.0:*', 'reject 0.0.0.0/0:*', 1, 65535],
    ['accept 1.2.3.4/255.255.255.255:1-65535', 'accept 1.2.3.4:*', 1, 65535],
    ['accept [::1]:8080', 'accept [::1]:8080', 8080, 8080],
    ['accept [::1]/128:8080-8080', 'accept [::1]:8080', 8080, 8080],
    ['reject [FC00::]/7:*', 'reject [fc00::]/7:*', 1, 65535],
    ['reject [2001:0db8:0000::]/32:22', 'reject [2001:db8::]/32:22', 22, 22],
    ['reject [::]/0:*', 'reject [::]/0:*', 1, 65535],
    // Mapped addresses are matched unmapped, so a mapped rule becomes an IPv4 rule.
    ['accept [::ffff:127.0.0.1]:80', 'accept 127.0.0.1:80', 80, 80],
    ['reject [::ffff:10.0.0.0]/104:*', 'reject 10.0.0.0/8:*', 1, 65535],
    ['accept 1.2.3.4:65535', 'accept 1.2.3.4:65535', 65535, 65535],
  ];
  for (const [text, canonical, low, high] of vectors) {
    const r = parseExitRule(text);
    assert.equal(r.text, canonical, text);
    assert.equal(r.portLow, low, text);
    assert.equal(r.portHigh, high, text);
    // Canonical text is a fixed point.
    assert.equal(parseExitRule(r.text).text, canonical, canonical);
  }
  const mapped = parseExitRule('accept [::ffff:127.0.0.1]:80').pattern;
  assert.equal(mapped.kind === 'cidr' && mapped.net.family, 4);
});

test('parseExitRule: bad rules throw config errors that say what is wrong', () => {
  const vectors: [string, RegExp][] = [
    ['', /expected "accept\|reject \[tcp\|udp\] ADDR/],
    ['accept', /expected "accept\|reject \[tcp\|udp\] ADDR/],
    ['accept * :80', /expected "accept\|reject \[tcp\|udp\] ADDR/],
    ['allow *:*', /unknown action "allow"/],
    ['accept *', /missing ":PORT"/],
    ['accept 1.2.3.4', /missing ":PORT"/],
    ['accept [::1]', /missing ":PORT"/],
    ['accept *:', /missing port after ":"/],
    ['accept *:0', /port "0" is not a number 1\.\.65535/],
    ['accept *:65536', /port "65536" is not a number 1\.\.65535/],
    ['accept *:http', /port "http" is not a number/],
    ['accept *:080', /port "080" is not a number/],
    ['accept *:443-80', /port range 443-80 is reversed/],
    ['accept *:80-', /port "" is not a number/],
    ['accept *:-80', /port "" is not a number/],
    ['accept *:1-2-3', /port "2-3" is not a number/],
    ['accept */8:*', /"\*" takes no mask/],
    ['accept *4/0:*', /"\*4" takes no mask/],
    ['accept :80', /missing address/],
    ['accept /8:80', /missing address/],
    ['accept ::1:80', /IPv6 address must be in brackets/],
    ['accept [::1:80', /"\[" without "\]"/],
    ['accept [::1]x:80', /unexpected text after "\]"/],
    ['accept ::1]:80', /IPv6 address must be in brackets/],
    ['accept 1.2.3.4]:80', /"\]" without "\["/],
    ['accept [1.2.3.4]:80', /"\[1\.2\.3\.4\]" is not an IPv6 address/],
    ['accept [fe80::1%eth0]:80', /is not an IPv6 address/],
    ['accept 127.1:80', /"127\.1" is not an IPv4 address/],
    ['accept 0x7f.0.0.1:80', /"0x7f\.0\.0\.1" is not an IPv4 address/],
    ['accept 1.2.3.256:80', /is not an IPv4 address/],
    ['accept localhost:80', /"localhost" is not an IPv4 address/],
    ['accept 10.0.0.0/33:*', /mask "\/33" is not a prefix length 0\.\.32/],
    ['accept 10.0.0.0/-1:*', /mask "\/-1" is not a prefix length/],
    ['accept 10.0.0.0/08:*', /mask "\/08" is not a prefix length/],
    ['accept 10.0.0.0/:*', /mask "\/" is not a prefix length/],
    ['accept [::]/129:*', /mask "\/129" is not a prefix length 0\.\.128/],
    ['accept [::]/255.0.0.0:*', /mask "\/255\.0\.0\.0" is not a prefix length 0\.\.128/],
    ['accept 10.0.0.0/255.0.255.0:*', /netmask "255\.0\.255\.0" is not contiguous/],
    ['accept 10.0.0.0/0.255.255.255:*', /netmask "0\.255\.255\.255" is not contiguous/],
    ['accept 10.0.0.0/255.0.0:*', /mask "\/255\.0\.0" is not a netmask/],
    ['accept 10.1.2.3/8:*', /bits set beyond \/8 \(did you mean 10\.0\.0\.0\/8\?\)/],
    ['accept [fe80::1]/10:*', /bits set beyond \/10 \(did you mean \[fe80::\]\/10\?\)/],
  ];
  for (const [text, reason] of vectors) {
    assert.throws(
      () => parseExitRule(text),
      (err: unknown) => err instanceof TunnelError && err.code === 'config' && reason.test(err.message),
      text,
    );
  }
});

test('parseExitRules: names the bad rule', () => {
  assert.equal(parseExitRules(['accept *:80', 'reject *:*']).length, 2);
  assert.throws(() => parseExitRules(['accept *:80', 'reject *:x']), /rule "reject \*:x": port "x"/);
});

test('defaults: private, loopback and reserved space refused; the rest accepted', () => {
  const refused: [string, string][] = [
    ['0.0.0.0', 'reject 0.0.0.0/8:*'],
    ['0.1.2.3', 'reject 0.0.0.0/8:*'],
    ['10.255.0.1', 'reject 10.0.0.0/8:*'],
    ['100.64.0.1', 'reject 100.64.0.0/10:*'],
    ['127.0.0.1', 'reject 127.0.0.0/8:*'],
    ['127.255.255.254', 'reject 127.0.0.0/8:*'],
    ['169.254.169.254', 'reject 169.254.0.0/16:*'],
    ['172.16.0.1', 'reject 172.16.0.0/12:*'],
    ['172.31.1.1', 'reject 172.16.0.0/12:*'],
    ['192.0.0.8', 'reject 192.0.0.0/24:*'],
    ['192.0.2.1', 'reject 192.0.2.0/24:*'],
    ['192.168.1.1', 'reject 192.168.0.0/16:*'],
    ['198.19.255.255', 'reject 198.18.0.0/15:*'],
    ['198.51.100.7', 'reject 198.51.100.0/24:*'],
    ['203.0.113.9', 'reject 203.0.113.0/24:*'],
    ['224.0.0.1', 'reject 224.0.0.0/4:*'],
    ['239.255.255.250', 'reject 224.0.0.0/4:*'],
    ['240.0.0.1', 'reject 240.0.0.0/4:*'],
    ['255.255.255.255', 'reject 240.0.0.0/4:*'],
    ['::', 'reject [::]:*'],
    ['::1', 'reject [::1]:*'],
    ['fd00::1', 'reject [fc00::]/7:*'],
    ['fe80::1', 'reject [fe80::]/10:*'],
    ['fec0::1', 'reject [fec0::]/10:*'],
    ['ff02::1', 'reject [ff00::]/8:*'],
    ['100::1', 'reject [100::]/64:*'],
    ['2001:db8::1', 'reject [2001:db8::]/32:*'],
    // Every odd literal form of loopback lands in 127/8.
    ['127.1', 'reject 127.0.0.0/8:*'],
    ['0x7f.1', 'reject 127.0.0.0/8:*'],
    ['2130706433', 'reject 127.0.0.0/8:*'],
    ['017700000001', 'reject 127.0.0.0/8:*'],
    ['::ffff:127.0.0.1', 'reject 127.0.0.0/8:*'],
    ['[::]', 'reject [::]:*'],
    // Embedded private space is refused by the rule for the embedded address.
    ['::ffff:10.0.0.1', 'reject 10.0.0.0/8:*'],
    ['::10.0.0.1', 'reject 10.0.0.0/8:*'],
    ['2002:7f00:1::1', 'reject 127.0.0.0/8:*'],
    ['2002:c0a8:101::', 'reject 192.168.0.0/16:*'],
    ['2002:a9fe:a9fe::', 'reject 169.254.0.0/16:*'],
    ['64:ff9b::127.0.0.1', 'reject 127.0.0.0/8:*'],
    ['64:ff9b::a00:1', 'reject 10.0.0.0/8:*'],
    ['64:ff9b::169.254.169.254', 'reject 169.254.0.0/16:*'],
    ['2001::80ff:fffe', 'reject 127.0.0.0/8:*'], // Teredo client 127.0.0.1
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'reject 192.0.2.0/24:*'], // RFC 4380's example client
  ];
  for (const [addr, rule] of refused) assert.equal(verdict(DEFAULTS, addr, 80), `reject by ${rule}`, addr);
  const accepted = [
    '1.1.1.1',
    '8.8.8.8',
    '100.63.255.255',
    '172.32.0.1',
    '198.20.0.1',
    '223.255.255.255',
    '2606:4700::1111',
    '::ffff:8.8.8.8',
    '2002:808:808::1',
    '64:ff9b::8.8.8.8',
    '2001::f7f7:f7f7', // Teredo client 8.8.8.8
  ];
  for (const addr of accepted) assert.equal(verdict(DEFAULTS, addr, 443), 'accept by accept *:*', addr);
  assert.equal(DEFAULTS[DEFAULTS.length - 2]!.text, 'accept *:*');
  assert.equal(DEFAULTS[DEFAULTS.length - 1]!.text, 'reject udp *:* (no udp rule accepted it)');
});

test('defaults: the relay own addresses are refused', () => {
  const own = [ip('203.0.114.7'), ip('2606:4700::7'), ip('::ffff:198.100.1.1')];
  const rules = defaultExitRules(own);
  assert.equal(verdict(rules, '203.0.114.7', 7000), 'reject by reject 203.0.114.7:*');
  assert.equal(verdict(rules, '::ffff:203.0.114.7', 22), 'reject by reject 203.0.114.7:*');
  assert.equal(verdict(rules, '2606:4700::7', 1), 'reject by reject [2606:4700::7]:*');
  assert.equal(verdict(rules, '198.100.1.1', 80), 'reject by reject 198.100.1.1:*');
  assert.equal(verdict(rules, '203.0.114.8', 80), 'accept by accept *:*');
});

test('evaluate: port 0 and out-of-range ports are refused', () => {
  const open = [parseExitRule('accept *:*')];
  for (const port of [0, -1, 65536, 1.5, NaN]) {
    const v = evaluateExitPolicy(open, ip('1.1.1.1'), port);
    assert.equal(v.accept, false, String(port));
    assert.equal(v.rule.text, 'reject *:0');
  }
  assert.equal(evaluateExitPolicy(open, ip('1.1.1.1'), 65535).accept, true);
});

test('evaluate: first match wins', () => {
  const policy = parseExitRules(['reject 1.2.3.0/24:*', 'accept 1.2.3.4:80', 'accept *:443', 'reject *:*']);
  assert.equal(verdict(policy, '1.2.3.4', 80), 'reject by reject 1.2.3.0/24:*');
  assert.equal(verdict(policy, '1.2.4.4', 443), 'accept by accept *:443');
  assert.equal(verdict(policy, '1.2.4.4', 80), 'reject by reject *:*');
  const swapped = parseExitRules(['accept 1.2.3.4:80', 'reject 1.2.3.0/24:*']);
  assert.equal(verdict(swapped, '1.2.3.4', 80), 'accept by accept 1.2.3.4:80');
  assert.equal(verdict(swapped, '1.2.3.4', 81), 'reject by reject 1.2.3.0/24:*');
  // Family wildcards.
  const v4only = parseExitRules(['reject *6:*', 'accept *4:*']);
  assert.equal(verdict(v4only, '2606:4700::1', 80), 'reject by reject *6:*');
  assert.equal(verdict(v4only, '1.1.1.1', 80), 'accept by accept *4:*');
  // A policy with no catch-all fails closed.
  assert.equal(
    verdict(parseExitRules(['accept *:80']), '1.1.1.1', 81),
    'reject by reject *:* (end of policy)',
  );
});

test('buildExitPolicy: accept 127.0.0.1:8080 opens that port and nothing else', () => {
  const policy = buildExitPolicy([parseExitRule('accept 127.0.0.1:8080')], []);
  assert.equal(verdict(policy, '127.0.0.1', 8080), 'accept by accept 127.0.0.1:8080');
  assert.equal(verdict(policy, '127.1', 8080), 'accept by accept 127.0.0.1:8080');
  assert.equal(verdict(policy, '::ffff:127.0.0.1', 8080), 'accept by accept 127.0.0.1:8080');
  assert.equal(verdict(policy, '127.0.0.1', 8081), 'reject by reject 127.0.0.0/8:*');
  assert.equal(verdict(policy, '127.0.0.2', 8080), 'reject by reject 127.0.0.0/8:*');
  assert.equal(verdict(policy, '::1', 8080), 'reject by reject [::1]:*');
  // The owner's rule comes first, then every default.
  assert.equal(policy[0]!.text, 'accept 127.0.0.1:8080');
  assert.deepEqual(
    policy.slice(1).map((r) => r.text),
    DEFAULTS.map((r) => r.text),
  );
});

test('evaluate: every embedded IPv4 must be accepted too', () => {
  // Opening all of 6to4 does not open the private space it embeds.
  const sixToFour = buildExitPolicy([parseExitRule('accept [2002::]/16:*')], []);
  assert.equal(verdict(sixToFour, '2002:c0a8:101::', 80), 'reject by reject 192.168.0.0/16:*');
  assert.equal(verdict(sixToFour, '2002:808:808::', 80), 'accept by accept [2002::]/16:*');
  // A refusal of the IPv6 form itself stands even when the embedded address is fine.
  const noNat64 = buildExitPolicy([parseExitRule('reject [64:ff9b::]/96:*')], []);
  assert.equal(verdict(noNat64, '64:ff9b::8.8.8.8', 80), 'reject by reject [64:ff9b::]/96:*');
  // Opening the embedded address opens the forms that carry it.
  const lan = buildExitPolicy([parseExitRule('accept 192.168.1.1:80')], []);
  assert.equal(verdict(lan, '64:ff9b::192.168.1.1', 80), 'accept by accept *:*');
  assert.equal(verdict(lan, '64:ff9b::192.168.1.1', 81), 'reject by reject 192.168.0.0/16:*');
  // ::1 is loopback, not 0.0.0.1: an owner who opens it is not overruled by 0.0.0.0/8.
  const v6lo = buildExitPolicy([parseExitRule('accept [::1]:8080')], []);
  assert.equal(verdict(v6lo, '::1', 8080), 'accept by accept [::1]:8080');
  assert.ok(parseIp('::1'));
});

test('udp: rules name their protocol; a rule without one is TCP only; UDP is refused unless a udp rule accepts it', () => {
  assert.equal(parseExitRule('accept UDP *:53').text, 'accept udp *:53');
  assert.equal(parseExitRule('reject tcp *:25').text, 'reject *:25');
  assert.equal(parseExitRule('reject tcp *:25').protocol, 'tcp');
  assert.equal(parseExitRule('accept *:443').protocol, 'tcp');
  const udpVerdict = (rules: ReturnType<typeof buildExitPolicy>, addr: string, port: number): string => {
    const v = evaluateExitPolicy(rules, ip(addr), port, 'udp');
    return `${v.accept ? 'accept' : 'reject'} by ${v.rule.text}`;
  };
  const tcpOnly = buildExitPolicy([parseExitRule('accept *:443')], []);
  assert.equal(verdict(tcpOnly, '8.8.8.8', 443), 'accept by accept *:443');
  assert.equal(udpVerdict(tcpOnly, '8.8.8.8', 443), 'reject by reject udp *:* (no udp rule accepted it)');
  const dns = buildExitPolicy([parseExitRule('accept udp *:53'), parseExitRule('reject *:53')], []);
  assert.equal(udpVerdict(dns, '8.8.8.8', 53), 'accept by accept udp *:53');
  assert.equal(verdict(dns, '8.8.8.8', 53), 'reject by reject *:53');
  assert.equal(udpVerdict(dns, '8.8.8.8', 123), 'reject by reject udp *:* (no udp rule accepted it)');
  // The default rejects judge both protocols: private space stays refused to UDP.
  const wide = buildExitPolicy([parseExitRule('accept udp 1.0.0.0/8:*')], []);
  assert.equal(udpVerdict(wide, '1.1.1.1', 53), 'accept by accept udp 1.0.0.0/8:*');
  assert.equal(udpVerdict(wide, '10.0.0.1', 53), 'reject by reject 10.0.0.0/8:*');
  assert.equal(udpVerdict(wide, '::ffff:10.0.0.1', 53), 'reject by reject 10.0.0.0/8:*');
});
