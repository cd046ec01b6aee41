// A running relay's own control commands, for `ett invite` and `ett allow` (DESIGN §19):
//   → {"cmd":"allow-file"}                                  ← {"ok":true,"allow_file":"/abs/path"}
//   → {"cmd":"invite","name":"alice","uses":1,"expires_ms":86400000}
//                                                           ← {"ok":true,"invite":"ett://…?invite=…",…}
//   → {"cmd":"allow-remove","pin":"PIN"}                    ← {"ok":true,"removed":"alice"}
// The invite's token is in that one answer (on the owner's 0600 control socket) and nowhere else: the
// store keeps its hash, the log its label.

import { resolve } from 'node:path';
import { TunnelError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ControlCommand } from '../observe/control.js';
import { durationMs, labelValue, USES_MAX } from '../relay/allow-file.js';
import type { RelayState } from '../relay/state.js';
import { formatInvite, normalizePin, parseShareString, shortPin } from '../wire/share-string.js';

/** What an invite asks for, validated: for the control command and for `ett invite` on the files. */
export interface InviteAsk {
  readonly name: string;
  readonly uses: number;
  readonly expiresMs: number;
}

/** The default invite: one use, 24 hours, labelled "invite". */
export const DEFAULT_ASK: InviteAsk = { name: 'invite', uses: 1, expiresMs: 24 * 3600 * 1000 };

/** Validates uses (1..USES_MAX). Throws TunnelError('config'). */
export function usesValue(n: unknown): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > USES_MAX) {
    throw new TunnelError('config', `invite uses must be an integer 1..${USES_MAX}`);
  }
  return n;
}

/** Makes an invite in the store; resolves with the invite string and what it allows. */
export async function makeInvite(
  state: RelayState,
  share: string,
  ask: InviteAsk,
  log?: Logger,
): Promise<Record<string, unknown>> {
  const { token, record } = await state.createInvite(ask);
  log?.info(
    `invite made: ${JSON.stringify(record.name)}, ${record.usesLeft} use(s), expires ${record.expires}`,
  );
  return {
    invite: formatInvite({ share: parseShareString(share), token }),
    name: record.name,
    uses: record.usesLeft,
    expires: record.expires,
  };
}

export interface RelayCommandDeps {
  readonly state: RelayState;
  readonly shareString: string;
  readonly log: Logger;
  /** After the allow file changed: applies it to the running relay (links of removed keys close). */
  readonly reapply: () => Promise<void>;
}

/** The commands a relay with an allow file adds to its control socket. */
export function relayCommands(d: RelayCommandDeps): Record<string, ControlCommand> {
  return {
    'allow-file': () => Promise.resolve({ allow_file: resolve(d.state.allowFile) }),
    invite: async (req) => {
      const ask: InviteAsk = {
        name: req['name'] === undefined ? DEFAULT_ASK.name : labelValue(String(req['name'])),
        uses: req['uses'] === undefined ? DEFAULT_ASK.uses : usesValue(req['uses']),
        expiresMs: req['expires'] === undefined ? DEFAULT_ASK.expiresMs : durationMs(String(req['expires'])),
      };
      return makeInvite(d.state, d.shareString, ask, d.log);
    },
    'allow-remove': async (req) => {
      const pin = normalizePin(typeof req['pin'] === 'string' ? req['pin'] : '');
      const gone = await d.state.remove(pin);
      if (gone === null) throw new TunnelError('config', `${shortPin(pin)}… is not in ${d.state.allowFile}`);
      d.log.info(`allow file: removed client ${shortPin(pin)} (${JSON.stringify(gone.name)})`);
      await d.reapply();
      return { removed: gone.name };
    },
  };
}
