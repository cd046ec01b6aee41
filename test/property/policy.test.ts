// Properties of the exit policy: parseExitRule over generated valid rules, evaluateExitPolicy against a
// slow reference evaluator written from the rule grammar and RFC 4291/3056/6052/4380, and the default
// policy never approving a private, loopback or link-local address, however it is embedded.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';

import {
  buildExitPolicy,
  evaluateExitPolicy,
  parseExitRule,
  type ExitRule,
  type Verdict,
} from '../../src/relay/exit-policy.js';
import { formatIp, type IpAddress } from '../../src/wire/ip.js';
import { check, ipBytesArb, settle } from './run.js';

// ---- a reference, on big integers ----

const big = (b: Uint8Array): bigint => b.reduce((acc, x) => (acc << 8n) | BigInt(x), 0n);
const bits = (family: 4 | 6): bigint => (family === 4 ? 32n : 128n);

function refUnmap(ip: IpAddress): { family: 4 | 6; n: bigint } {
  const n = big(ip.bytes);
  if (ip.family === 6 && n >> 32n === 0xffffn) return { family: 4, n: n & 0xffffffffn };
  return { family: ip.family, n };
}

function refInNet(family: 4 | 6, n: bigint, netFamily: 4 | 6, net: bigint, prefix: number): boolean {
  if (family !== netFamily) return false;
  const shift = bits(family) - BigInt(prefix);
  return n >> shift === net >> shift;
}

function refMatches(rule: ExitRule, a: { family: 4 | 6; n: bigint }, port: number): boolean {
  if (port < rule.portLow || port > rule.portHigh) return false;
  const p = rule.pattern;
  if (p.kind === 'any') return true;
  if (p.kind === 'any4') return a.family === 4;
  if (p.kind === 'any6') return a.family === 6;
  return refInNet(a.family, a.n, p.net.family, big(p.net.bytes), p.prefix);
}

// RFC 4291 §2.5.5.1 compatible (not :: or ::1), RFC 3056 6to4, RFC 6052 NAT64 well-known prefix,
// RFC 4380 Teredo client (inverted). Mapped addresses were unmapped before.
function refEmbedded(a: { family: 4 | 6; n: bigint }): bigint[] {
  if (a.family === 4) return [];
  const n = a.n;
  if (n >> 32n === 0n) return n > 1n ? [n] : [];
  if (n >> 112n === 0x2002n) return [(n >> 80n) & 0xffffffffn];
  if (n >> 32n === 0x0064ff9b0000000000000000n) return [n & 0xffffffffn];
  if (n >> 96n === 0x20010000n) return [~n & 0xffffffffn];
  return [];
}

function refFirst(
  policy: readonly ExitRule[],
  a: { family: 4 | 6; n: bigint },
  port: number,
): ExitRule | null {
  for (const r of policy) if (refMatches(r, a, port)) return r;
  return null;
}

/** The deciding rule (null: no rule matched, or a bad port) and the answer. */
function refEvaluate(
  policy: readonly ExitRule[],
  ip: IpAddress,
  port: number,
): { accept: boolean; rule: ExitRule | null } {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { accept: false, rule: null };
  const a = refUnmap(ip);
  const first = refFirst(policy, a, port);
  if (first === null || first.action === 'reject') return { accept: false, rule: first };
  for (const inner of refEmbedded(a)) {
    const r = refFirst(policy, { family: 4, n: inner }, port);
    if (r === null || r.action === 'reject') return { accept: false, rule: r };
  }
  return { accept: true, rule: first };
}

// ---- generated rules ----

interface Model {
  text: string;
  action: 'accept' | 'reject';
  kind: 'any' | 'any4' | 'any6' | 'cidr';
  family?: 4 | 6;
  net?: number[];
  prefix?: number;
  low: number;
  high: number;
}

function maskTo(bytes: Uint8Array, prefix: number): Uint8Array {
  return bytes.map((b, i) => b & ((0xff << (8 - Math.max(0, Math.min(8, prefix - 8 * i)))) & 0xff));
}

const netmaskText = (prefix: number): string => {
  const m = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [m >>> 24, (m >>> 16) & 0xff, (m >>> 8) & 0xff, m & 0xff].join('.');
};

const portsArb = fc.oneof(
  fc.constant({ text: '*', low: 1, high: 65535 }),
  fc.integer({ min: 1, max: 65535 }).map((p) => ({ text: String(p), low: p, high: p })),
  fc.tuple(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 65535 })).map(([a, b]) => {
    const [low, high] = a <= b ? [a, b] : [b, a];
    return { text: `${low}-${high}`, low, high };
  }),
);

const patternArb = fc.oneof(
  fc.constantFrom(
    { text: '*', kind: 'any' as const },
    { text: '*4', kind: 'any4' as const },
    { text: '*6', kind: 'any6' as const },
  ),
  fc
    .tuple(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 }), fc.nat(2))
    .map(([b, prefix, form]) => {
      const net = maskTo(b, prefix);
      const addr = formatIp({ family: 4, bytes: net });
      const text =
        form === 0 && prefix === 32
          ? addr
          : form === 1
            ? `${addr}/${netmaskText(prefix)}`
            : `${addr}/${prefix}`;
      return { text, kind: 'cidr' as const, family: 4 as const, net: [...net], prefix };
    }),
  fc
    .tuple(
      fc.oneof(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc
          .uint8Array({ minLength: 4, maxLength: 4 })
          .map((v4) => Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4])),
      ),
      fc.integer({ min: 0, max: 128 }),
      fc.boolean(),
      fc.boolean(),
    )
    .map(([b, prefix, upper, bare]) => {
      const net = maskTo(b, prefix);
      let addr = formatIp({ family: 6, bytes: net });
      if (upper) addr = addr.toUpperCase().replace('::FFFF:', '::ffff:');
      const text = bare && prefix === 128 ? `[${addr}]` : `[${addr}]/${prefix}`;
      const mapped =
        prefix >= 96 && net.slice(0, 10).every((x) => x === 0) && net[10] === 0xff && net[11] === 0xff;
      return mapped
        ? { text, kind: 'cidr' as const, family: 4 as const, net: [...net.slice(12)], prefix: prefix - 96 }
        : { text, kind: 'cidr' as const, family: 6 as const, net: [...net], prefix };
    }),
);

const ruleArb: fc.Arbitrary<Model> = fc
  .tuple(
    fc.constantFrom('accept', 'reject'),
    fc.constantFrom('lower', 'upper', 'mixed'),
    patternArb,
    portsArb,
    fc.constantFrom(' ', '  ', '\t', ' \t '),
    fc.constantFrom('', ' ', '\t'),
  )
  .map(([action, kase, pattern, ports, gap, pad]) => {
    const word =
      kase === 'lower'
        ? action
        : kase === 'upper'
          ? action.toUpperCase()
          : action[0]!.toUpperCase() + action.slice(1);
    return {
      text: `${pad}${word}${gap}${pattern.text}:${ports.text}${pad}`,
      action: action as 'accept' | 'reject',
      kind: pattern.kind,
      ...('family' in pattern ? { family: pattern.family, net: pattern.net, prefix: pattern.prefix } : {}),
      low: ports.low,
      high: ports.high,
    };
  });

test('parseExitRule reads every generated valid rule as its model, and its canonical text reads back the same', () => {
  check(
    fc.property(ruleArb, (m) => {
      const r = parseExitRule(m.text);
      assert.equal(r.action, m.action);
      assert.equal(r.portLow, m.low);
      assert.equal(r.portHigh, m.high);
      assert.equal(r.pattern.kind, m.kind);
      if (r.pattern.kind === 'cidr') {
        assert.equal(r.pattern.net.family, m.family);
        assert.deepEqual([...r.pattern.net.bytes], m.net);
        assert.equal(r.pattern.prefix, m.prefix);
      }
      assert.deepEqual(parseExitRule(r.text), r, `canonical text ${r.text}`);
    }),
  );
  check(
    fc.property(fc.string({ maxLength: 40 }), (s) => {
      const r = settle(() => parseExitRule(s));
      if (!r.ok) assert.equal(r.code, 'config');
    }),
  );
});

// ---- addresses worth asking about ----

const embed = (v4: Uint8Array, how: number, noise: Uint8Array): IpAddress => {
  const b = new Uint8Array(16);
  switch (how) {
    case 0: // mapped
      b.set([0xff, 0xff], 10);
      b.set(v4, 12);
      break;
    case 1: // compatible
      b.set(v4, 12);
      break;
    case 2: // 6to4, any subnet and interface id
      b.set([0x20, 0x02], 0);
      b.set(v4, 2);
      b.set(noise.subarray(0, 10), 6);
      break;
    case 3: // NAT64
      b.set([0x00, 0x64, 0xff, 0x9b], 0);
      b.set(v4, 12);
      break;
    default: // Teredo: server, flags, port from noise; client inverted
      b.set([0x20, 0x01, 0x00, 0x00], 0);
      b.set(noise.subarray(0, 8), 4);
      b.set(
        v4.map((x) => x ^ 0xff),
        12,
      );
  }
  return { family: 6, bytes: b };
};

const v4Arb = fc.uint8Array({ minLength: 4, maxLength: 4 });
const noiseArb = fc.uint8Array({ minLength: 10, maxLength: 10 });

function addressArb(policy: readonly ExitRule[]): fc.Arbitrary<IpAddress> {
  const nets = policy.flatMap((r) => (r.pattern.kind === 'cidr' ? [r.pattern] : []));
  const near: fc.Arbitrary<IpAddress>[] =
    nets.length === 0
      ? []
      : [
          fc.tuple(fc.constantFrom(...nets), ipBytesArb).map(([p, rnd]) => {
            const bytes = p.net.bytes.slice();
            const bytesRnd =
              p.net.family === 4
                ? rnd.bytes.slice(0, 4)
                : rnd.family === 6
                  ? rnd.bytes
                  : Uint8Array.from([...rnd.bytes, ...rnd.bytes, ...rnd.bytes, ...rnd.bytes]);
            for (let i = 0; i < bytes.length; i++) {
              const keep = Math.max(0, Math.min(8, p.prefix - 8 * i));
              const mask = (0xff << (8 - keep)) & 0xff;
              bytes[i] = (bytes[i]! & mask) | (bytesRnd[i]! & ~mask & 0xff);
            }
            return { family: p.net.family, bytes } as IpAddress;
          }),
        ];
  const plain = fc.oneof(ipBytesArb, ...near);
  return fc.oneof(
    plain,
    fc
      .tuple(plain, fc.integer({ min: 0, max: 4 }), noiseArb)
      .map(([ip, how, noise]) => (ip.family === 4 ? embed(ip.bytes, how, noise) : ip)),
  );
}

const policyArb = fc
  .tuple(fc.array(ruleArb, { maxLength: 6 }), fc.boolean(), fc.array(ipBytesArb, { maxLength: 2 }))
  .map(([models, withDefaults, own]) => {
    const user = models.map((m) => parseExitRule(m.text));
    return withDefaults ? buildExitPolicy(user, own) : user;
  });

const portArbWide = fc.oneof(fc.integer({ min: 1, max: 65535 }), fc.constantFrom(0, -1, 65536, 80, 443, 1.5));

test('evaluateExitPolicy agrees with the reference evaluator (first match, embedded IPv4 must pass too, fail closed)', () => {
  check(
    fc.property(
      policyArb.chain((policy) => fc.tuple(fc.constant(policy), addressArb(policy), portArbWide)),
      ([policy, ip, port]) => {
        const got: Verdict = evaluateExitPolicy(policy, ip, port);
        const want = refEvaluate(policy, ip, port);
        const where = `${formatIp(ip)} port ${port}: got ${got.accept} by ${got.rule.text}`;
        assert.equal(got.accept, want.accept, where);
        if (want.rule !== null) assert.equal(got.rule, want.rule, where);
        else assert.ok(!policy.includes(got.rule), `${where}: a synthetic rule must decide`);
      },
    ),
  );
});

// ---- the default policy and private addresses ----

const PRIVATE_V4: [number[], number][] = [
  [[0, 0, 0, 0], 8],
  [[10, 0, 0, 0], 8],
  [[100, 64, 0, 0], 10],
  [[127, 0, 0, 0], 8],
  [[169, 254, 0, 0], 16],
  [[172, 16, 0, 0], 12],
  [[192, 168, 0, 0], 16],
];
const PRIVATE_V6: [number[], number][] = [
  [[0xfc], 7],
  [[0xfe, 0x80], 10],
  [[], 128], // ::
  [[...new Array<number>(15).fill(0), 1], 128], // ::1
];

function inside(net: number[], prefix: number, rnd: Uint8Array): Uint8Array {
  const out = new Uint8Array(rnd.length);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - 8 * i));
    const mask = (0xff << (8 - keep)) & 0xff;
    out[i] = ((net[i] ?? 0) & mask) | (rnd[i]! & ~mask & 0xff);
  }
  return out;
}

test('the default policy never approves a private, loopback or link-local address, plain or embedded (mapped, compatible, 6to4, NAT64, Teredo)', () => {
  const privateV4 = fc
    .tuple(fc.constantFrom(...PRIVATE_V4), v4Arb)
    .map(([[net, p], rnd]) => inside(net, p, rnd));
  const privateV6 = fc
    .tuple(fc.constantFrom(...PRIVATE_V6), fc.uint8Array({ minLength: 16, maxLength: 16 }))
    .map(([[net, p], rnd]) => ({ family: 6 as const, bytes: inside(net, p, rnd) }));
  const addr = fc.oneof(
    privateV4.map((bytes) => ({ family: 4 as const, bytes })),
    fc
      .tuple(privateV4, fc.integer({ min: 0, max: 4 }), noiseArb)
      .map(([v4, how, noise]) => embed(v4, how, noise)),
    privateV6,
  );
  check(
    fc.property(
      addr,
      fc.integer({ min: 1, max: 65535 }),
      fc.array(ipBytesArb, { maxLength: 2 }),
      (ip, port, own) => {
        const v = evaluateExitPolicy(buildExitPolicy([], own), ip, port);
        assert.equal(v.accept, false, `${formatIp(ip)}:${port} approved by ${v.rule.text}`);
      },
    ),
  );
});

test("the default policy refuses the relay's own addresses, also when mapped", () => {
  check(
    fc.property(ipBytesArb, fc.integer({ min: 1, max: 65535 }), fc.boolean(), (own, port, asMapped) => {
      const ip = asMapped && own.family === 4 ? embed(own.bytes, 0, new Uint8Array(10)) : own;
      assert.equal(evaluateExitPolicy(buildExitPolicy([], [own]), ip, port).accept, false, formatIp(ip));
    }),
  );
});
