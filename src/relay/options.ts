import type { Census } from '../link/census.js';
import type { Identity } from '../identity/identity.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import type { Target } from '../wire/address.js';
import type { ExitRule } from './exit-policy.js';
import type { JoinOutcome } from './state.js';
import type { PublishRule } from './publish-policy.js';

/** Everything `startRelay` needs; config/ and cli/ build it from flags and TOML. */
export interface RelayOptions {
  readonly identity: Identity;
  /** Address to listen on; port 0 picks a free port. */
  readonly listen: Target;
  /** Host to advertise in the share string (defaults to the listen host). */
  readonly advertise?: string;
  /** Canonical pins of clients allowed to use this relay. */
  readonly allow: readonly string[];
  /** Serve any client key. Must be asked for explicitly. */
  readonly allowAny: boolean;
  /** The owner's exit rules; the defaults are appended after them. */
  readonly exitRules: readonly ExitRule[];
  /** Who may publish which ports on this relay (§20); none when absent. */
  readonly publish?: readonly PublishRule[];
  readonly limits: Limits;
  readonly log: Logger;
  /** Where the relay registers its links and streams (`ett status`, metrics); default its own. */
  readonly census?: Census;
  /**
   * Invites are on (an allow file): redeems a token for a client key on the join step (ALPN ett-join/1,
   * DESIGN §20). Without it the relay does not offer ett-join/1.
   */
  readonly join?: (pin: string, token: string) => Promise<JoinOutcome>;
}
