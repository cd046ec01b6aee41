import type { Identity } from '../identity/identity.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import type { Target } from '../wire/address.js';
import type { ShareString } from '../wire/share-string.js';

/** Everything `startClient` needs; config/ and cli/ build it from flags and TOML. */
export interface ClientOptions {
  readonly identity: Identity;
  /** The mixed SOCKS5/SOCKS4a/HTTP port; port 0 picks a free port. */
  readonly listen: Target;
  /** The route: relays in order (one for now; chains later). */
  readonly via: readonly ShareString[];
  /** If set, SOCKS5 clients must authenticate with one of these username/password pairs. */
  readonly socksUsers?: ReadonlyMap<string, string>;
  readonly limits: Limits;
  readonly log: Logger;
}
