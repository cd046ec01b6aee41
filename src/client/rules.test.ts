// Rule matching as value tables: host patterns (glob, suffix, exact), CIDR (IPv4, IPv6, IPv4-mapped
// targets; names never match), port ranges, combined criteria, first match wins, the default.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { TunnelError } from '../errors.js';
import type { Target } from '../wire/address.js';
import { parseIp } from '../wire/ip.js';
import {
  decide,
  describeAction,
  parseHostPattern,
  ruleMatches,
  type Action,
  type Route,
  type Rule,
  type RoutingTable,
} from './rules.js';

const DIRECT: Action = { kind: 'direct' };
const BLOCK: Action = { kind: 'block' };
const pin = (byte: number): string => Buffer.alloc(32, byte).toString('base64');
const CHAIN: Route = {
  name: 'chain',
  relays: [0x01, 0x02, 0x03].map((b, i) => ({ pin: pin(b), target: { host: `r${i}.example`, port: 7000 } })),
};
const VIA: Action = { kind: 'route', route: CHAIN };

interface Criteria {
  readonly hosts?: readonly string[];
  readonly cidrs?: readonly string[]; // "addr/prefix"
  readonly ports?: readonly (readonly [number, number])[];
}

/** A rule from text criteria (parsed here by hand, so these tests need nothing from config/). */
function rule(text: string, c: Criteria, action: Action = DIRECT): Rule {
  return {
    text,
    ...(c.hosts && { hosts: c.hosts.map(parseHostPattern) }),
    ...(c.cidrs && {
      cidrs: c.cidrs.map((t) => {
        const [addr, prefix] = t.split('/') as [string, string];
        const net = parseIp(addr);
        assert.ok(net, t);
        return { net, prefix: Number(prefix) };
      }),
    }),
    ...(c.ports && { ports: c.ports.map(([low, high]) => ({ low, high })) }),
    action,
  };
}

function target(text: string): Target {
  const colon = text.lastIndexOf(':');
  return { host: text.slice(0, colon), port: Number(text.slice(colon + 1)) };
}

/** [criteria, target "host:port" (host as the app gave it: IPv6 without brackets), matches?] */
type Row = readonly [Criteria, string, boolean];

function check(rows: readonly Row[]): void {
  for (const [c, t, expected] of rows) {
    const r = rule('r', c);
    assert.equal(ruleMatches(r, target(t)), expected, `${JSON.stringify(c)} vs ${t}`);
  }
}

test('host globs: * spans one or more characters, dots included; case and a trailing dot ignored', () => {
  const g = { hosts: ['*.example.org'] };
  check([
    [g, 'a.example.org:443', true],
    [g, 'a.b.example.org:443', true],
    [g, 'A.Example.ORG:443', true],
    [g, 'a.example.org.:443', true],
    [g, 'example.org:443', false], // * needs at least one character, and the dot is literal
    [g, '.example.org:443', false],
    [g, 'xexample.org:443', false],
    [g, 'a.example.org.evil:443', false],
    [g, 'a.example.orgx:443', false],
    [{ hosts: ['api*.example.org'] }, 'api1.example.org:1', true],
    [{ hosts: ['api*.example.org'] }, 'api.example.org:1', false],
    [{ hosts: ['api*.example.org'] }, 'apiXexampleYorg:1', false], // '.' is not a wildcard
    [{ hosts: ['*'] }, 'anything:1', true],
    [{ hosts: ['*'] }, '10.0.0.1:1', true],
    [{ hosts: ['a*b*c'] }, 'a.b.c:1', true],
    [{ hosts: ['a*b*c'] }, 'abc:1', false],
  ]);
});

test('host suffixes: .example.org is that name and every name under it', () => {
  const s = { hosts: ['.example.org'] };
  check([
    [s, 'example.org:80', true],
    [s, 'www.example.org:80', true],
    [s, 'a.b.example.org:80', true],
    [s, 'EXAMPLE.ORG.:80', true],
    [s, 'badexample.org:80', false],
    [s, 'example.org.evil:80', false],
    [s, 'org:80', false],
  ]);
});

test('exact hosts: the name and nothing else; an IP literal matches as text', () => {
  const e = { hosts: ['example.org'] };
  check([
    [e, 'example.org:80', true],
    [e, 'Example.Org:80', true],
    [e, 'example.org.:80', true],
    [e, 'www.example.org:80', false],
    [e, 'example.org.uk:80', false],
    [{ hosts: ['10.0.0.1'] }, '10.0.0.1:80', true],
    [{ hosts: ['10.0.0.1'] }, '10.0.0.10:80', false],
  ]);
});

test('parseHostPattern: kinds, normalisation, and refusals', () => {
  assert.deepEqual(parseHostPattern('*.Example.ORG'), { kind: 'glob', text: '*.example.org' });
  assert.deepEqual(parseHostPattern('.example.org.'), { kind: 'suffix', text: 'example.org' });
  assert.deepEqual(parseHostPattern(' host.lan '), { kind: 'exact', text: 'host.lan' });
  assert.deepEqual(parseHostPattern('xn--bcher-kva.example'), {
    kind: 'exact',
    text: 'xn--bcher-kva.example',
  });
  const refused: [string, RegExp][] = [
    ['', /empty host pattern/],
    ['.', /empty host pattern/],
    ['a b', /may hold only/],
    ['bücher.example', /may hold only/],
    ['host:80', /may hold only/],
    ['[::1]', /may hold only/],
    ['.*.example', /'\.suffix' takes no '\*'/],
    ['a..b', /empty label/],
  ];
  for (const [text, reason] of refused) {
    assert.throws(
      () => parseHostPattern(text),
      (err: unknown) => err instanceof TunnelError && err.code === 'config' && reason.test(err.message),
      text,
    );
  }
});

test('CIDR, IPv4: only IP-literal targets match; IPv4-mapped IPv6 targets count as IPv4', () => {
  const ten = { cidrs: ['10.0.0.0/8'] };
  check([
    [ten, '10.0.0.0:1', true],
    [ten, '10.255.255.255:1', true],
    [ten, '11.0.0.0:1', false],
    [ten, '9.255.255.255:1', false],
    [ten, '::ffff:10.1.2.3:1', true],
    [ten, '::ffff:a01:203:1', true], // the same address, hex-written
    [ten, '::10.1.2.3:1', false], // IPv4-compatible is not mapped: it stays IPv6
    [ten, '64:ff9b::10.1.2.3:1', false], // NAT64 neither (the exit policy judges those)
    [ten, '10.1:1', false], // inet_aton shorthand is a name to the client, never resolved
    [ten, '012.0.0.1:1', false],
    [ten, '10.example:1', false],
    [{ cidrs: ['192.0.2.7/32'] }, '192.0.2.7:1', true],
    [{ cidrs: ['192.0.2.7/32'] }, '192.0.2.8:1', false],
    [{ cidrs: ['192.0.2.0/25'] }, '192.0.2.127:1', true],
    [{ cidrs: ['192.0.2.0/25'] }, '192.0.2.128:1', false],
    [{ cidrs: ['0.0.0.0/0'] }, '203.0.113.9:1', true],
    [{ cidrs: ['0.0.0.0/0'] }, '2001:db8::1:1', false], // another family
  ]);
});

test('CIDR, IPv6: prefixes on and off byte boundaries; IPv4 targets never match', () => {
  const doc = { cidrs: ['2001:db8::/32'] };
  check([
    [doc, '2001:db8::1:443', true],
    [doc, '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff:443', true],
    [doc, '2001:0DB8:0:0::1:443', true],
    [doc, '2001:db9::1:443', false],
    [doc, '10.0.0.1:443', false],
    [{ cidrs: ['fe80::/10'] }, 'febf::1:1', true],
    [{ cidrs: ['fe80::/10'] }, 'fec0::1:1', false],
    [{ cidrs: ['::1/128'] }, '::1:1', true],
    [{ cidrs: ['::1/128'] }, '::2:1', false],
    [{ cidrs: ['::/0'] }, '2001:db8::1:1', true],
    [{ cidrs: ['::/0'] }, '::ffff:10.0.0.1:1', false], // unmapped first: it is IPv4
    [{ cidrs: ['::/0'] }, 'ip6.example:1', false],
    [{ cidrs: ['fe80::/10'] }, 'fe80::1%eth0:1', false], // a zone id makes it no literal
  ]);
});

test('names never match a CIDR rule, however wide', () => {
  for (const host of ['localhost', 'example.org', '10.0.0.1.nip.io', 'xn--9ca', '1e100.net']) {
    for (const cidr of ['0.0.0.0/0', '::/0', '127.0.0.0/8']) {
      assert.equal(ruleMatches(rule('r', { cidrs: [cidr] }), { host, port: 80 }), false, `${host} ${cidr}`);
    }
  }
});

test('port ranges are inclusive at both ends', () => {
  const web = { ports: [[80, 443]] as const };
  const ssh = { ports: [[22, 22]] as const };
  check([
    [web, 'h:79', false],
    [web, 'h:80', true],
    [web, 'h:200', true],
    [web, 'h:443', true],
    [web, 'h:444', false],
    [ssh, 'h:22', true],
    [ssh, 'h:23', false],
    [{ ports: [[1, 65535]] }, 'h:65535', true],
    [
      {
        ports: [
          [22, 22],
          [8000, 8080],
        ],
      },
      'h:8080',
      true,
    ],
    [
      {
        ports: [
          [22, 22],
          [8000, 8080],
        ],
      },
      'h:443',
      false,
    ],
  ]);
});

test('combined criteria: every criterion present must match; any entry within one', () => {
  const hostPort = { hosts: ['*.example.org', 'example.net'], ports: [[443, 443]] as const };
  const cidrPort = { cidrs: ['10.0.0.0/8', '2001:db8::/32'], ports: [[22, 22]] as const };
  const all = { hosts: ['10.0.0.1'], cidrs: ['10.0.0.0/8'], ports: [[1, 1024]] as const };
  check([
    [hostPort, 'a.example.org:443', true],
    [hostPort, 'example.net:443', true],
    [hostPort, 'a.example.org:80', false],
    [hostPort, 'other.org:443', false],
    [cidrPort, '10.9.9.9:22', true],
    [cidrPort, '2001:db8::9:22', true],
    [cidrPort, '10.9.9.9:23', false],
    [cidrPort, '11.0.0.0:22', false],
    [cidrPort, 'ten.example:22', false],
    [all, '10.0.0.1:80', true],
    [all, '10.0.0.2:80', false],
    [all, '10.0.0.1:8080', false],
  ]);
});

test('decide: the first matching rule wins; no match gives the default', () => {
  const table: RoutingTable = {
    rules: [
      rule('rules[0] host=.lan', { hosts: ['.lan'] }, DIRECT),
      rule('rules[1] host=ads.example.org', { hosts: ['ads.example.org'] }, BLOCK),
      rule('rules[2] host=*.example.org', { hosts: ['*.example.org'] }, VIA),
      rule('rules[3] cidr=10.0.0.0/8 port=22', { cidrs: ['10.0.0.0/8'], ports: [[22, 22]] }, DIRECT),
      rule('rules[4] port=25', { ports: [[25, 25]] }, BLOCK),
    ],
    default: VIA,
  };
  const cases: [string, string | null, Action][] = [
    ['printer.lan:631', 'rules[0] host=.lan', DIRECT],
    ['ads.example.org:443', 'rules[1] host=ads.example.org', BLOCK], // before the wider rules[2]
    ['www.example.org:443', 'rules[2] host=*.example.org', VIA],
    ['10.1.1.1:22', 'rules[3] cidr=10.0.0.0/8 port=22', DIRECT],
    ['10.1.1.1:80', null, VIA],
    ['mail.example.org:25', 'rules[2] host=*.example.org', VIA], // rules[2] comes first
    ['mail.example.com:25', 'rules[4] port=25', BLOCK],
    ['example.com:443', null, VIA],
  ];
  for (const [t, text, action] of cases) {
    const d = decide(table, target(t));
    assert.equal(d.rule?.text ?? null, text, t);
    assert.equal(d.action, action, t);
  }
  const empty = decide({ rules: [], default: BLOCK }, target('x:1'));
  assert.deepEqual(empty, { rule: null, action: BLOCK });
});

test('describeAction: one line with each hop as a short pin', () => {
  const two: Route = { name: 'b', relays: [CHAIN.relays[1]!] };
  assert.equal(describeAction(DIRECT), 'direct');
  assert.equal(describeAction(BLOCK), 'block');
  assert.equal(describeAction(VIA), 'route chain: AQEBAQEB > AgICAgIC > AwMDAwMD');
  assert.equal(
    describeAction({ kind: 'group', name: 'safe', members: [CHAIN, two] }),
    'group safe: [route chain: AQEBAQEB > AgICAgIC > AwMDAwMD] then [route b: AgICAgIC]',
  );
});
