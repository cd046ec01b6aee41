// DNS messages (RFC 1035 §4), as much as a stub resolver's queries need: the header, one question,
// an EDNS(0) OPT record tolerated (RFC 6891), and responses with A, AAAA or PTR answers. Pure.
//
//   header: ID(2) | QR OPCODE(4) AA TC RD | RA Z(3) RCODE(4) | QDCOUNT(2) ANCOUNT(2) NSCOUNT(2) ARCOUNT(2)
//   question: QNAME (labels, or a compression pointer 0b11 + 14-bit offset) | QTYPE(2) | QCLASS(2)
//
// Bounded: a label is 1..63 bytes, a name at most 255 bytes on the wire, a pointer must point before
// the place it is read from (so pointers cannot loop), and at most MAX_POINTERS are followed.

import { TunnelError } from '../errors.js';

export const TYPE_A = 1;
export const TYPE_PTR = 12;
export const TYPE_AAAA = 28;
export const TYPE_OPT = 41;
export const CLASS_IN = 1;

export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_NOTIMP = 4;
export const RCODE_REFUSED = 5;

/** Largest DNS message over TCP (its length prefix is 16 bits); UDP ones are smaller still. */
export const DNS_MESSAGE_MAX = 65_535;
/** The UDP payload size ett offers in its OPT record (the DNS flag day 2020 value). */
export const EDNS_UDP_SIZE = 1232;
const MAX_POINTERS = 16;

export interface Question {
  /** Lower-case, dotted, no trailing dot ('' for the root). */
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

export interface Query {
  readonly id: number;
  readonly opcode: number;
  /** Recursion desired, copied into the answer. */
  readonly rd: boolean;
  readonly question: Question;
  /** The query carried an OPT record: the answer carries one too. */
  readonly edns: boolean;
}

export interface Answer {
  readonly type: typeof TYPE_A | typeof TYPE_AAAA | typeof TYPE_PTR;
  readonly ttl: number;
  /** A: 4 bytes; AAAA: 16 bytes; PTR: a name (dotted). */
  readonly data: Uint8Array | string;
}

/** The ID of a message with at least 2 bytes, else null (a message too short to answer). */
export function messageId(buf: Uint8Array): number | null {
  return buf.length < 2 ? null : (buf[0]! << 8) | buf[1]!;
}

/**
 * Reads a query. Throws TunnelError('bad-request', reason) for anything that is not one well-formed
 * query: shorter than its header, QR set (a response), QDCOUNT ≠ 1, a bad or truncated name, a
 * truncated question. A query with an opcode other than 0 is returned (the caller answers NOTIMP).
 */
export function parseQuery(buf: Uint8Array): Query {
  if (buf.length < 12) throw new TunnelError('bad-request', `DNS message of ${buf.length} bytes`);
  if (buf.length > DNS_MESSAGE_MAX) throw new TunnelError('bad-request', 'DNS message too long');
  const flags = (buf[2]! << 8) | buf[3]!;
  if (flags & 0x8000) throw new TunnelError('bad-request', 'a DNS response, not a query');
  const qd = u16(buf, 4);
  if (qd !== 1) throw new TunnelError('bad-request', `DNS query with ${qd} questions`);
  const { name, end } = readName(buf, 12);
  if (end + 4 > buf.length) throw new TunnelError('bad-request', 'truncated DNS question');
  const question = { name, type: u16(buf, end), class: u16(buf, end + 2) };
  // An OPT record among the additional records (ARCOUNT): looked for, never required.
  let edns = false;
  const an = u16(buf, 6);
  const ns = u16(buf, 8);
  const ar = u16(buf, 10);
  if (an === 0 && ns === 0 && ar > 0) {
    let at = end + 4;
    for (let i = 0; i < ar && i < 8 && at < buf.length; i++) {
      const rr = readName(buf, at);
      if (rr.end + 10 > buf.length) break;
      if (u16(buf, rr.end) === TYPE_OPT) edns = true;
      at = rr.end + 10 + u16(buf, rr.end + 8);
    }
  }
  return { id: u16(buf, 0), opcode: (flags >> 11) & 0xf, rd: (flags & 0x0100) !== 0, question, edns };
}

/**
 * A response to q: its question echoed, then the answers (none for NODATA or an error rcode), an OPT
 * record if the query had one. Throws TunnelError('bad-request') only for an answer whose data does not
 * fit its type.
 */
export function encodeResponse(q: Query, rcode: number, answers: readonly Answer[] = []): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id, 0);
  // QR, the query's opcode, AA (ett is the authority for the names it hands out), RD copied, RA.
  header.writeUInt16BE(0x8000 | (q.opcode << 11) | 0x0400 | (q.rd ? 0x0100 : 0) | 0x0080 | (rcode & 0xf), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  header.writeUInt16BE(0, 8);
  header.writeUInt16BE(q.edns ? 1 : 0, 10);
  parts.push(header, encodeName(q.question.name), be16pair(q.question.type, q.question.class));
  for (const a of answers) {
    let rdata: Buffer;
    if (a.type === TYPE_PTR) {
      if (typeof a.data !== 'string') throw new TunnelError('bad-request', 'PTR data must be a name');
      rdata = encodeName(a.data);
    } else {
      const want = a.type === TYPE_A ? 4 : 16;
      if (typeof a.data === 'string' || a.data.length !== want)
        throw new TunnelError('bad-request', `type ${a.type} data must be ${want} bytes`);
      rdata = Buffer.from(a.data);
    }
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    rr.writeUInt16BE(a.type, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(a.ttl >>> 0, 6);
    rr.writeUInt16BE(rdata.length, 10);
    parts.push(rr, rdata);
  }
  if (q.edns) {
    const opt = Buffer.alloc(11);
    opt[0] = 0; // root name
    opt.writeUInt16BE(TYPE_OPT, 1);
    opt.writeUInt16BE(EDNS_UDP_SIZE, 3); // CLASS: the UDP payload size
    opt.writeUInt32BE(0, 5); // extended rcode, version 0, flags
    opt.writeUInt16BE(0, 9);
    parts.push(opt);
  }
  return Buffer.concat(parts);
}

/** A FORMERR for a message whose ID could be read, else null. Never throws. */
export function formatError(buf: Uint8Array): Buffer | null {
  const id = messageId(buf);
  if (id === null) return null;
  const b = Buffer.alloc(12);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(0x8000 | 0x0080 | RCODE_FORMERR, 2);
  return b;
}

/** The name at buf[at..], following compression pointers; end is where the name ends at `at`. */
export function readName(buf: Uint8Array, at: number): { name: string; end: number } {
  const labels: string[] = [];
  let wire = 0;
  let pos = at;
  let end = -1;
  let jumps = 0;
  for (;;) {
    if (pos >= buf.length) throw new TunnelError('bad-request', 'truncated DNS name');
    const len = buf[pos]!;
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) throw new TunnelError('bad-request', 'truncated DNS name pointer');
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (target >= pos) throw new TunnelError('bad-request', 'DNS name pointer that does not point back');
      if (++jumps > MAX_POINTERS) throw new TunnelError('bad-request', 'too many DNS name pointers');
      if (end < 0) end = pos + 2;
      pos = target;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new TunnelError('bad-request', `DNS label type 0x${len.toString(16)}`);
    wire += len + 1;
    if (wire > 255) throw new TunnelError('bad-request', 'DNS name over 255 bytes');
    if (len === 0) {
      if (end < 0) end = pos + 1;
      return { name: labels.join('.').toLowerCase(), end };
    }
    if (pos + 1 + len > buf.length) throw new TunnelError('bad-request', 'truncated DNS label');
    const label = buf.subarray(pos + 1, pos + 1 + len);
    // A dot inside a label would read back as two labels (a different name): refused.
    if (label.includes(0x2e)) throw new TunnelError('bad-request', 'DNS label holding a dot');
    labels.push(Buffer.from(label).toString('latin1'));
    pos += 1 + len;
  }
}

/** A dotted name in wire form (no compression). Throws TunnelError('bad-request') for a bad label. */
export function encodeName(name: string): Buffer {
  const parts: Buffer[] = [];
  for (const label of name === '' ? [] : name.split('.')) {
    const b = Buffer.from(label, 'latin1');
    if (b.length === 0 || b.length > 63) throw new TunnelError('bad-request', `DNS label "${label}"`);
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  if (out.length > 255) throw new TunnelError('bad-request', 'DNS name over 255 bytes');
  return out;
}

function u16(buf: Uint8Array, at: number): number {
  return (buf[at]! << 8) | buf[at + 1]!;
}

function be16pair(a: number, b: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt16BE(a, 0);
  out.writeUInt16BE(b, 2);
  return out;
}
