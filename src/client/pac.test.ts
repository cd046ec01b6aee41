// The PAC file, evaluated as a browser would (node:vm, nothing but the script in its context): URLs
// against expected answers, and a cross-check against ett's own decide() — DIRECT only where ett
// would connect directly, and exactly ett's answer wherever the script can tell.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import vm from 'node:vm';

import { parseIp } from '../wire/ip.js';
import { pacScript } from './pac.js';
import { decide, parseHostPattern, type Action, type Rule, type RoutingTable } from './rules.js';

const DIRECT: Action = { kind: 'direct' };
const BLOCK: Action = { kind: 'block' };
const VIA: Action = {
  kind: 'route',
  route: {
    name: 'via',
    relays: [{ pin: Buffer.alloc(32, 1).toString('base64'), target: { host: 'r', port: 7 } }],
  },
};
const ETT = 'PROXY 127.0.0.1:1080';

function rule(action: Action, c: { hosts?: string[]; cidrs?: string[]; ports?: [number, number][] }): Rule {
  return {
    text: 'test',
    ...(c.hosts && { hosts: c.hosts.map(parseHostPattern) }),
    ...(c.cidrs && {
      cidrs: c.cidrs.map((t) => {
        const [addr, prefix] = t.split('/');
        return { net: parseIp(addr!)!, prefix: Number(prefix) };
      }),
    }),
    ...(c.ports && { ports: c.ports.map(([low, high]) => ({ low, high })) }),
    action,
  };
}

/** FindProxyForURL of the script, run in a fresh context holding nothing else (no dnsResolve). */
function load(script: string): (url: string, host: string) => string {
  const context = vm.createContext({});
  vm.runInContext(script, context, { timeout: 1000 });
  const find = context['FindProxyForURL'] as (url: string, host: string) => string;
  return (url, host) => find(url, host);
}

const TABLE: RoutingTable = {
  rules: [
    rule(DIRECT, { hosts: ['.lan', 'localhost'] }),
    rule(BLOCK, { hosts: ['ads.example.org'] }),
    rule(DIRECT, { hosts: ['*.cdn.example'], ports: [[443, 443]] }),
    rule(DIRECT, { cidrs: ['192.168.0.0/16', '10.1.0.0/24'] }),
    rule(VIA, { cidrs: ['fd00::/8'] }),
    rule(DIRECT, { ports: [[8000, 8099]] }),
  ],
  default: VIA,
};

test('URLs get DIRECT, or this port, by the rules', () => {
  const find = load(pacScript(TABLE, '127.0.0.1:1080'));
  const cases: [string, string][] = [
    ['http://printer.lan/', 'DIRECT'], // suffix
    ['http://lan/', 'DIRECT'], // the suffix's own name
    ['http://xlan/', ETT],
    ['http://LOCALHOST./x', 'DIRECT'], // case and a trailing dot ignored
    ['http://ads.example.org/', ETT], // block: ett refuses it with a page that says why
    ['https://img.cdn.example/', 'DIRECT'], // glob and the scheme's port
    ['https://img.cdn.example:8443/', ETT], // port 8443 is not 443 (and not 8000-8099)
    ['http://img.cdn.example/', ETT], // port 80
    ['http://cdn.example/', ETT], // '*' is one or more characters
    ['http://192.168.4.5/', 'DIRECT'], // CIDR on an address in the URL
    ['http://10.1.0.255/', 'DIRECT'],
    ['http://10.1.1.0/', ETT],
    ['http://www.example.com/', ETT], // the default
    ['http://www.example.com:8080/', 'DIRECT'], // a port rule decides with the URL's port
    ['http://[fd00::1]/', ETT], // an IPv6 literal before a CIDR rule: ett decides
    ['gopher://www.example.com/', ETT], // no known default port before a port rule: ett decides
  ];
  for (const [url, want] of cases) {
    const host = new URL(url).hostname;
    assert.equal(find(url, host), want, url);
  }
});

test('a name is never matched against a CIDR rule (it would need a lookup)', () => {
  const table: RoutingTable = { rules: [rule(DIRECT, { cidrs: ['0.0.0.0/0'] })], default: VIA };
  const find = load(pacScript(table, '127.0.0.1:1080'));
  assert.equal(find('http://www.example.com/', 'www.example.com'), ETT);
  assert.equal(find('http://1.2.3.4/', '1.2.3.4'), 'DIRECT');
  assert.equal(find('http://01.2.3.4/', '01.2.3.4'), ETT); // not canonical: ett decides
  const script = pacScript(TABLE, '127.0.0.1:1080');
  for (const dns of ['dnsResolve', 'isInNet', 'isResolvable', 'myIpAddress', 'dnsDomainIs'])
    assert.ok(!script.includes(dns), dns);
});

test('the default direct: block and route rules go to ett, the rest DIRECT; trailing rules dropped', () => {
  const table: RoutingTable = {
    rules: [
      rule(BLOCK, { hosts: ['.bad'] }),
      rule(VIA, { hosts: ['secret.example'] }),
      rule(DIRECT, { hosts: ['x'] }),
    ],
    default: DIRECT,
  };
  const script = pacScript(table, '[::1]:1080');
  const find = load(script);
  assert.equal(find('http://a.bad/', 'a.bad'), 'PROXY [::1]:1080');
  assert.equal(find('https://secret.example/', 'secret.example'), 'PROXY [::1]:1080');
  assert.equal(find('https://other.example/', 'other.example'), 'DIRECT');
  assert.ok(!script.includes('"x"'), 'a last rule that agrees with the default is left out');
});

test("cross-check with ett's decide(): DIRECT only when ett would connect directly", () => {
  const find = load(pacScript(TABLE, '127.0.0.1:1080'));
  const hosts = [
    'printer.lan',
    'ads.example.org',
    'img.cdn.example',
    'cdn.example',
    '192.168.1.1',
    '10.1.0.9',
  ];
  hosts.push('10.1.2.3', 'www.example.com', 'localhost', '8.8.8.8', 'a.b.lan', 'fd00::5', '2001:db8::1');
  const schemes: [string, number][] = [
    ['http', 80],
    ['https', 443],
  ];
  let decided = 0;
  for (const host of hosts) {
    for (const port of [80, 443, 8000, 8099, 8100]) {
      for (const [scheme, fallback] of schemes) {
        const authority = host.includes(':') ? `[${host}]` : host;
        const url = `${scheme}://${authority}${port === fallback ? '' : `:${port}`}/`;
        const got = find(url, host);
        const ett = decide(TABLE, { host, port }).action.kind === 'direct' ? 'DIRECT' : ETT;
        if (got === 'DIRECT') assert.equal(ett, 'DIRECT', url);
        if (!host.includes(':')) {
          assert.equal(got, ett, url); // no IPv6 literal: the script can tell every case
          decided++;
        }
      }
    }
  }
  assert.ok(decided > 100);
});
