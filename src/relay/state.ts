// The relay's state files on disk: the allow file (`allow_file`) and its invites store beside it
// (`ALLOW_FILE.invites`). Both are written whole and atomically: a temporary file in the same
// directory, created mode 0600 with O_EXCL, written, fsynced and renamed over the old one, so a reader
// (the relay at a reload, `ett allow list`) sees the old file or the new one, never half of one.
// Within one process, every read-modify-write runs in turn (one queue), so two joins at once cannot
// both spend the last use of an invite. Between processes the running relay is the one writer: the
// CLI writes these files itself only when no relay answers on a control socket.

import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { TunnelError } from '../errors.js';
import { pinMatches } from '../link/tls.js';
import {
  formatAllowFile,
  formatInvites,
  hashToken,
  newToken,
  parseAllowFile,
  parseInvites,
  pruneInvites,
  redeem,
  type AllowEntry,
  type InviteRecord,
} from './allow-file.js';

/** What a join came to: the label the key now carries, or why the token was refused. */
export type JoinOutcome =
  | { readonly ok: true; readonly name: string; readonly already: boolean }
  | { readonly ok: false; readonly reason: 'unknown' | 'spent' | 'expired' };

export interface NewInvite {
  readonly token: string;
  readonly record: InviteRecord;
}

/** The invites store of an allow file. */
export function invitesFileOf(allowFile: string): string {
  return `${allowFile}.invites`;
}

export class RelayState {
  readonly invitesFile: string;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly allowFile: string) {
    this.invitesFile = invitesFileOf(allowFile);
  }

  /** The allow file's entries (none when it does not exist). Rejects with TunnelError('config'). */
  async allowed(): Promise<AllowEntry[]> {
    const text = await readOptional(this.allowFile);
    return text === null ? [] : parseAllowFile(text, this.allowFile);
  }

  /** The invites store's records (none when it does not exist). Rejects with TunnelError('config'). */
  async invites(): Promise<InviteRecord[]> {
    const text = await readOptional(this.invitesFile);
    return text === null ? [] : parseInvites(text, this.invitesFile);
  }

  /** Makes an invite and stores its hash; resolves with the token (shown once, stored nowhere). */
  createInvite(o: { name: string; uses: number; expiresMs: number }, now = new Date()): Promise<NewInvite> {
    return this.serial(async () => {
      const token = newToken();
      const record: InviteRecord = {
        hash: hashToken(token),
        name: o.name,
        usesLeft: o.uses,
        expires: new Date(now.getTime() + o.expiresMs).toISOString(),
        created: now.toISOString(),
      };
      await writeAtomic(
        this.invitesFile,
        formatInvites([...pruneInvites(await this.invites(), now), record]),
      );
      return { token, record };
    });
  }

  /**
   * Redeems the token for `pin`: takes one use of its invite, then adds the pin to the allow file (the
   * store is written first, so a crash between the two loses a use, never lets a token be used twice).
   * A key already in the allow file spends nothing. Rejects with TunnelError('config') only when a
   * file cannot be read or written.
   */
  join(pin: string, token: string, now = new Date()): Promise<JoinOutcome> {
    return this.serial(async () => {
      const entries = await this.allowed();
      const listed = entries.find((e) => pinMatches(e.pin, pin));
      if (listed !== undefined) return { ok: true, name: listed.name, already: true };
      const r = redeem(await this.invites(), token, now);
      if (r.kind !== 'ok') return { ok: false, reason: r.kind };
      await writeAtomic(this.invitesFile, formatInvites(pruneInvites(r.records, now)));
      const entry: AllowEntry = { pin, name: r.record.name, added: now.toISOString() };
      await writeAtomic(this.allowFile, formatAllowFile([...entries, entry]));
      return { ok: true, name: entry.name, already: false };
    });
  }

  /** Removes a pin from the allow file; resolves with the entry removed, or null if it was not there. */
  remove(pin: string): Promise<AllowEntry | null> {
    return this.serial(async () => {
      const entries = await this.allowed();
      const gone = entries.find((e) => pinMatches(e.pin, pin)) ?? null;
      if (gone !== null)
        await writeAtomic(this.allowFile, formatAllowFile(entries.filter((e) => e !== gone)));
      return gone;
    });
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.queue.then(f, f);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

async function readOptional(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return null;
    throw new TunnelError('config', `${file}: cannot read: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Replaces `file` with `text` atomically, mode 0600. Rejects with TunnelError('config') naming the file;
 * the temporary file is removed then.
 */
export async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw new TunnelError('config', `${file}: cannot write: ${(err as Error).message}`, { cause: err });
  }
}
