// `ett join INVITE --key FILE [--config FILE] [--name NAME]`: the client's half of the join step
// (DESIGN §19). A TLS 1.3 connection pinned to the relay the invite names, ALPN ett-join/1, the client's
// key presented; one line {"token":"…"} out, one answer line in. Then the client's config gains the
// relay (join-config.ts) and what was done is printed.

import { readFile } from 'node:fs/promises';
import { DEFAULT_LIMITS } from '../limits.js';
import { TunnelError, type ErrorCode } from '../errors.js';
import { loadIdentity } from '../identity/identity.js';
import { ALPN_JOIN, connectPinned } from '../link/tls.js';
import { writeAtomic } from '../relay/state.js';
import { formatTarget } from '../wire/address.js';
import { formatShareString, parseInvite, shortPin } from '../wire/share-string.js';
import { parseFlags, say } from './common.js';
import { addRelay } from './join-config.js';

export const JOIN_OPTIONS = {
  key: { type: 'string' },
  config: { type: 'string' },
  name: { type: 'string' },
} as const;

/** Longest answer read from the relay, bytes. */
const ANSWER_MAX = 4096;
/** The relay's answer must come within this long of the request, ms. */
const ANSWER_TIMEOUT_MS = 15_000;
const RELAY_CODES: readonly ErrorCode[] = ['link-auth', 'limit', 'bad-request', 'general'];

/**
 * Joins the relay. Rejects with TunnelError: 'config' (exit 2) for bad flags, invite, key or config
 * file; 'link-auth' for a refused token (spent, expired, unknown) or a relay without invites; 'limit'
 * when the relay rate-limits this address; a network code when the relay cannot be reached.
 */
export async function join(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags('join', args, JOIN_OPTIONS, ['INVITE']);
  const inv = parseInvite(positionals[0]!);
  const keyPath = values.key as string | undefined;
  if (keyPath === undefined)
    throw new TunnelError('config', 'join: missing --key FILE (the client key to allow)');
  const identity = await loadIdentity(keyPath);
  const where = `relay ${shortPin(inv.share.pin)} at ${formatTarget(inv.share.target)}`;
  const sock = await connectPinned({
    identity,
    pin: inv.share.pin,
    host: inv.share.target.host,
    port: inv.share.target.port,
    timeoutMs: DEFAULT_LIMITS.handshakeTimeoutMs,
    alpn: ALPN_JOIN,
  }).catch((err: unknown) => {
    const e = err instanceof TunnelError ? err : new TunnelError('general', String(err));
    if (/no.application.protocol|does not speak/i.test(e.message)) {
      throw new TunnelError('link-auth', `${where} does not take invites (it runs without an allow file)`);
    }
    throw new TunnelError(e.code, `${where}: ${e.message}`, { cause: e });
  });
  const answer = await new Promise<Record<string, unknown>>((resolve, reject) => {
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new TunnelError('timeout', `${where}: no answer to the join within ${ANSWER_TIMEOUT_MS} ms`));
    }, ANSWER_TIMEOUT_MS);
    const fail = (): void => {
      clearTimeout(timer);
      reject(new TunnelError('link-auth', `${where} closed the join without an answer`));
    };
    sock.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      const nl = got.indexOf(0x0a);
      if (nl < 0 && got.length <= ANSWER_MAX) return;
      clearTimeout(timer);
      sock.removeListener('close', fail);
      sock.destroy();
      try {
        resolve(
          JSON.parse(got.subarray(0, nl < 0 ? ANSWER_MAX : nl).toString('utf8')) as Record<string, unknown>,
        );
      } catch {
        reject(new TunnelError('protocol', `${where}: the join answer is not JSON`));
      }
    });
    sock.once('close', fail);
    sock.on('error', () => sock.destroy());
    sock.write(JSON.stringify({ token: inv.token }) + '\n');
  });
  if (answer['ok'] !== true) {
    const code = RELAY_CODES.find((c) => c === answer['code']) ?? 'general';
    throw new TunnelError(code, `join refused by ${where}: ${printable(answer['error'])}`);
  }
  const label = printable(answer['name']);
  const share = formatShareString(inv.share);
  say(
    answer['already'] === true
      ? `${where} already allows key ${shortPin(identity.pin)} (as ${JSON.stringify(label)}); the invite was not used`
      : `joined ${where}: key ${shortPin(identity.pin)} is allowed as ${JSON.stringify(label)}`,
  );
  const file = values.config as string | undefined;
  if (file === undefined) {
    say(`use it: ett client --key ${keyPath} --via ${share}   (or --config FILE to have join write it)`);
    return 0;
  }
  const old = await readFile(file, 'utf8').catch((err: unknown) => {
    if ((err as { code?: string }).code === 'ENOENT') return null;
    throw new TunnelError('config', `join: ${file}: cannot read: ${(err as Error).message}`);
  });
  const name = (values.name as string | undefined) ?? 'relay';
  const r = addRelay(old, { name, share, keyPath, file });
  if (r.text !== null) await writeAtomic(file, r.text);
  for (const line of r.lines) say(line);
  say(`start the client: ett client --config ${file}`);
  return 0;
}

/** A peer's text as one printable line of at most 200 characters. */
function printable(v: unknown): string {
  return String(v ?? '')
    .replace(/[\p{Cc}\p{Cf}]/gu, '?')
    .slice(0, 200);
}
