// The relay's state files, as text: the allow file (the client keys that joined with an invite, each
// with its label and the time it joined) and the invites store beside it (each invite's token as a
// SHA-256 hash, its label, uses left and expiry). Parsing, formatting and the token's checks; pure but
// for the random bytes of a new token. The files themselves are read and written by state.ts.
//
// A token is 32 random bytes (base64url, 43 characters). Only SHA-256 of its bytes is stored, so the
// store on disk lets no one join; a presented token is hashed and compared with every stored hash by
// timingSafeEqual, all of them, whichever matches.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { TunnelError } from '../errors.js';
import { normalizePin, tokenBytes } from '../wire/share-string.js';

/** One client key the allow file lets in. */
export interface AllowEntry {
  /** Canonical pin. */
  readonly pin: string;
  /** The invite's label (`ett invite --name`). */
  readonly name: string;
  /** When it joined, ISO 8601 UTC. */
  readonly added: string;
}

/** One invite, as the store keeps it: never the token itself. */
export interface InviteRecord {
  /** base64url SHA-256 of the token's 32 bytes. */
  readonly hash: string;
  readonly name: string;
  /** Joins it may still make; 0: spent (kept until it expires, so a reuse is told it was spent). */
  readonly usesLeft: number;
  readonly expires: string;
  readonly created: string;
}

/** What redeeming a token found. */
export type Redeemed =
  | { readonly kind: 'ok'; readonly record: InviteRecord; readonly records: InviteRecord[] }
  | { readonly kind: 'unknown' | 'spent' | 'expired' };

/** Longest label, characters. */
export const LABEL_MAX = 64;
/** Most uses one invite may have. */
export const USES_MAX = 1000;
/** Longest an invite may live, ms (30 days). */
export const EXPIRY_MAX_MS = 30 * 24 * 3600 * 1000;
/** Spent or expired records are dropped this long after their expiry, ms (then a reuse reads "unknown"). */
export const KEEP_AFTER_EXPIRY_MS = 7 * 24 * 3600 * 1000;

/** A new token: 32 bytes from the CSPRNG, base64url. Never throws. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** base64url SHA-256 of the token's bytes. Throws TunnelError('config') for a malformed token. */
export function hashToken(token: string): string {
  return createHash('sha256').update(tokenBytes(token)).digest('base64url');
}

/**
 * The index of the record whose hash is the token's, or -1. Every record is compared, in constant time
 * each, so the time taken says nothing about which (or whether one) matched. Never throws (a malformed
 * token matches nothing).
 */
export function findInvite(records: readonly InviteRecord[], token: string): number {
  let presented = Buffer.alloc(32); // a malformed token is compared too, and matches nothing
  let wellFormed = true;
  try {
    presented = Buffer.from(hashToken(token), 'base64url');
  } catch {
    wellFormed = false;
  }
  let found = -1;
  for (let i = 0; i < records.length; i++) {
    const stored = Buffer.from(records[i]!.hash, 'base64url');
    const same = stored.length === 32 && timingSafeEqual(stored, presented);
    if (same && wellFormed && found < 0) found = i;
  }
  return found;
}

/** Redeems one use of the token at `now`: the records with that use taken, or why not. Never throws. */
export function redeem(records: readonly InviteRecord[], token: string, now: Date): Redeemed {
  const i = findInvite(records, token);
  if (i < 0) return { kind: 'unknown' };
  const record = records[i]!;
  if (Date.parse(record.expires) <= now.getTime()) return { kind: 'expired' };
  if (record.usesLeft <= 0) return { kind: 'spent' };
  const next = records.slice();
  next[i] = { ...record, usesLeft: record.usesLeft - 1 };
  return { kind: 'ok', record, records: next };
}

/** The records still worth keeping at `now` (KEEP_AFTER_EXPIRY_MS after expiry). Never throws. */
export function pruneInvites(records: readonly InviteRecord[], now: Date): InviteRecord[] {
  return records.filter((r) => Date.parse(r.expires) + KEEP_AFTER_EXPIRY_MS > now.getTime());
}

/** A label as given to `ett invite --name`: 1..64 characters, no control characters. Throws 'config'. */
export function labelValue(text: string): string {
  if (text.length < 1 || text.length > LABEL_MAX || /[\p{Cc}\p{Cf}\u2028\u2029]/u.test(text)) {
    throw new TunnelError(
      'config',
      `invite name must be 1..${LABEL_MAX} characters, none of them control characters`,
    );
  }
  return text;
}

/** "24h", "30m", "90s", "7d" (a positive integer and a unit) in ms, at most 30 days. Throws 'config'. */
export function durationMs(text: string): number {
  const m = /^([1-9][0-9]{0,6})([smhd])$/.exec(text);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  const ms = m ? Number(m[1]) * unit[m[2] as keyof typeof unit] : NaN;
  if (!(ms <= EXPIRY_MAX_MS)) {
    throw new TunnelError(
      'config',
      `${JSON.stringify(text)}: expiry must be a number and a unit (s, m, h, d), e.g. 24h, at most 30d`,
    );
  }
  return ms;
}

// ---- the files' text ---------------------------------------------------------------------------------

/** The allow file's text (JSON, one entry a line). Never throws. */
export function formatAllowFile(entries: readonly AllowEntry[]): string {
  const rows = entries.map((e) => '    ' + JSON.stringify({ pin: e.pin, name: e.name, added: e.added }));
  return `{\n  "ett_allow": 1,\n  "clients": [\n${rows.join(',\n')}${rows.length ? '\n' : ''}  ]\n}\n`;
}

/**
 * Parses the allow file. Throws TunnelError('config') naming the file and what is wrong (never a pin:
 * an entry is named by its index).
 */
export function parseAllowFile(text: string, file: string): AllowEntry[] {
  const doc = parseJson(text, file);
  if (doc['ett_allow'] !== 1 || !Array.isArray(doc['clients'])) {
    throw new TunnelError(
      'config',
      `${file}: not an ett allow file (want {"ett_allow": 1, "clients": [...]})`,
    );
  }
  const seen = new Set<string>();
  return (doc['clients'] as unknown[]).map((e, i) => {
    const at = `${file}: clients[${i}]`;
    if (typeof e !== 'object' || e === null) throw new TunnelError('config', `${at}: must be an object`);
    const { pin, name, added } = e as Record<string, unknown>;
    let canonical: string;
    try {
      canonical = normalizePin(typeof pin === 'string' ? pin : '');
    } catch (err) {
      throw new TunnelError('config', `${at}.pin: ${(err as Error).message}`);
    }
    if (seen.has(canonical)) throw new TunnelError('config', `${at}.pin: listed twice`);
    seen.add(canonical);
    return { pin: canonical, name: stringField(name, `${at}.name`), added: timeField(added, `${at}.added`) };
  });
}

/** The invites store's text (JSON). Never throws. */
export function formatInvites(records: readonly InviteRecord[]): string {
  const rows = records.map(
    (r) =>
      '    ' +
      JSON.stringify({
        hash: r.hash,
        name: r.name,
        uses_left: r.usesLeft,
        expires: r.expires,
        created: r.created,
      }),
  );
  return `{\n  "ett_invites": 1,\n  "invites": [\n${rows.join(',\n')}${rows.length ? '\n' : ''}  ]\n}\n`;
}

/** Parses the invites store. Throws TunnelError('config') naming the file, the index and the field. */
export function parseInvites(text: string, file: string): InviteRecord[] {
  const doc = parseJson(text, file);
  if (doc['ett_invites'] !== 1 || !Array.isArray(doc['invites'])) {
    throw new TunnelError(
      'config',
      `${file}: not an ett invites file (want {"ett_invites": 1, "invites": [...]})`,
    );
  }
  return (doc['invites'] as unknown[]).map((e, i) => {
    const at = `${file}: invites[${i}]`;
    if (typeof e !== 'object' || e === null) throw new TunnelError('config', `${at}: must be an object`);
    const r = e as Record<string, unknown>;
    const hash = r['hash'];
    if (typeof hash !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(hash)) {
      throw new TunnelError('config', `${at}.hash: must be 43 base64url characters (SHA-256)`);
    }
    const uses = r['uses_left'];
    if (typeof uses !== 'number' || !Number.isInteger(uses) || uses < 0 || uses > USES_MAX) {
      throw new TunnelError('config', `${at}.uses_left: must be an integer 0..${USES_MAX}`);
    }
    return {
      hash,
      name: stringField(r['name'], `${at}.name`),
      usesLeft: uses,
      expires: timeField(r['expires'], `${at}.expires`),
      created: timeField(r['created'], `${at}.created`),
    };
  });
}

function parseJson(text: string, file: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new TunnelError('config', `${file}: not valid JSON: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new TunnelError('config', `${file}: must be a JSON object`);
  }
  return doc as Record<string, unknown>;
}

function stringField(v: unknown, at: string): string {
  if (typeof v !== 'string') throw new TunnelError('config', `${at}: must be a string`);
  try {
    return labelValue(v);
  } catch (err) {
    throw new TunnelError('config', `${at}: ${(err as Error).message}`);
  }
}

function timeField(v: unknown, at: string): string {
  if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) {
    throw new TunnelError('config', `${at}: must be a time (ISO 8601)`);
  }
  return v;
}
