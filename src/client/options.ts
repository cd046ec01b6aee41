import type { Census } from '../link/census.js';
import type { Identity } from '../identity/identity.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import type { Target } from '../wire/address.js';
import type { Action, Route, RoutingTable } from './rules.js';

/** Everything `startClient` needs; config/ and cli/ build it from flags and TOML. */
export interface ClientOptions {
  readonly identity: Identity;
  /** The mixed SOCKS5/SOCKS4a/HTTP port; port 0 picks a free port. */
  readonly listen: Target;
  /** Which path each target takes: rules, then the default (a `--via` route when no rules are given). */
  readonly routing: RoutingTable;
  /** Static port forwards (ssh -L style). */
  readonly forwards: readonly Forward[];
  /** Local services published through a relay (ssh -R style, §20); none when absent. */
  readonly publish?: readonly Publish[];
  /** If set, SOCKS5 clients must authenticate with one of these username/password pairs. */
  readonly socksUsers?: ReadonlyMap<string, string>;
  /** Serve the PAC file at GET /proxy.pac on the mixed port (default true; client/pac.ts). */
  readonly pac?: boolean;
  readonly limits: Limits;
  readonly log: Logger;
  /** Where the client registers its links, circuits and streams (`ett status`, metrics); default its own. */
  readonly census?: Census;
}

/** A local port whose every connection goes to one fixed target, by a given path. */
export interface Forward {
  readonly listen: Target;
  readonly to: Target;
  readonly action: Action;
}

/** A local service the last relay of `route` listens for (ssh -R): RBIND:RPORT there, LHOST:LPORT here. */
export interface Publish {
  /** RBIND:RPORT on the relay (RBIND an IP literal; 0.0.0.0 when not given). */
  readonly remote: Target;
  /** LHOST:LPORT the client connects for each connection (directly, never by the rules). */
  readonly to: Target;
  readonly route: Route;
}
