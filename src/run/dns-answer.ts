// What ett's DNS port answers, from the name table that `ett run` uses (names.ts): the name goes to the
// exit later, as a name; the program only ever gets the reserved address standing for it. Pure.
//
//   A name        → A 240.x.y.z (the table's address for it, handed out if new), TTL DNS_TTL
//   AAAA name     → AAAA 100::240.x.y.z (the same address inside 100::/64)
//   PTR of 240/4  → the name it stands for (NXDOMAIN if forgotten or never handed out)
//   localhost, *.localhost (RFC 6761) → 127.0.0.1 / ::1, never a table address
//   any other type of a host name → NOERROR with no answer (NODATA), so resolvers fall back to A/AAAA
//   a name that cannot be a host name → NXDOMAIN; class other than IN, opcode other than QUERY → NOTIMP
//   a malformed message → FORMERR if its ID can be read, else no answer at all; a name that cannot be
//   echoed (a label holding a dot, which would read back as other labels) → FORMERR
//   a response (QR set) → no answer at all, so two servers never bounce errors at each other

import {
  encodeResponse,
  formatError,
  parseQuery,
  RCODE_NOERROR,
  RCODE_NOTIMP,
  RCODE_NXDOMAIN,
  TYPE_A,
  TYPE_AAAA,
  TYPE_PTR,
  CLASS_IN,
  type Answer,
  type Query,
} from '../wire/dns.js';
import type { NameTable } from './names.js';

/** Seconds a resolver may keep an answer: short, so a program asks again (and the name stays in use). */
export const DNS_TTL = 60;

/** The response to one DNS message, or null when none can be given. Never throws. */
export function answerDns(table: NameTable, message: Uint8Array): Buffer | null {
  if (message.length >= 3 && (message[2]! & 0x80) !== 0) return null;
  let q: Query;
  try {
    q = parseQuery(message);
  } catch {
    return formatError(message);
  }
  try {
    return answerQuery(table, q);
  } catch {
    // encodeResponse refuses to echo a question name it cannot write back (an empty or dotted label).
    return formatError(message);
  }
}

function answerQuery(table: NameTable, q: Query): Buffer {
  if (q.opcode !== 0 || q.question.class !== CLASS_IN) return encodeResponse(q, RCODE_NOTIMP);
  const { name, type } = q.question;
  if (name === 'localhost' || name.endsWith('.localhost')) {
    if (type === TYPE_A) return encodeResponse(q, RCODE_NOERROR, [a([127, 0, 0, 1])]);
    if (type === TYPE_AAAA) return encodeResponse(q, RCODE_NOERROR, [aaaa([0, 0, 0, 1], true)]);
    return encodeResponse(q, RCODE_NOERROR);
  }
  if (name.endsWith('.in-addr.arpa') || name.endsWith('.ip6.arpa')) {
    if (type !== TYPE_PTR) return encodeResponse(q, RCODE_NOERROR);
    const ip = reverseV4(name);
    const held = ip === null ? undefined : table.nameFor(ip);
    if (held === undefined) return encodeResponse(q, RCODE_NXDOMAIN);
    return encodeResponse(q, RCODE_NOERROR, [{ type: TYPE_PTR, ttl: DNS_TTL, data: held }]);
  }
  if (type !== TYPE_A && type !== TYPE_AAAA) {
    // A real name with no records of this type, as far as the program can tell.
    return encodeResponse(q, table.addressFor(name) === null ? RCODE_NXDOMAIN : RCODE_NOERROR);
  }
  const address = table.addressFor(name);
  if (address === null) return encodeResponse(q, RCODE_NXDOMAIN);
  const bytes = address.split('.').map(Number);
  return encodeResponse(q, RCODE_NOERROR, [type === TYPE_A ? a(bytes) : aaaa(bytes, false)]);
}

function a(bytes: number[]): Answer {
  return { type: TYPE_A, ttl: DNS_TTL, data: Uint8Array.from(bytes) };
}

/** 100::a.b.c.d for a table address; ::1 for loopback. */
function aaaa(v4: number[], loopback: boolean): Answer {
  const b = new Uint8Array(16);
  if (loopback) b[15] = 1;
  else {
    b[0] = 0x01;
    b.set(v4, 12);
  }
  return { type: TYPE_AAAA, ttl: DNS_TTL, data: b };
}

/** d.c.b.a.in-addr.arpa → a.b.c.d, or null. */
function reverseV4(name: string): string | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(name);
  return m === null ? null : `${m[4]}.${m[3]}.${m[2]}.${m[1]}`;
}
