// Writes the bad-input corpus (test/corpus/*.json) from systematic variants. The expected outcomes here
// are written from the specs (RFC 1928/1929, SOCKS4/4a, DESIGN.md §4.6 and §7, the parsers' doc
// comments), never computed by running the code under test; replay.test.ts checks them against the code.
//
//   npx tsc -p . && node dist/test/corpus/generate.js && npx prettier --write test/corpus   (commit the JSON)

import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dns } from './dns-corpus.js';
import type {
  ConfigEntry,
  HttpEntry,
  IpEntry,
  MuxEntry,
  S4Entry,
  S5Decoder,
  S5Entry,
  TextEntry,
  UdpEntry,
} from './entries.js';

const here = dirname(fileURLToPath(import.meta.url));
// dist/test/corpus -> test/corpus
const OUT = join(here, '..', '..', '..', 'test', 'corpus');

const h = (...parts: (string | number | number[] | Buffer)[]): string =>
  Buffer.concat(
    parts.map((p) =>
      typeof p === 'number'
        ? Buffer.from([p])
        : Array.isArray(p)
          ? Buffer.from(p)
          : typeof p === 'string'
            ? Buffer.from(p.replace(/\s+/g, ''), 'hex')
            : p,
    ),
  ).toString('hex');
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
const be16 = (n: number): number[] => [n >> 8, n & 0xff];
const hx = (n: number): string => n.toString(16).padStart(2, '0');

function write(file: string, note: string, entries: { name: string }[]): void {
  const names = new Set<string>();
  for (const e of entries) {
    if (names.has(e.name)) throw new Error(`${file}: duplicate entry name ${e.name}`);
    names.add(e.name);
  }
  const body = JSON.stringify({ note, entries }, null, 1);
  writeFileSync(join(OUT, file), body + '\n');
  console.log(`${file}: ${entries.length} entries`);
}

// Bytes that are not UTF-8: lone continuation, invalid lead, overlong, surrogate, truncated, > U+10FFFF.
const BAD_UTF8: [string, string][] = [
  ['lone continuation 80', '80'],
  ['invalid byte ff', 'ff'],
  ['invalid byte fe', 'fe'],
  ['overlong slash c0af', 'c0af'],
  ['overlong nul c080', 'c080'],
  ['truncated 2-byte c3', '61c3'],
  ['bad continuation c328', 'c328'],
  ['truncated 3-byte e282', 'e282'],
  ['surrogate eda080', 'eda080'],
  ['over U+10FFFF f4908080', 'f4908080'],
  ['5-byte form f888808080', 'f888808080'],
];
const CONTROL_CHARS = [0x00, 0x01, 0x09, 0x0a, 0x0d, 0x1b, 0x1f, 0x20, 0x7f];
const DELIMS = [':', '/', '\\', '@', '[', ']', '?', '#'];
const BAD_VERSIONS = [0x00, 0x01, 0x02, 0x03, 0x06, 0x15, 0x16, 0x43, 0x47, 0x50, 0x7f, 0x80, 0xfe, 0xff];

// ---------------------------------------------------------------------------------------------------
// SOCKS5 (RFC 1928, RFC 1929). expect: an ErrorCode, "need-more", or "ok" (accepted by the decoder;
// the front-end then answers with `reply`).
const S5_REPLY: Record<string, number> = { 'bad-request': 0x01, 'address-type': 0x08, 'auth-failed': 0x02 };
function socks5(): S5Entry[] {
  const out: S5Entry[] = [];
  const err = (name: string, decoder: S5Decoder, hex: string, code: string): void => {
    out.push({ name, decoder, hex, expect: code, reply: S5_REPLY[code]! });
  };
  const more = (name: string, decoder: S5Decoder, hex: string): void => {
    out.push({ name, decoder, hex, expect: 'need-more' });
  };
  // method selection
  for (const v of BAD_VERSIONS) {
    err(`greeting version 0x${hx(v)}`, 'methods', h(v, '01 00'), 'bad-request');
    err(`greeting version 0x${hx(v)} alone`, 'methods', h(v), 'bad-request');
  }
  err('greeting "GET " on the SOCKS5 path', 'methods', h(utf8('GET / HTTP/1.1\r\n')), 'bad-request');
  err('greeting TLS ClientHello', 'methods', '16030100a5010000a10303', 'bad-request');
  err('NMETHODS 0', 'methods', '0500', 'bad-request');
  err('NMETHODS 0 with trailing methods', 'methods', '05000002', 'bad-request');
  more('greeting empty', 'methods', '');
  more('greeting version only', 'methods', '05');
  for (const [n, have] of [
    [1, 0],
    [2, 1],
    [3, 2],
    [4, 0],
    [127, 126],
    [128, 3],
    [254, 253],
    [255, 0],
    [255, 254],
  ] as const) {
    more(`NMETHODS ${n} with ${have} methods`, 'methods', h(5, n, new Array<number>(have).fill(0)));
  }
  // username/password sub-negotiation
  for (const v of [0x00, 0x02, 0x04, 0x05, 0x7f, 0xff]) {
    err(`userpass version 0x${hx(v)}`, 'userpass', h(v, '01', utf8('u'), '01', utf8('p')), 'bad-request');
  }
  more('userpass empty', 'userpass', '');
  more('userpass version only', 'userpass', '01');
  more('userpass ULEN 5 with 2 name bytes', 'userpass', h('01 05', utf8('ab')));
  more('userpass name without PLEN', 'userpass', h('01 03', utf8('abc')));
  more('userpass PLEN 5 with 2 password bytes', 'userpass', h('01 03', utf8('abc'), '05', utf8('xy')));
  more('userpass ULEN 255 with nothing after', 'userpass', '01ff');
  more('userpass PLEN 255 with 254 bytes', 'userpass', h('01 00 ff', new Array<number>(254).fill(0x61)));
  for (const [what, bytes] of BAD_UTF8) {
    const b = Buffer.from(bytes, 'hex');
    err(`userpass username ${what}`, 'userpass', h('01', b.length, b, '01', utf8('p')), 'auth-failed');
    err(`userpass password ${what}`, 'userpass', h('01 01', utf8('u'), b.length, b), 'auth-failed');
  }
  for (const c of [0x00, 0x0a, 0x1b, 0x7f]) {
    out.push({
      name: `userpass username with control 0x${hx(c)} decodes (the credential check decides)`,
      decoder: 'userpass',
      hex: h('01 03 61', c, '62 01 70'),
      expect: 'ok',
    });
  }
  // requests
  const req = (cmd: number, addr: string, port = 80): string => h('05', cmd, '00', addr, be16(port));
  const v4 = h('01 5db8d822'); // 93.184.216.34
  const dom = (name: Buffer | string): string => {
    const b = typeof name === 'string' ? utf8(name) : name;
    return h('03', b.length, b);
  };
  for (const v of BAD_VERSIONS)
    err(`request version 0x${hx(v)}`, 'request', h(v, '01 00', v4, be16(80)), 'bad-request');
  for (const atyp of [0x00, 0x02, 0x05, 0x06, 0x10, 0x7f, 0x80, 0xff]) {
    err(`request ATYP 0x${hx(atyp)}`, 'request', h('05 01 00', atyp, '7f000001 0050'), 'address-type');
    err(`request ATYP 0x${hx(atyp)} alone`, 'request', h('05 01 00', atyp), 'address-type');
  }
  err('request domain length 0', 'request', h('05 01 00 03 00 0050'), 'address-type');
  err('request domain length 0, truncated', 'request', h('05 01 00 03 00'), 'address-type');
  for (const c of CONTROL_CHARS) {
    err(
      `request domain with 0x${hx(c)}`,
      'request',
      req(1, dom(Buffer.from([0x61, c, 0x62]))),
      'address-type',
    );
    err(
      `request domain ending 0x${hx(c)}`,
      'request',
      req(1, dom(Buffer.from([0x61, 0x62, c]))),
      'address-type',
    );
  }
  for (const d of DELIMS) {
    err(`request domain with "${d}"`, 'request', req(1, dom(`a${d}b.example`)), 'address-type');
  }
  err(
    'request domain "host:80" (port in the name)',
    'request',
    req(1, dom('example.com:80')),
    'address-type',
  );
  err('request domain "user@host"', 'request', req(1, dom('user@example.com')), 'address-type');
  err('request domain "[1.2.3.4]"', 'request', req(1, dom('[1.2.3.4]')), 'address-type');
  err('request domain "[]"', 'request', req(1, dom('[]')), 'address-type');
  err('request domain "[::1"', 'request', req(1, dom('[::1')), 'address-type');
  err('request domain "::1]"', 'request', req(1, dom('::1]')), 'address-type');
  err('request domain "[fe80::1%eth0]"', 'request', req(1, dom('[fe80::1%eth0]')), 'address-type');
  err('request domain "fe80::1%eth0"', 'request', req(1, dom('fe80::1%eth0')), 'address-type');
  err(
    'request domain CRLF header injection',
    'request',
    req(1, dom('a.example\r\nX-Evil: 1')),
    'address-type',
  );
  for (const [what, bytes] of BAD_UTF8) {
    err(`request domain ${what}`, 'request', req(1, dom(Buffer.from(bytes, 'hex'))), 'address-type');
  }
  for (const [atyp, addr] of [
    ['IPv4', v4],
    ['IPv6', h('04 20010db8000000000000000000000001')],
    ['domain', dom('example.com')],
  ] as const) {
    for (const cmd of [1, 2]) {
      err(`request CMD ${cmd} ${atyp} port 0`, 'request', req(cmd, addr, 0), 'address-type');
    }
    out.push({
      name: `request UDP ASSOCIATE ${atyp} port 0 is decoded (RFC 1928 §7); the front-end answers 0x07`,
      decoder: 'request',
      hex: req(3, addr, 0),
      expect: 'ok',
      reply: 0x07,
      command: 3,
    });
  }
  for (const cmd of [0x00, 0x02, 0x03, 0x04, 0x80, 0xff]) {
    out.push({
      name: `request CMD 0x${hx(cmd)} is decoded; the front-end answers 0x07`,
      decoder: 'request',
      hex: req(cmd, v4, 443),
      expect: 'ok',
      reply: 0x07,
      command: cmd,
    });
  }
  for (const rsv of [0x01, 0xff]) {
    out.push({
      name: `request RSV 0x${hx(rsv)} is ignored`,
      decoder: 'request',
      hex: h('05 01', rsv, v4, be16(80)),
      expect: 'ok',
      host: '93.184.216.34',
      command: 1,
    });
  }
  out.push({
    name: 'request domain "[::1]" stands for ::1',
    decoder: 'request',
    hex: req(1, dom('[::1]')),
    expect: 'ok',
    host: '::1',
    command: 1,
  });
  out.push({
    name: 'request domain 255 bytes is the longest',
    decoder: 'request',
    hex: req(1, dom(`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}`)),
    expect: 'ok',
    host: `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}`,
    command: 1,
  });
  // every strict prefix of three valid requests
  for (const [what, full] of [
    ['IPv4', req(1, v4, 443)],
    ['IPv6', req(1, h('04 20010db8000000000000000000000001'), 443)],
    ['domain', req(1, dom('example.com'), 443)],
  ] as const) {
    for (let n = 0; n < full.length / 2; n++)
      more(`request ${what} truncated to ${n} bytes`, 'request', full.slice(0, 2 * n));
  }
  more('request domain LEN 255 with 10 name bytes', 'request', h('05 01 00 03 ff', utf8('aaaaaaaaaa')));
  return out;
}

// ---------------------------------------------------------------------------------------------------
// SOCKS4/4a. maxLength bounds USERID and HOST.
function socks4(): S4Entry[] {
  const out: S4Entry[] = [];
  const M = 16;
  const err = (name: string, hex: string, code: string, maxLength = M): void => {
    out.push({ name, hex, maxLength, expect: code, reply: 0x5b });
  };
  const more = (name: string, hex: string, maxLength = M): void => {
    out.push({ name, hex, maxLength, expect: 'need-more' });
  };
  const ok = (name: string, hex: string, host: string, socks4a: boolean, maxLength = M): void => {
    out.push({ name, hex, maxLength, expect: 'ok', host, socks4a });
  };
  const ip = '5db8d822';
  for (const v of [0x00, 0x01, 0x03, 0x05, 0x14, 0x40, 0x44, 0x84, 0xff]) {
    err(`VN 0x${hx(v)}`, h(v, '01 0050', ip, '00'), 'bad-request');
    err(`VN 0x${hx(v)} alone`, h(v), 'bad-request');
  }
  err('port 0', h('04 01 0000', ip, '00'), 'address-type');
  err('port 0 before any user id', h('04 01 0000', ip), 'address-type');
  err('port 0 SOCKS4a', h('04 01 0000 00000001 00', utf8('example.com'), '00'), 'address-type');
  err('port 0 BIND', h('04 02 0000', ip, '00'), 'address-type');
  for (let n = 0; n < 8; n++) more(`header truncated to ${n} bytes`, h('04 01 0050', ip).slice(0, 2 * n));
  more('no NUL after the user id yet', h('04 01 0050', ip, utf8('alice')));
  more(
    'user id of exactly maxLength bytes, no NUL yet',
    h('04 01 0050', ip, new Array<number>(M).fill(0x61)),
  );
  err(
    'user id one over maxLength without NUL',
    h('04 01 0050', ip, new Array<number>(M + 1).fill(0x61)),
    'bad-request',
  );
  err('user id far over maxLength', h('04 01 0050', ip, new Array<number>(M * 4).fill(0x61)), 'bad-request');
  err(
    'user id over maxLength 16384',
    h('04 01 0050', ip, new Array<number>(16385).fill(0x61)),
    'bad-request',
    16384,
  );
  ok(
    'user id of exactly maxLength bytes',
    h('04 01 0050', ip, new Array<number>(M).fill(0x61), '00'),
    '93.184.216.34',
    false,
  );
  for (const [what, bytes] of BAD_UTF8) {
    err(`user id ${what}`, h('04 01 0050', ip, bytes, '00'), 'bad-request');
  }
  for (const c of [0x01, 0x0a, 0x1b, 0x7f]) {
    ok(
      `user id with control 0x${hx(c)} is kept`,
      h('04 01 0050', ip, '61', c, '62 00'),
      '93.184.216.34',
      false,
    );
  }
  ok('DSTIP 0.0.0.0 is not SOCKS4a', h('04 01 0050 00000000 00'), '0.0.0.0', false);
  ok('DSTIP 0.0.1.1 is not SOCKS4a', h('04 01 0050 00000101 00'), '0.0.1.1', false);
  // SOCKS4a
  const a4 = (host: Buffer | string, last = 1): string =>
    h('04 01 0050 000000', last, utf8('u'), '00', typeof host === 'string' ? utf8(host) : host, '00');
  err('4a empty host', a4(''), 'address-type');
  err('4a empty host, DSTIP 0.0.0.255', a4('', 0xff), 'address-type');
  for (const [what, bytes] of BAD_UTF8) err(`4a host ${what}`, a4(Buffer.from(bytes, 'hex')), 'address-type');
  for (const c of CONTROL_CHARS.filter((c) => c !== 0)) {
    err(`4a host with 0x${hx(c)}`, a4(Buffer.from([0x61, c, 0x62])), 'address-type');
  }
  for (const d of DELIMS) err(`4a host with "${d}"`, a4(`a${d}b`), 'address-type');
  err('4a host "[::1]" (brackets are not part of a host)', a4('[::1]'), 'address-type');
  err('4a host "example.com:80"', a4('example.com:80'), 'address-type');
  const long = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(64)}`; // 256 bytes
  err('4a host of 256 bytes (over the SOCKS5 encoding)', a4(long), 'address-type', 1024);
  more('4a host without NUL yet', h('04 01 0050 00000001 75 00', utf8('example')));
  more('4a nothing after the user id', h('04 01 0050 00000001 75 00'));
  err(
    '4a host one over maxLength without NUL',
    h('04 01 0050 00000001 75 00', new Array<number>(M + 1).fill(0x61)),
    'bad-request',
  );
  ok('4a host literal 1.2.3.4 kept as text', a4('1.2.3.4'), '1.2.3.4', true);
  ok('4a host literal ::1 kept as text', a4('::1'), '::1', true);
  ok('4a host 0.0.0.1 (a name that is a literal)', a4('0.0.0.1'), '0.0.0.1', true);
  for (const cmd of [0x00, 0x02, 0x03, 0xff]) {
    out.push({
      name: `CD 0x${hx(cmd)} is decoded; the front-end answers 0x5b`,
      hex: h('04', cmd, '0050', ip, '00'),
      maxLength: M,
      expect: 'ok',
      reply: 0x5b,
      host: '93.184.216.34',
      socks4a: false,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Multiplexer frames (DESIGN.md §4.6 items 1-4: what the codec alone can see) and OPEN headers.
function mux(): MuxEntry[] {
  const out: MuxEntry[] = [];
  const hdr = (ver: number, type: number, flags: number, id: number, len: number): string => {
    const b = Buffer.alloc(12);
    b[0] = ver;
    b[1] = type;
    b.writeUInt16BE(flags, 2);
    b.writeUInt32BE(id >>> 0, 4);
    b.writeUInt32BE(len >>> 0, 8);
    return b.toString('hex');
  };
  for (const v of [1, 2, 3, 0x10, 0x7f, 0x80, 0xff]) {
    out.push({ name: `header version ${v}`, kind: 'header', hex: hdr(v, 0, 0, 1, 0), expect: 'protocol' });
    out.push({ name: `decoder version ${v}`, kind: 'decoder', hex: hdr(v, 0, 0, 1, 0), expect: 'protocol' });
  }
  for (const t of [4, 5, 7, 8, 0x10, 0x7f, 0x80, 0xff]) {
    out.push({ name: `header type ${t}`, kind: 'header', hex: hdr(0, t, 0, 1, 0), expect: 'protocol' });
    out.push({ name: `decoder type ${t}`, kind: 'decoder', hex: hdr(0, t, 0, 0, 0), expect: 'protocol' });
  }
  for (let bit = 4; bit < 16; bit++) {
    const f = 1 << bit;
    out.push({
      name: `header flag bit 0x${f.toString(16)}`,
      kind: 'header',
      hex: hdr(0, 0, f, 1, 0),
      expect: 'protocol',
    });
    out.push({
      name: `decoder PING with flag bit 0x${f.toString(16)} | SYN`,
      kind: 'decoder',
      hex: hdr(0, 2, f | 1, 0, 7),
      expect: 'protocol',
    });
  }
  out.push({
    name: 'header all flag bits',
    kind: 'header',
    hex: hdr(0, 1, 0xffff, 1, 0),
    expect: 'protocol',
  });
  for (let n = 0; n < 12; n++) {
    out.push({
      name: `header truncated to ${n} bytes`,
      kind: 'header',
      hex: hdr(0, 0, 1, 1, 0).slice(0, 2 * n),
      expect: 'need-more',
    });
    out.push({
      name: `decoder header truncated to ${n} bytes`,
      kind: 'decoder',
      hex: hdr(0, 1, 2, 3, 4).slice(0, 2 * n),
      expect: 'ok',
      frames: 0,
    });
  }
  for (const len of [262145, 262144 + 4096, 1 << 20, 0x7fffffff, 0x80000000, 0xffffffff]) {
    out.push({
      name: `DATA length ${len} over 256 KiB`,
      kind: 'decoder',
      hex: hdr(0, 0, 0, 1, len),
      expect: 'protocol',
    });
    out.push({
      name: `DATA|SYN length ${len} over 256 KiB after a good frame`,
      kind: 'decoder',
      hex: hdr(0, 2, 1, 0, 1) + hdr(0, 0, 1, 3, len),
      expect: 'protocol',
    });
    out.push({
      name: `DATA length ${len} fed byte by byte`,
      kind: 'decoder',
      hex: hdr(0, 0, 0, 1, len),
      chunks: new Array<number>(11).fill(1),
      expect: 'protocol',
    });
  }
  out.push({
    name: 'DATA length 262144 with no payload yet waits',
    kind: 'decoder',
    hex: hdr(0, 0, 0, 1, 262144),
    expect: 'ok',
    frames: 0,
  });
  out.push({
    name: 'WINDOW_UPDATE length 0xffffffff is a delta, not a payload',
    kind: 'decoder',
    hex: hdr(0, 1, 0, 1, 0xffffffff),
    expect: 'ok',
    frames: 1,
  });
  out.push({
    name: 'GO_AWAY unknown code is not a codec error',
    kind: 'decoder',
    hex: hdr(0, 3, 0, 0, 0xdeadbeef),
    expect: 'ok',
    frames: 1,
  });
  out.push({
    name: 'good frame then bad version in the same chunk',
    kind: 'decoder',
    hex: hdr(0, 1, 0, 1, 5) + hdr(9, 1, 0, 1, 5),
    expect: 'protocol',
  });
  out.push({
    name: 'DATA payload then a header with unknown type, split mid-header',
    kind: 'decoder',
    hex: hdr(0, 0, 2, 1, 3) + 'aabbcc' + hdr(0, 9, 0, 1, 0),
    chunks: [5, 12],
    expect: 'protocol',
  });
  out.push({
    name: 'HTTP request bytes on the link',
    kind: 'decoder',
    hex: h(utf8('GET / HTTP/1.1\r\nHost: x\r\n\r\n')),
    expect: 'protocol',
  });
  out.push({
    name: 'TLS record on the link',
    kind: 'decoder',
    hex: '160303007a020000760303' + '00'.repeat(4),
    expect: 'protocol',
  });
  out.push({
    name: 'SOCKS5 greeting on the link',
    kind: 'decoder',
    hex: '050100' + '00'.repeat(9),
    expect: 'protocol',
  });
  // OPEN header (decodeOpen). Result bytes: errors.ts mux column. 0x04 PUBLISH and 0x05 INCOMING decode
  // (which side may send them is the receiver's check).
  const open = (name: string, hex: string, code: string, result: number): void => {
    out.push({ name: `OPEN ${name}`, kind: 'open', hex, expect: code, result });
  };
  open('empty', '', 'bad-request', 9);
  for (const cmd of [0x00, 0x02, 0x06, 0x7f, 0xff]) {
    open(`CMD 0x${hx(cmd)}`, h(cmd, '01 7f000001 0050'), 'command-unsupported', 7);
  }
  const full = h('01 03 0b', utf8('example.com'), '01bb');
  for (let n = 1; n < full.length / 2; n++)
    open(`domain truncated to ${n} bytes`, full.slice(0, 2 * n), 'bad-request', 9);
  const full4 = h('01 01 7f000001 0050');
  for (let n = 2; n < full4.length / 2; n++)
    open(`IPv4 truncated to ${n} bytes`, full4.slice(0, 2 * n), 'bad-request', 9);
  for (const n of [2, 10, 18])
    open(
      `IPv6 truncated to ${n} bytes`,
      h('01 04', '00'.repeat(16), '0050').slice(0, 2 * n),
      'bad-request',
      9,
    );
  for (const atyp of [0x00, 0x02, 0x05, 0xff])
    open(`ATYP 0x${hx(atyp)}`, h('01', atyp, '7f000001 0050'), 'address-type', 8);
  open('domain length 0', h('01 03 00 0050'), 'address-type', 8);
  for (const [what, bytes] of BAD_UTF8.slice(0, 6)) {
    const b = Buffer.from(bytes, 'hex');
    open(`domain ${what}`, h('01 03', b.length, b, '0050'), 'address-type', 8);
  }
  for (const c of [0x00, 0x0a, 0x20, 0x7f])
    open(`domain with 0x${hx(c)}`, h('01 03 03 61', c, '62 0050'), 'address-type', 8);
  for (const d of [':', '/', '@', '#'])
    open(`domain with "${d}"`, h('01 03 03 61', utf8(d), '62 0050'), 'address-type', 8);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Share strings, pins, host:port targets, IP literals.
const PIN_BYTES = createHash('sha256').update('ett corpus').digest();
const PIN = PIN_BYTES.toString('base64');
const PIN_URL = PIN_BYTES.toString('base64url');

function shareStrings(): TextEntry[] {
  const out: TextEntry[] = [];
  const bad = (name: string, text: string, message: string): void => {
    out.push({ name, text, expect: 'config', message });
  };
  const good = `ett://${PIN_URL}@relay.example:7000`;
  for (const s of [
    '',
    'ett:',
    'ett:/',
    'ett:/x',
    'http://',
    'https://',
    'ett//',
    'ett:\\\\',
    ' ett://',
    'ett ://',
    'et://',
    'ettt://',
    'sha256//',
  ]) {
    bad(`scheme ${JSON.stringify(s)}`, s + `${PIN_URL}@relay.example:7000`, "must start with 'ett://'");
  }
  bad('no @', `ett://${PIN_URL}relay.example:7000`, "no '@'");
  bad('nothing after the scheme', 'ett://', "no '@'");
  bad('empty pin', 'ett://@relay.example:7000', 'pin is empty');
  bad('empty pin after sha256//', 'ett://sha256//@relay.example:7000', 'pin is empty');
  for (const n of [1, 8, 42, 45, 64]) {
    bad(`pin of ${n} chars`, `ett://${'A'.repeat(n)}@relay.example:7000`, 'pin must be 43 base64 characters');
  }
  bad('pin with two "="', `ett://${PIN}=@relay.example:7000`, 'misplaced padding');
  bad('pin with "=" inside', `ett://${PIN_URL.slice(0, 20)}=${PIN_URL.slice(21)}@h:1`, 'not base64');
  const mixed = 'A+' + 'A'.repeat(40) + '_'; // 43 chars with both alphabets
  bad('pin mixing + and _', `ett://${mixed}@relay.example:7000`, 'not base64');
  for (const c of ['!', '.', ' ', '%', '~', 'é', '\t', '\u0000']) {
    bad(`pin with ${JSON.stringify(c)}`, `ett://${PIN_URL.slice(0, 42)}${c}@relay.example:7000`, 'pin');
  }
  // 43rd char carries 4 bits of data and 2 zero bits: 'B' (000001) has a stray low bit.
  const stray = PIN_URL.slice(0, 42) + String.fromCharCode(PIN_URL.charCodeAt(42) + 1);
  bad('pin with stray low bits', `ett://${stray}@relay.example:7000`, 'not canonical');
  const hosts: [string, string, string][] = [
    ['empty host and port', '', "missing ':port'"],
    ['no port', 'relay.example', "missing ':port'"],
    ['empty port', 'relay.example:', 'decimal'],
    ['port 0', 'relay.example:0', 'outside 1..65535'],
    ['port 65536', 'relay.example:65536', 'outside 1..65535'],
    ['port 99999', 'relay.example:99999', 'outside 1..65535'],
    ['port 123456', 'relay.example:123456', 'decimal'],
    ['port +80', 'relay.example:+80', 'decimal'],
    ['port -1', 'relay.example:-1', 'decimal'],
    ['port 0x50', 'relay.example:0x50', 'decimal'],
    ['port 1e3', 'relay.example:1e3', 'decimal'],
    ['port with space', 'relay.example: 80', 'decimal'],
    ['trailing space', 'relay.example:80 ', 'decimal'],
    ['trailing newline', 'relay.example:80\n', 'decimal'],
    ['path after the port', 'relay.example:80/', 'decimal'],
    ['query after the port', 'relay.example:80?x', 'decimal'],
    ['IPv6 without brackets', '::1:7000', 'must be written in []'],
    ['IPv4 in brackets', '[1.2.3.4]:7000', 'only an IPv6'],
    ['name in brackets', '[relay.example]:7000', 'only an IPv6'],
    ['unclosed bracket', '[::1:7000', "without a closing ']'"],
    ['bracket without port', '[::1]', "missing ':port'"],
    ['bracket then junk', '[::1]x:7000', "missing ':port'"],
    ['zone id', '[fe80::1%25eth0]:7000', 'only an IPv6'],
    ['empty host', ':7000', 'empty host name'],
    ['host with @', 'user@relay.example:7000', 'one of'],
    ['host with /', 'relay/example:7000', 'one of'],
    ['host with \\', 'relay\\example:7000', 'one of'],
    ['host with #', 'relay#x:7000', 'one of'],
    ['host with space', 'relay example:7000', 'control character or space'],
    ['host with tab', 'relay\texample:7000', 'control character or space'],
    ['host with NUL', 'relay\u0000example:7000', 'control character or space'],
    ['host with DEL', 'relay\u007fexample:7000', 'control character or space'],
    ['host of 256 bytes', 'a'.repeat(256) + ':7000', 'over 255'],
  ];
  for (const [name, rest, message] of hosts) bad(`target: ${name}`, `ett://${PIN_URL}@${rest}`, message);
  out.push({
    name: 'upper-case scheme is read (schemes ignore case)',
    text: good.replace('ett', 'ETT'),
    expect: 'ok',
  });
  out.push({
    name: 'padded standard-alphabet pin is read',
    text: `ett://${PIN}@relay.example:7000`,
    expect: 'ok',
  });
  // normalizePin alone
  for (const [name, text, message] of [
    ['empty', '', 'pin is empty'],
    ['sha256// only', 'sha256//', 'pin is empty'],
    ['hex SHA-256', PIN_BYTES.toString('hex'), 'pin must be 43'],
    ['sha1-length base64', PIN_BYTES.subarray(0, 20).toString('base64'), 'pin must be 43'],
    ['leading space', ' ' + PIN, 'pin'],
    ['trailing newline', PIN + '\n', 'pin'],
    ['sha256/ single slash', 'sha256/' + PIN, 'pin'],
    ['sha512// prefix', 'sha512//' + PIN, 'pin'],
    [
      'stray bits, standard alphabet',
      PIN.slice(0, 42) + String.fromCharCode(PIN.charCodeAt(42) + 1) + '=',
      'not canonical',
    ],
  ] as const) {
    out.push({ name: `normalizePin: ${name}`, text, expect: 'config', message });
  }
  return out;
}

function targets(): TextEntry[] {
  const out: TextEntry[] = [];
  const bad = (text: string, message: string): void => {
    out.push({ name: `parseTarget ${JSON.stringify(text)}`, text, expect: 'address-type', message });
  };
  for (const t of ['', 'example.com', '1.2.3.4', '[::1]']) bad(t, "missing ':port'");
  for (const p of ['', '0x1bb', '+443', '-1', '4 43', '443 ', ' 443', '1e2', '443.0', '٤٤٣', '123456'])
    bad(`example.com:${p}`, 'decimal');
  for (const p of ['0', '00000', '65536', '99999']) bad(`example.com:${p}`, 'outside');
  bad('::1:80', 'in []');
  bad('2001:db8::1:443', 'in []');
  bad('[1.2.3.4]:80', 'only an IPv6');
  bad('[example.com]:80', 'only an IPv6');
  bad('[::1', "closing ']'");
  bad('[::1]80', "missing ':port'");
  bad('[::1]:', 'decimal');
  bad(':80', 'empty host');
  for (const d of ['/', '\\', '@', '?', '#', '[', ']']) bad(`a${d}b:80`, 'one of');
  for (const c of CONTROL_CHARS) bad(`a${String.fromCharCode(c)}b:80`, 'control character');
  bad(`${'x'.repeat(300)}:80`, 'over 255');
  return out;
}

function ipLiterals(): IpEntry[] {
  const out: IpEntry[] = [];
  const both = (text: string, strict: string | null, loose: string | null): void => {
    out.push({ name: JSON.stringify(text), text, strict, loose });
  };
  for (const t of [
    '',
    '.',
    '...',
    '1.2.3.',
    '.1.2.3',
    '1..2.3',
    '1.2.3.4.',
    '1.2.3.4.5',
    '256.1.1.1',
    '1.2.3.256',
    '1.2.3.-1',
    '1.2.3.4 ',
    ' 1.2.3.4',
    '1.2.3.4\n',
    '1.2.3.4/8',
    '1.2.3.4:80',
    'a.b.c.d',
    '1.2.3.a',
    '4294967296',
    '0x100000000',
    '1.16777216',
    '1.2.65536',
    '256.1',
    '08',
    '09.1.1.1',
    '1.2.3.08',
    '0xg',
    '1e3',
    '+1.2.3.4',
    '١.٢.٣.٤',
    '1.2.3.4%eth0',
    'localhost',
  ]) {
    both(t, null, null);
  }
  // inet_aton forms: refused strictly, read loosely (glibc resolv/inet_addr.c)
  for (const [t, loose] of [
    ['127.1', '127.0.0.1'],
    ['0x7f.1', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['017700000001', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['127.0.1', '127.0.0.1'],
    ['10.0.0.01', '10.0.0.1'],
    ['0', '0.0.0.0'],
    ['0x', '0.0.0.0'],
    ['0xA9.0xfe.0xa9.0xfe', '169.254.169.254'],
    ['192.168.0x1', '192.168.0.1'],
    ['0300.0250.0.1', '192.168.0.1'],
    ['4294967295', '255.255.255.255'],
    ['01.02.03.04', '1.2.3.4'],
    ['1.2.3.0x', '1.2.3.0'],
  ] as const) {
    out.push({ name: `inet_aton ${JSON.stringify(t)}`, text: t, strict: null, loose });
  }
  for (const t of [
    ':',
    ':::',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8:9',
    '1::2::3',
    '::1::',
    '12345::',
    'g::1',
    '::1%eth0',
    'fe80::1%25eth0',
    '[::1',
    '::1]',
    '[[::1]]',
    '[1.2.3.4]',
    '[]',
    '1:2:3:4:5:6:7:8::',
    '::1.2.3',
    '::1.2.3.4.5',
    '::256.1.1.1',
    '::ffff:127.1',
    '::ffff:0x7f.0.0.1',
    '1.2.3.4::',
    '::1.2.3.4:5',
    ' ::1',
    '::1 ',
    '::-1',
    ':1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:',
  ]) {
    both(t, null, null);
  }
  for (const [t, canon] of [
    ['[::1]', '::1'],
    ['::FFFF:127.0.0.1', '::ffff:127.0.0.1'],
    ['0:0:0:0:0:ffff:7f00:1', '::ffff:127.0.0.1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
    ['1::', '1::'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['64:ff9b::10.0.0.1', '64:ff9b::a00:1'],
  ] as const) {
    out.push({ name: `valid IPv6 ${JSON.stringify(t)}`, text: t, strict: canon, loose: canon });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Exit-policy rules and client host patterns.
function exitRules(): TextEntry[] {
  const out: TextEntry[] = [];
  const bad = (text: string, message: string): void => {
    out.push({ name: JSON.stringify(text), text, expect: 'config', message });
  };
  for (const t of ['', ' ', 'accept', 'reject', 'accept*:*', '*:*', 'accept *:* extra', 'accept  *:*  x'])
    bad(t, 'expected "accept|reject');
  for (const a of ['allow', 'deny', 'acept', 'rejectt', 'ACCEPT!', 'pass', '#accept', 'accept:'])
    bad(`${a} *:*`, 'unknown action');
  for (const t of [
    'accept *',
    'accept 1.2.3.4',
    'accept [::1]',
    'accept 10.0.0.0/8',
    'accept *4',
    'reject [::]/0',
  ])
    bad(t, 'missing ":PORT"');
  for (const t of ['accept ::1:80', 'accept 2001:db8::/32:*', 'accept 1.2.3.4:80:90', 'accept *:*:*'])
    bad(t, 'must be in brackets');
  for (const t of ['accept *:', 'accept 1.2.3.4:', 'accept [::1]:']) bad(t, 'missing port');
  for (const p of [
    '0',
    '65536',
    '99999',
    '-1',
    '+80',
    '0x50',
    'a',
    '1-',
    '-80',
    '80-',
    '0-80',
    '80-65536',
    '1e3',
    '١٢',
  ])
    bad(`accept *:${p}`, 'is not a number 1..65535');
  for (const p of ['443-80', '2-1', '65535-1']) bad(`accept *:${p}`, 'reversed');
  for (const a of ['*/8', '*4/0', '*6/64', '*/0']) bad(`accept ${a}:*`, 'takes no mask');
  for (const a of ['/8', '']) bad(`accept ${a}:80`, 'missing address');
  for (const a of [
    '1.2.3',
    '1.2.3.4.5',
    '256.0.0.0',
    '127.1',
    '0x7f000001',
    '2130706433',
    '010.0.0.1',
    'localhost',
    'example.com',
    '*5',
    '**',
    '1.2.3.4%eth0',
  ])
    bad(`accept ${a}:*`, 'is not an IPv4 address');
  for (const a of ['[1.2.3.4]', '[example.com]', '[::1%eth0]', '[]', '[:::]', '[1::2::3]'])
    bad(`accept ${a}:*`, 'is not an IPv6 address');
  bad('accept [::1:80', '"[" without "]"');
  bad('accept ::1]:80', 'must be in brackets');
  bad('accept 1.2.3.4]:80', '"]" without "["');
  bad('accept [::1]x:80', 'unexpected text after "]"');
  bad('accept [::1/64]:80', 'is not an IPv6 address');
  for (const m of ['33', '-1', '', '08', 'x', '0x10', '4294967296'])
    bad(`accept 10.0.0.0/${m}:*`, 'is not a prefix length 0..32');
  for (const m of ['129', '256', '', '064'])
    bad(`accept [2001:db8::]/${m}:*`, 'is not a prefix length 0..128');
  for (const m of ['255.0.255.0', '0.255.255.255', '255.255.255.254.0', '255.0.0.1', '128.0.0.1'])
    bad(`accept 10.0.0.0/${m}:*`, m.split('.').length === 4 ? 'not contiguous' : 'is not a netmask');
  for (const m of ['255.255.0', '255.255.255.256', '1.5', 'ff.ff.ff.ff'])
    bad(`accept 10.0.0.0/${m}:*`, 'is not a netmask');
  for (const [a, fix] of [
    ['10.0.0.1/8', '10.0.0.0/8'],
    ['192.168.1.1/16', '192.168.0.0/16'],
    ['1.2.3.4/0', '0.0.0.0/0'],
    ['10.0.0.128/25', '10.0.0.128/25'],
    ['[2001:db8::1]/32', '[2001:db8::]/32'],
    ['[fe80::1]/10', '[fe80::]/10'],
    ['[::1]/0', '[::]/0'],
    ['10.1.0.0/255.0.0.0', '10.0.0.0/8'],
  ] as const) {
    if (a === '10.0.0.128/25') continue; // valid: host bits are clear
    bad(`accept ${a}:*`, `(did you mean ${fix}?)`);
  }
  bad('accept\u0000*:*', 'expected "accept|reject');
  return out;
}

function hostPatterns(): TextEntry[] {
  const out: TextEntry[] = [];
  const bad = (text: string, message: string): void => {
    out.push({ name: JSON.stringify(text), text, expect: 'config', message });
  };
  for (const t of ['', ' ', '.', '..', '\t', ' . ']) bad(t, 'empty host pattern');
  for (const c of [
    ' ',
    '/',
    ':',
    '@',
    '[',
    ']',
    '?',
    '#',
    '\\',
    '%',
    '+',
    '!',
    '$',
    '~',
    '"',
    "'",
    ',',
    ';',
    '=',
    '\u0000',
    '\u007f',
    '\n',
    'é',
    'ß',
    '中',
    '\u200b',
  ])
    bad(`a${c}b.example`, 'may hold only');
  for (const t of [
    'http://example.com',
    'example.com:443',
    '[::1]',
    '::1',
    '10.0.0.0/8',
    'user@example.com',
    '*.example.com/',
  ])
    bad(t, 'may hold only');
  for (const t of ['.*.example.com', '.ex*ample.com', '.*', '.*.']) bad(t, "'.suffix' takes no '*'");
  for (const t of ['a..b', '*..example.com', 'example..com', '*.a..b']) bad(t, 'has an empty label');
  for (const t of ['..example.com', '.a..b', '.example..com', 'a.b..', 'example.com..']) {
    bad(t, 'has an empty label');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Config files. `message` must appear in the error; $FILE stands for the config file's path.
function configs(): ConfigEntry[] {
  const out: ConfigEntry[] = [];
  const R = `key = "relay.key"\nlisten = "0.0.0.0:7000"\nallow_any = true\n`;
  const C = `key = "client.key"\nvia = "ett://${PIN_URL}@relay.example:7000"\n`;
  const relay = (name: string, toml: string, message: string): void => {
    out.push({ name: `relay: ${name}`, role: 'relay', toml, expect: 'config', message });
  };
  const client = (name: string, toml: string, message: string): void => {
    out.push({ name: `client: ${name}`, role: 'client', toml, expect: 'config', message });
  };
  // unknown keys
  for (const k of [
    'via',
    'relays',
    'rules',
    'socks_users',
    'forwards',
    'allowany',
    'Allow',
    'exit_policy',
    'port',
    'keyfile',
    'listen_addr',
    'log-level',
  ])
    relay(`unknown key ${k}`, R + `${k} = "x"\n`, `$FILE: ${k}: unknown key for relay`);
  for (const k of [
    'allow',
    'allow_any',
    'exit',
    'advertise',
    'Via',
    'proxy',
    'socks_user',
    'rule',
    'log-level',
  ])
    client(`unknown key ${k}`, C + `${k} = "x"\n`, `$FILE: ${k}: unknown key for client`);
  // wrong types
  relay('key is a number', R.replace('"relay.key"', '7'), '$FILE: key: must be a file path');
  relay('key is empty', R.replace('"relay.key"', '""'), '$FILE: key: must be a file path');
  relay('key is an array', R.replace('"relay.key"', '["a"]'), '$FILE: key: must be a file path');
  relay('listen is a number', R.replace('"0.0.0.0:7000"', '7000'), '$FILE: listen: must be a string');
  relay(
    'listen is a table',
    R.replace('listen = "0.0.0.0:7000"', 'listen = { host = "x" }'),
    '$FILE: listen: must be a string',
  );
  for (const [l, why] of [
    ['0.0.0.0', 'expected HOST:PORT'],
    ['7000', 'expected HOST:PORT'],
    ['::1:7000', 'an IPv6 address needs brackets'],
    [':7000', 'bad host'],
    ['a b:7000', 'bad host'],
    ['a/b:7000', 'bad host'],
    ['a:65536', 'port must be 0..65535'],
    ['a:-1', 'port must be 0..65535'],
    ['a:0x50', 'port must be 0..65535'],
    ['a:', 'port must be 0..65535'],
  ] as const) {
    relay(
      `listen ${JSON.stringify(l)}`,
      R.replace('0.0.0.0:7000', l),
      `$FILE: listen: ${JSON.stringify(l)}: ${why}`,
    );
  }
  for (const v of ['"yes"', '1', '"true"', '[true]'])
    relay(
      `allow_any = ${v}`,
      R.replace('allow_any = true', `allow_any = ${v}`),
      '$FILE: allow_any: must be true or false',
    );
  relay(
    'allow_any false and no allow',
    R.replace('allow_any = true', 'allow_any = false'),
    'relay would serve nobody',
  );
  relay('allow empty list', R.replace('allow_any = true', 'allow = []'), 'relay would serve nobody');
  for (const [v, why] of [
    ['"abc"', 'pin must be 43'],
    ['7', 'must be a pin'],
    [`"${PIN_URL}!"`, 'pin'],
    [`"sha256//"`, 'pin is empty'],
  ] as const) {
    relay(`allow = [${v}]`, R.replace('allow_any = true', `allow = [${v}]`), `$FILE: allow[0]: ${why}`);
  }
  relay(
    'allow second entry bad',
    R.replace('allow_any = true', `allow = ["${PIN}", "x"]`),
    '$FILE: allow[1]: pin must be 43',
  );
  for (const [rule, why] of [
    ['acept *:80', 'unknown action'],
    ['accept *', 'missing ":PORT"'],
    ['accept 10.0.0.1/8:*', '"10.0.0.1" has bits set beyond /8'],
    ['accept *:0', 'port "0" is not a number'],
    ['reject ::1:*', 'an IPv6 address must be in brackets'],
  ] as const) {
    relay(
      `exit rule ${JSON.stringify(rule)}`,
      R + `exit = ["accept *:443", ${JSON.stringify(rule)}]\n`,
      `$FILE: exit[1]: ${JSON.stringify(rule)}: ${why}`,
    );
  }
  relay('exit rule a number', R + 'exit = [1]\n', '$FILE: exit[0]: must be a rule string');
  relay('exit rule a table', R + 'exit = [{ accept = "*:*" }]\n', '$FILE: exit[0]: must be a rule string');
  for (const a of ['"example.com:7000"', '"a b"', '""', '"[::1"', '"http://x"', '"a@b"'])
    relay(`advertise ${a}`, R + `advertise = ${a}\n`, '$FILE: advertise: must be a host');
  relay('advertise a number', R + 'advertise = 5\n', '$FILE: advertise: must be a string');
  for (const lvl of ['"loud"', '"DEBUG"', '"trace"', '""'])
    relay(`log_level ${lvl}`, R + `log_level = ${lvl}\n`, `$FILE: log_level: ${lvl}: must be one of`);
  relay('log_level a number', R + 'log_level = 3\n', '$FILE: log_level: must be a string');
  // limits (same table for both roles)
  relay('limits not a table', R + 'limits = 3\n', '$FILE: limits: must be a table');
  relay('limits a string', R + 'limits = "none"\n', '$FILE: limits: must be a table');
  for (const k of [
    'stream_window',
    'handshakeTimeoutMs',
    'handshake-timeout-ms',
    'ping',
    'max_streams',
    'request_head',
  ])
    relay(`unknown limit ${k}`, R + `[limits]\n${k} = 5\n`, `$FILE: limits.${k}: unknown limit`);
  for (const [v, why] of [
    ['0', 'positive integer'],
    ['-1', 'positive integer'],
    ['1.5', 'positive integer'],
    ['1e3', 'positive integer'],
    ['"100"', 'positive integer'],
    ['true', 'positive integer'],
    ['9007199254740993', 'positive integer'],
    ['inf', 'positive integer'],
    ['nan', 'positive integer'],
    ['[1]', 'positive integer'],
  ] as const) {
    relay(
      `limits.ping_interval_ms = ${v}`,
      R + `[limits]\nping_interval_ms = ${v}\n`,
      `$FILE: limits.ping_interval_ms: must be a ${why}`,
    );
    client(
      `limits.request_head_max = ${v}`,
      C + `[limits]\nrequest_head_max = ${v}\n`,
      `$FILE: limits.request_head_max: must be a ${why}`,
    );
  }
  relay(
    'stream_idle_timeout_ms = -1',
    R + '[limits]\nstream_idle_timeout_ms = -1\n',
    '$FILE: limits.stream_idle_timeout_ms: must be a non-negative integer',
  );
  // required keys and TOML syntax
  relay('missing key', 'listen = "0.0.0.0:7000"\nallow_any = true\n', 'missing --key FILE for relay');
  relay('missing listen', 'key = "k"\nallow_any = true\n', 'missing --listen HOST:PORT for relay');
  for (const [what, text] of [
    ['unterminated string', R + 'log_level = "info\n'],
    ['missing value', R + 'log_level =\n'],
    ['duplicate key', R + 'allow_any = false\n'],
    ['bare word value', R + 'log_level = info\n'],
    ['unclosed table header', R + '[limits\n'],
    ['unclosed array', R + 'exit = ["accept *:*"\n'],
    ['__proto__ key', R + '__proto__ = 1\n'],
    ['constructor.prototype', R + '[constructor.prototype]\nx = 1\n'],
    ['NUL byte', R + 'log_level = "in\u0000fo"\n'],
    ['bare CR', R + 'log_level = "info"\rx = 1\n'],
    ['binary junk', '\u0000\u0001\u0002'],
    ['JSON instead of TOML', '{"key": "relay.key"}'],
    ['YAML instead of TOML', 'key: relay.key\nlisten: 0.0.0.0:7000\n'],
  ] as const) {
    relay(`invalid TOML: ${what}`, text, '$FILE: line ');
  }
  // client
  client('missing key', C.replace('key = "client.key"\n', ''), 'missing --key FILE for client');
  client('missing via and default', 'key = "k"\n', 'missing `via` or `default`');
  client('via and default both', C + 'default = "direct"\n', '$FILE: default: `default` and `via` both');
  client('via a number', C.replace(/via = .*\n/, 'via = [7]\n'), '$FILE: via[0]: must be');
  client(
    'via bad share string',
    C.replace(/via = .*\n/, 'via = ["ett://abc@h:1"]\n'),
    '$FILE: via[0]: pin must be',
  );
  client('via unknown name', C.replace(/via = .*\n/, 'via = "home"\n'), '$FILE: via: unknown relay "home"');
  client('via empty entry', C.replace(/via = .*\n/, 'via = "a,,b"\n'), '$FILE: via: empty entry');
  client('default unknown action', 'key = "k"\ndefault = "proxy"\n', '$FILE: default: ');
  client('default a number', 'key = "k"\ndefault = 1\n', '$FILE: default: must be a string');
  const S = `"ett://${PIN_URL}@relay.example:7000"`;
  const S2 = `"ett://${PIN_URL.slice(0, 42)}A@relay2.example:7000"`;
  for (const [name, why] of [
    ['direct', 'is reserved'],
    ['Block', 'is reserved'],
    ['"a b"', 'a name holds'],
    ['".a"', 'a name holds'],
    ['"-a"', 'a name holds'],
    [`"${'n'.repeat(65)}"`, 'a name holds'],
    ['"é"', 'a name holds'],
  ] as const) {
    client(
      `relay name ${name}`,
      'key = "k"\ndefault = "direct"\n[relays]\n' + `${name} = ${S}\n`,
      `$FILE: relays.`,
    );
    void why;
  }
  client(
    'relays is a list',
    `key = "k"\ndefault = "direct"\nrelays = [${S}]\n`,
    '$FILE: relays: must be a table',
  );
  client(
    'relay bad share',
    'key = "k"\ndefault = "direct"\n[relays]\na = "http://x"\n',
    "$FILE: relays.a: share string must start with 'ett://'",
  );
  client(
    'relay number',
    'key = "k"\ndefault = "direct"\n[relays]\na = 5\n',
    '$FILE: relays.a: must be a share string',
  );
  client(
    'relay table unknown key',
    `key = "k"\ndefault = "direct"\n[relays]\na = { share = ${S}, pin = "x" }\n`,
    '$FILE: relays.a.pin: unknown key',
  );
  client(
    'relay table key empty',
    `key = "k"\ndefault = "direct"\n[relays]\na = { share = ${S}, key = "" }\n`,
    '$FILE: relays.a.key: must be a key file path',
  );
  client(
    'relay table no share',
    'key = "k"\ndefault = "direct"\n[relays]\na = { key = "x" }\n',
    '$FILE: relays.a.share: must be a share string',
  );
  const NAMED = `key = "k"\ndefault = "direct"\n[relays]\na = ${S}\nb = ${S2}\n`;
  const top = (keys: string): string => NAMED.replace('[relays]', `${keys}[relays]`);
  client(
    'route and relay share a name',
    NAMED + '[routes]\na = ["a"]\n',
    '$FILE: routes.a: "a" is also a relay',
  );
  client(
    'route names unknown relay',
    NAMED + '[routes]\nr = ["a", "x"]\n',
    '$FILE: routes.r[1]: unknown relay "x"',
  );
  client('route empty', NAMED + '[routes]\nr = []\n', '$FILE: routes.r: a route needs at least one relay');
  client('route repeats a relay', NAMED + '[routes]\nr = ["a", "a"]\n', 'appears twice');
  client('route entry a number', NAMED + '[routes]\nr = [1]\n', '$FILE: routes.r[0]: must be');
  client('group empty', NAMED + '[groups]\ng = []\n', '$FILE: groups.g: a group needs at least one');
  client('group lists a member twice', NAMED + '[groups]\ng = ["a", "a"]\n', 'is listed twice');
  client('group lists direct', NAMED + '[groups]\ng = ["a", "direct"]\n', '$FILE: groups.g[1]: ');
  client(
    'path too long',
    NAMED + '[routes]\nr = ["a", "b"]\n[limits]\npath_length_max = 1\n',
    '$FILE: routes.r',
  );
  client('rules not an array', top('rules = "x"\n'), '$FILE: rules: must be an array of tables');
  client('rule not a table', top('rules = [1]\n'), '$FILE: rules[0]: must be a table');
  client(
    'rule unknown key',
    NAMED + '[[rules]]\nhots = "x"\naction = "direct"\n',
    '$FILE: rules[0].hots: unknown key',
  );
  client(
    'rule without criterion',
    NAMED + '[[rules]]\naction = "direct"\n',
    '$FILE: rules[0]: needs at least one of host, cidr, port',
  );
  client('rule without action', NAMED + '[[rules]]\nhost = "x"\n', '$FILE: rules[0]: needs an action');
  client(
    'rule unknown action',
    NAMED + '[[rules]]\nhost = "x"\naction = "nowhere"\n',
    '$FILE: rules[0].action: ',
  );
  client(
    'rule host a number',
    NAMED + '[[rules]]\nhost = 5\naction = "direct"\n',
    '$FILE: rules[0].host: must be a string',
  );
  client(
    'rule host empty list',
    NAMED + '[[rules]]\nhost = []\naction = "direct"\n',
    '$FILE: rules[0].host: empty list',
  );
  for (const hp of ['a b', 'http://x', '.*.x', 'a..b', '', 'x:80'])
    client(
      `rule host ${JSON.stringify(hp)}`,
      NAMED + `[[rules]]\nhost = ["ok", ${JSON.stringify(hp)}]\naction = "direct"\n`,
      '$FILE: rules[0].host[1]: ',
    );
  for (const c of ['10.0.0.1/8', '10.0.0.0/33', 'x', '[::1]/200', '1.2.3.4/', '', '10.0.0.0/8/8'])
    client(
      `rule cidr ${JSON.stringify(c)}`,
      NAMED + `[[rules]]\ncidr = ${JSON.stringify(c)}\naction = "direct"\n`,
      '$FILE: rules[0].cidr',
    );
  client(
    'rule cidr a number',
    NAMED + '[[rules]]\ncidr = 10\naction = "direct"\n',
    '$FILE: rules[0].cidr: must be a string',
  );
  for (const p of ['"0"', '"65536"', '"443-80"', '"a"', '0', '70000', '"1-2-3"', '1.5', '""'])
    client(`rule port ${p}`, NAMED + `[[rules]]\nport = ${p}\naction = "direct"\n`, '$FILE: rules[0].port');
  client('forwards not an array', top('forwards = 5\n'), '$FILE: forwards: must be an array');
  client(
    'forward unknown key',
    NAMED + '[[forwards]]\nlisten = "127.0.0.1:1"\nto = "x:1"\nfrom = "y"\n',
    '$FILE: forwards[0].from: unknown key',
  );
  client('forward without listen', NAMED + '[[forwards]]\nto = "x:1"\n', '$FILE: forwards[0].listen: needs');
  client(
    'forward without to',
    NAMED + '[[forwards]]\nlisten = "127.0.0.1:1"\n',
    '$FILE: forwards[0].to: needs',
  );
  client(
    'forward bad to',
    NAMED + '[[forwards]]\nlisten = "127.0.0.1:1"\nto = "x"\n',
    '$FILE: forwards[0].to: "x": ',
  );
  client(
    'forward to port 0',
    NAMED + '[[forwards]]\nlisten = "127.0.0.1:1"\nto = "x:0"\n',
    '$FILE: forwards[0].to: "x:0": ',
  );
  client(
    'forward via block',
    NAMED + '[[forwards]]\nlisten = "127.0.0.1:1"\nto = "x:1"\nvia = "block"\n',
    '$FILE: forwards[0].via: a forward cannot be `block`',
  );
  client('forward bad spec string', top('forwards = ["nonsense"]\n'), '$FILE: forwards[0]: ');
  client('socks_users not a table', C + 'socks_users = "alice:pw"\n', '$FILE: socks_users: must be a table');
  client(
    'socks_users password a number',
    C + '[socks_users]\nbob = 5\n',
    '$FILE: socks_users.bob: password must be a string',
  );
  client(
    'socks_users password empty',
    C + '[socks_users]\nbob = ""\n',
    '$FILE: socks_users.bob: password must be 1..255 bytes',
  );
  client(
    'socks_users password 256 bytes',
    C + `[socks_users]\nbob = "${'p'.repeat(256)}"\n`,
    '$FILE: socks_users.bob: password must be 1..255 bytes',
  );
  client(
    'socks_users name 256 bytes',
    C + `[socks_users]\n${'u'.repeat(256)} = "p"\n`,
    '$FILE: socks_users: usernames must be 1..255 bytes',
  );
  client(
    'socks_users empty name',
    C + '[socks_users]\n"" = "p"\n',
    '$FILE: socks_users: usernames must be 1..255 bytes',
  );
  return out;
}

// ---------------------------------------------------------------------------------------------------
// HTTP proxy request heads, replayed at a real mixed port. {origin} is an echo origin's port on
// 127.0.0.1 that only the test dialer reaches (as echo.test or 127.0.0.1). `statuses`: the status codes
// answered, in order; `closed`: the port must close the connection; `targets`: what was dialed.
function httpHeads(): HttpEntry[] {
  const out: HttpEntry[] = [];
  const E = 'echo.test:{origin}';
  const U = `http://${E}/`;
  const inner = 'GET http://127.0.0.1:1/x HTTP/1.1\r\nHost: y\r\n\r\n';
  const refuse = (name: string, raw: string, status = 400, fin = false): void => {
    out.push({ name, raw, statuses: [status], closed: true, targets: [], ...(fin ? { fin } : {}) });
  };
  // oversized (requestHeadMax 16 KiB) -> 431
  refuse(
    'one header of 20 000 bytes',
    `GET ${U} HTTP/1.1\r\nHost: ${E}\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`,
    431,
  );
  refuse('one header of 17 000 bytes', `GET ${U} HTTP/1.1\r\nX-Big: ${'a'.repeat(17000)}\r\n\r\n`, 431);
  refuse('4200 small headers (33 600 bytes)', `GET ${U} HTTP/1.1\r\n${'X-A: b\r\n'.repeat(4200)}\r\n`, 431);
  out.push({
    name: '2400 small headers (19 200 bytes, over requestHeadMax)',
    raw: `GET ${U} HTTP/1.1\r\n${'X-A: b\r\n'.repeat(2400)}\r\n`,
    statuses: [431],
    closed: true,
    targets: [],
  });
  refuse('request line of 20 000 bytes', `GET ${U}${'p'.repeat(20000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431);
  refuse(
    'CONNECT with a 20 000 byte header',
    `CONNECT ${E} HTTP/1.1\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`,
    431,
  );
  refuse('oversized header without the end of head', `GET ${U} HTTP/1.1\r\nX-Big: ${'a'.repeat(20000)}`, 431);
  refuse('header name of 17 000 bytes', `GET ${U} HTTP/1.1\r\n${'X'.repeat(17000)}: a\r\n\r\n`, 431);
  // smuggling-shaped framing: never forwarded
  const post = (fields: string, body = ''): string =>
    `POST ${U} HTTP/1.1\r\nHost: ${E}\r\n${fields}\r\n${body}`;
  refuse(
    'Content-Length and Transfer-Encoding chunked',
    post('Content-Length: 4\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'),
  );
  refuse(
    'Transfer-Encoding chunked then Content-Length',
    post('Transfer-Encoding: chunked\r\nContent-Length: 4\r\n', '0\r\n\r\n'),
  );
  refuse('two different Content-Lengths', post('Content-Length: 4\r\nContent-Length: 5\r\n', 'abcde'));
  refuse('two equal Content-Lengths', post('Content-Length: 4\r\nContent-Length: 4\r\n', 'abcd'));
  refuse('Content-Length list "4, 4"', post('Content-Length: 4, 4\r\n', 'abcd'));
  refuse('Content-Length negative', post('Content-Length: -1\r\n'));
  refuse('Content-Length hex', post('Content-Length: 0x4\r\n', 'abcd'));
  refuse('Content-Length with plus', post('Content-Length: +4\r\n', 'abcd'));
  refuse('Content-Length with letters', post('Content-Length: 4a\r\n', 'abcd'));
  refuse('Content-Length space inside', post('Content-Length: 1 2\r\n', 'abcd'));
  refuse('Content-Length overflowing 64 bits', post('Content-Length: 99999999999999999999999\r\n'));
  refuse(
    'Transfer-Encoding chunked, identity',
    post('Transfer-Encoding: chunked, identity\r\n', '0\r\n\r\n'),
  );
  refuse('Transfer-Encoding with vertical tab', post('Transfer-Encoding:\u000bchunked\r\n', '0\r\n\r\n'));
  refuse('space before the colon (Transfer-Encoding )', post('Transfer-Encoding : chunked\r\n', '0\r\n\r\n'));
  refuse('space before the colon (Content-Length )', post('Content-Length : 4\r\n', 'abcd'));
  refuse('header name with a space', post('X Y: z\r\n'));
  refuse('header without a colon', post('NoColonHere\r\n'));
  refuse('header name empty', post(': value\r\n'));
  refuse('obs-fold continuation line', `GET ${U} HTTP/1.1\r\nHost: ${E}\r\nX-A: one\r\n two\r\n\r\n`);
  refuse('obs-fold with tab', `GET ${U} HTTP/1.1\r\nHost: ${E}\r\nX-A: one\r\n\ttwo\r\n\r\n`);
  refuse('obs-fold on Transfer-Encoding', post('Transfer-Encoding: identity\r\n chunked\r\n', '0\r\n\r\n'));
  refuse('bare LF line endings', `GET ${U} HTTP/1.1\nHost: ${E}\n\n`);
  refuse('bare LF after a header', `GET ${U} HTTP/1.1\r\nHost: ${E}\nX-A: b\r\n\r\n`);
  refuse('bare CR in a header value', `GET ${U} HTTP/1.1\r\nHost: ${E}\r\nX-A: a\rb\r\n\r\n`);
  refuse('NUL in a header value', `GET ${U} HTTP/1.1\r\nHost: ${E}\r\nX-A: a\u0000b\r\n\r\n`);
  refuse('NUL in the request line', `GET ${U}\u0000 HTTP/1.1\r\n\r\n`);
  // A bad chunked body arrives after a good head: the request was already on its way, so there is no
  // clean answer; the connection is closed (http-proxy.ts clientError with a request active).
  for (const [what, body] of [
    ['chunk size not hex', 'zz\r\nab\r\n0\r\n\r\n'],
    ['chunk size overflow', 'fffffffffffffffff\r\nab\r\n0\r\n\r\n'],
    ['chunk without CRLF after data', '2\r\nabXX0\r\n\r\n'],
    ['chunk extension with NUL', '2;a=\u0000\r\nab\r\n0\r\n\r\n'],
  ] as const) {
    out.push({
      name: `${what}: closed mid-request`,
      raw: post('Transfer-Encoding: chunked\r\n', body),
      statuses: [],
      closed: true,
      targets: [E],
    });
  }
  // request-target forms: only absolute http:// and CONNECT authority
  for (const m of ['GET', 'POST', 'HEAD', 'DELETE', 'OPTIONS', 'PUT']) {
    refuse(`${m} in origin-form`, `${m} / HTTP/1.1\r\nHost: ${E}\r\nContent-Length: 0\r\n\r\n`);
    refuse(
      `${m} https:// absolute-form`,
      `${m} https://${E}/ HTTP/1.1\r\nHost: ${E}\r\nContent-Length: 0\r\n\r\n`,
    );
  }
  refuse('OPTIONS *', 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n');
  refuse('ftp:// URL', `GET ftp://${E}/ HTTP/1.1\r\n\r\n`);
  refuse('ws:// URL', `GET ws://${E}/ HTTP/1.1\r\n\r\n`);
  refuse('scheme-relative URL', `GET //${E}/ HTTP/1.1\r\n\r\n`);
  refuse('authority-form on GET', `GET ${E} HTTP/1.1\r\n\r\n`);
  refuse('http:// without a host', 'GET http:/// HTTP/1.1\r\n\r\n');
  refuse('http:// with only userinfo', 'GET http://user@/ HTTP/1.1\r\n\r\n');
  refuse('http:// port 0', 'GET http://echo.test:0/ HTTP/1.1\r\n\r\n');
  refuse('http:// port 65536', 'GET http://echo.test:65536/ HTTP/1.1\r\n\r\n');
  refuse('http:// port not a number', 'GET http://echo.test:http/ HTTP/1.1\r\n\r\n');
  refuse('http:// IPv6 without brackets', 'GET http://::1:80/ HTTP/1.1\r\n\r\n');
  refuse('http:// IPv4 in brackets', 'GET http://[127.0.0.1]:80/ HTTP/1.1\r\n\r\n');
  refuse('http:// host with backslash', 'GET http://echo.test\\@evil:80/ HTTP/1.1\r\n\r\n');
  refuse('http:// host of 300 bytes', `GET http://${'a'.repeat(300)}/ HTTP/1.1\r\n\r\n`);
  // CONNECT targets
  for (const [what, t] of [
    ['without a port', 'echo.test'],
    ['port 0', 'echo.test:0'],
    ['port 65536', 'echo.test:65536'],
    ['port +443', 'echo.test:+443'],
    ['empty', ''],
    ['only a colon', ':'],
    ['empty host', ':443'],
    ['IPv6 without brackets', '::1:443'],
    ['IPv4 in brackets', '[127.0.0.1]:443'],
    ['unclosed bracket', '[::1:443'],
    ['a URL', `http://${E}/`],
    ['host with @', 'user@echo.test:443'],
    ['host with /', 'echo.test/x:443'],
    ['path after port', 'echo.test:443/x'],
  ] as const) {
    refuse(`CONNECT ${what}`, `CONNECT ${t} HTTP/1.1\r\nHost: ${t}\r\n\r\n`);
  }
  // malformed request lines
  refuse('unknown method', `FOO ${U} HTTP/1.1\r\n\r\n`);
  refuse('lower-case method', `get ${U} HTTP/1.1\r\n\r\n`);
  refuse('HTTP/1.2', `GET ${U} HTTP/1.2\r\n\r\n`);
  refuse('HTTP/3.0 version', `GET ${U} HTTP/3.0\r\n\r\n`);
  refuse('version lower-case', `GET ${U} http/1.1\r\n\r\n`);
  refuse('HTTP/2 connection preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  // llhttp reads these (RFC 9112 §3 lets a recipient split the request line on whitespace runs; it
  // knows HTTP/0.9 and 2.0 version numbers). The proxy re-frames the request as HTTP/1.1 origin-form, so
  // nothing of the odd framing reaches the origin: forwarded, answered 200.
  for (const [what, raw] of [
    ['two spaces in the request line', `GET  ${U} HTTP/1.1\r\n\r\n`],
    ['HTTP/0.9-style request line', `GET ${U}\r\n\r\n`],
    ['HTTP/2.0 version on HTTP/1 framing', `GET ${U} HTTP/2.0\r\n\r\n`],
  ] as const) {
    out.push({ name: `lenient: ${what}`, raw, statuses: [200], closed: false, targets: [E] });
  }
  refuse('tab in the request line', `GET\t${U} HTTP/1.1\r\n\r\n`);
  refuse('space in the URL', `GET http://${E}/a b HTTP/1.1\r\n\r\n`);
  refuse('trailing junk after version', `GET ${U} HTTP/1.1 x\r\n\r\n`);
  out.push({
    name: 'TLS ClientHello on the HTTP path',
    hex: '16030100a5010000a10303' + '00'.repeat(32),
    statuses: [400],
    closed: true,
    targets: [],
  });
  out.push({
    name: 'binary junk',
    hex: 'ff00fe01fd02fc03' + '0d0a0d0a',
    statuses: [400],
    closed: true,
    targets: [],
  });
  refuse('SOCKS-looking 0x06 first byte', '\u0006\u0001\u0000');
  // truncated heads then FIN: llhttp reports the early EOF, answered 400, and the connection closes
  for (const [what, raw] of [
    ['request line only, no CRLF', `GET ${U} HTTP/1.1`],
    ['head without the blank line', `GET ${U} HTTP/1.1\r\nHost: ${E}\r\n`],
    ['CONNECT without the blank line', `CONNECT ${E} HTTP/1.1\r\n`],
    ['a single G', 'G'],
  ] as const) {
    out.push({
      name: `truncated: ${what}, then FIN`,
      raw,
      fin: true,
      statuses: [400],
      closed: true,
      targets: [],
    });
  }
  // pipelining: each request goes to the host it names, one stream each
  out.push({
    name: 'pipelined: two requests to different hosts',
    raw: `GET http://echo.test:{origin}/a HTTP/1.1\r\nHost: x\r\n\r\nGET http://127.0.0.1:{origin}/b HTTP/1.1\r\nHost: y\r\n\r\n`,
    statuses: [200, 200],
    closed: false,
    targets: ['echo.test:{origin}', '127.0.0.1:{origin}'],
  });
  out.push({
    name: 'pipelined: Host header names another host than the URL (the URL wins)',
    raw: `GET http://echo.test:{origin}/a HTTP/1.1\r\nHost: evil.example\r\n\r\nGET http://127.0.0.1:{origin}/b HTTP/1.1\r\nHost: echo.test\r\n\r\n`,
    statuses: [200, 200],
    closed: false,
    targets: ['echo.test:{origin}', '127.0.0.1:{origin}'],
  });
  out.push({
    name: 'pipelined: three requests, body-carrying POST in the middle',
    raw:
      `GET http://echo.test:{origin}/1 HTTP/1.1\r\n\r\n` +
      `POST http://127.0.0.1:{origin}/2 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello` +
      `GET http://echo.test:{origin}/3 HTTP/1.1\r\n\r\n`,
    statuses: [200, 200, 200],
    closed: false,
    targets: ['echo.test:{origin}', '127.0.0.1:{origin}', 'echo.test:{origin}'],
  });
  out.push({
    name: 'pipelined: good request then a smuggling-shaped one: the connection closes, nothing more is dialed',
    raw:
      `GET http://echo.test:{origin}/1 HTTP/1.1\r\n\r\n` +
      `POST http://127.0.0.1:{origin}/2 HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    statuses: [],
    closed: true,
    targets: ['echo.test:{origin}'],
  });
  out.push({
    name: 'pipelined: good request then https:// absolute-form',
    raw: `GET http://echo.test:{origin}/1 HTTP/1.1\r\n\r\nGET https://127.0.0.1:{origin}/2 HTTP/1.1\r\n\r\n`,
    statuses: [200, 400],
    closed: true,
    targets: ['echo.test:{origin}'],
  });
  out.push({
    name: 'pipelined: good request then origin-form',
    raw: `GET http://echo.test:{origin}/1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\nHost: 127.0.0.1:{origin}\r\n\r\n`,
    statuses: [200, 400],
    closed: true,
    targets: ['echo.test:{origin}'],
  });
  out.push({
    name: 'body of a GET with Content-Length that looks like a request is a body, not a request',
    raw: `POST http://echo.test:{origin}/1 HTTP/1.1\r\nContent-Length: ${Buffer.byteLength(inner)}\r\n\r\n${inner}`,
    statuses: [200],
    closed: false,
    targets: ['echo.test:{origin}'],
  });
  return out;
}

// SOCKS5 UDP request headers (RFC 1928 §7) and ett's association records (DESIGN.md §17).
function udp(): UdpEntry[] {
  const out: UdpEntry[] = [];
  const socks = (name: string, hex: string, expect: string, message?: string, count?: number): void => {
    out.push({
      name: `socks ${name}`,
      kind: 'socks',
      hex,
      expect,
      ...(message ? { message } : {}),
      ...(count !== undefined ? { count } : {}),
    });
  };
  const v4 = h('01 7f000001', be16(53));
  for (let n = 0; n < 4; n++) socks(`${n} bytes`, h('0000 00 01').slice(0, 2 * n), 'bad-request');
  for (const rsv of ['0001', '0100', 'ffff']) socks(`RSV ${rsv}`, h(rsv, '00', v4), 'bad-request', 'RSV');
  for (const frag of [0x01, 0x02, 0x7f, 0x80, 0xff])
    socks(`FRAG ${frag}`, h('0000', frag, v4, 'aa'), 'bad-request', `fragment ${frag}`);
  for (const atyp of [0x00, 0x02, 0x05, 0xff])
    socks(`ATYP 0x${hx(atyp)}`, h('0000 00', atyp, '7f000001 0035'), 'address-type');
  const full = h('0000 00 03 0b', utf8('example.com'), be16(53));
  for (let n = 4; n < full.length / 2; n++)
    socks(`name header cut to ${n} bytes`, full.slice(0, 2 * n), 'bad-request', 'truncated');
  socks('empty name', h('0000 00 03 00', be16(53)), 'address-type');
  socks('IPv4, empty payload', h('0000 00', v4), 'ok', undefined, 0);
  socks('name, 3 bytes', h(full, 'aabbcc'), 'ok', undefined, 3);
  socks('IPv6', h('0000 00 04', Buffer.alloc(15), '01', be16(9), 'ff'), 'ok', undefined, 1);
  const records = (
    name: string,
    hex: string,
    expect: string,
    opts: { chunks?: number[]; message?: string; count?: number } = {},
  ): void => {
    out.push({ name: `records ${name}`, kind: 'records', hex, expect, ...opts });
  };
  const rec = (addr: string, data: string): string => {
    const body = h(addr, data);
    return h(be16(body.length / 2), body);
  };
  const one = rec(v4, 'aabb');
  const two = h(one, rec(h('03 0b', utf8('example.com'), be16(53)), ''));
  records('one', one, 'ok', { count: 1 });
  for (let cut = 1; cut < two.length / 2; cut += 3)
    records(`two, cut at ${cut}`, two, 'ok', { chunks: [cut], count: 2 });
  records('half a length', '00', 'ok', { count: 0 });
  records('LEN 0', '0000', 'protocol', { message: 'length 0' });
  records('LEN shorter than its address', h(be16(3), '01 7f00'), 'protocol', {
    message: 'shorter than its address',
  });
  records('unknown ATYP', h(be16(3), '09 0102'), 'address-type');
  records('data over 65 507 bytes', h(be16(0xffff), v4, Buffer.alloc(0xffff - 7)), 'protocol', {
    message: 'bytes of data',
  });
  records('good, then LEN 0', h(one, '0000'), 'protocol');
  return out;
}

write(
  'udp.json',
  'UDP: SOCKS5 UDP request headers (decodeSocksUdp) and association records (RecordSplitter): outcome and message fragment',
  udp(),
);
write(
  'socks5.json',
  'SOCKS5 method selection, RFC 1929 username/password and requests: decoder outcome and the SOCKS5 reply byte',
  socks5(),
);
write(
  'socks4.json',
  'SOCKS4/4a requests: decoder outcome (maxLength bounds USERID and HOST) and the SOCKS4 reply',
  socks4(),
);
write(
  'mux-frames.json',
  'Multiplexer frame headers, FrameDecoder streams and OPEN headers (DESIGN.md §4.6 items 1-4)',
  mux(),
);
write(
  'share-strings.json',
  'ett:// share strings and pins (parseShareString / normalizePin): TunnelError config + message fragment',
  shareStrings(),
);
write(
  'targets.json',
  'host:port targets (parseTarget): TunnelError address-type + message fragment',
  targets(),
);
write(
  'ip-literals.json',
  'IP literals: parseIp (strict) and parseIpLoose (inet_aton) answers, canonical text or null',
  ipLiterals(),
);
write(
  'exit-rules.json',
  'Exit-policy rules (parseExitRule): TunnelError config + message fragment',
  exitRules(),
);
write(
  'host-patterns.json',
  'Client rule host patterns (parseHostPattern): TunnelError config + message fragment',
  hostPatterns(),
);
write(
  'config.json',
  'Relay and client config files: TunnelError config; the message holds `message` ($FILE = the file)',
  configs(),
);
write(
  'http-head.json',
  'HTTP proxy request heads replayed at a real mixed port: statuses, close, dialed targets',
  httpHeads(),
);
write(
  'dns.json',
  'DNS messages to the DNS port (answerDns, and a real port over UDP): dropped or the rcode, the ID, the answer from a fresh table',
  dns(),
);
