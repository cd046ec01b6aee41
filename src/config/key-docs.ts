// What each config file key means, in one place: the source of the man page ett.toml(5) (the limits'
// descriptions come from their doc comments in src/limits.ts). A test checks that every key schema.ts
// accepts is described here and nothing else is. Pure data.

export interface KeyDoc {
  /** The value's shape, e.g. `"HOST:PORT"` or `[PIN, ...]`. */
  readonly value: string;
  readonly text: string;
  /** A table's or array of tables' own keys, with their meaning. */
  readonly fields?: Readonly<Record<string, string>>;
}

export const KEY_DOCS: Readonly<Record<string, KeyDoc>> = {
  key: {
    value: '"FILE"',
    text: 'The private key file (ett keygen FILE), mode 0600; a relative path is relative to the config file.',
  },
  listen: {
    value: '"HOST:PORT"',
    text:
      "Where to listen: a relay's TLS port (required), a client's SOCKS5/SOCKS4a/HTTP proxy port " +
      '(default 127.0.0.1:1080). IPv6 in brackets; port 0 picks a free one.',
  },
  advertise: {
    value: '"HOST"',
    text: 'Relay: the host to put in the share string instead of the listen host (no port).',
  },
  allow: {
    value: '["PIN", ...]',
    text: 'Relay: the pins (ett pin FILE) of the client keys it serves.',
  },
  allow_any: {
    value: 'true|false',
    text: 'Relay: serve any client key (default false); one of allow or allow_any is required.',
  },
  allow_file: {
    value: '"FILE"',
    text:
      'Relay: the allow file of client keys that joined with an invite (ett invite, ett join), its invites ' +
      'store beside it (FILE.invites); read at start and at each reload; relative to the config file.',
  },
  exit: {
    value: '["accept|reject ADDR[/MASK]:PORT[-PORT]", ...]',
    text:
      'Relay: exit policy rules, first match wins, checked before the defaults (which refuse private, ' +
      "loopback, link-local, multicast and the relay's own addresses); * stands for any address or port.",
  },
  via: {
    value: '"SHARE[,SHARE...]" or [SHARE, ...]',
    text:
      "Client: the default route: relays' share strings (ett://PIN@HOST:PORT) or [relays] names, first " +
      'hop first. Give via or default, not both.',
  },
  default: {
    value: '"ACTION"',
    text: 'Client: the path for targets no rule matches: direct, block, or a relay, route or group name.',
  },
  relays: {
    value: 'table',
    text:
      'Client: name = "ett://PIN@HOST:PORT", or name = { share = "ett://...", key = "FILE" } to show that ' +
      'relay a key of its own (key = "ephemeral": a fresh key per circuit).',
  },
  routes: {
    value: 'table',
    text:
      'Client: name = [relay names or share strings], first hop first, 1 to limits.path_length_max; or ' +
      'name = { relays = [...], isolate = [...] } to give its streams their own stream isolation.',
  },
  groups: {
    value: 'table',
    text:
      'Client: name = [routes or relays], tried in order; the first whose circuit builds serves, and ' +
      'earlier members are probed every limits.health_check_interval_ms while a later one serves; or ' +
      'name = { members = [...], isolate = [...] }.',
  },
  rules: {
    value: 'array of tables',
    text:
      'Client: [[rules]], first match wins; every criterion given must match, within one any entry may. ' +
      'Names are matched as text, never resolved.',
    fields: {
      host: '*.example.org (glob: * is one or more characters), .example.org (that name and below), or an exact name; a string or an array',
      cidr: 'IPv4 or IPv6 networks (10.0.0.0/8, [fd00::]/8); match only targets given as IP addresses',
      port: 'an integer, "443", a range "80-443", or an array of those',
      action: 'direct, block, or a relay, route or group name',
      isolate: "stream isolation for the streams it matches (see isolate); beats its route's or group's",
    },
  },
  forwards: {
    value: 'array of tables',
    text: 'Client: [[forwards]], ssh -L style ports whose every connection goes to one target.',
    fields: {
      listen: 'HOST:PORT to bind (port required, 0 picks one)',
      to: 'HOST:PORT, sent to the exit as written',
      via: 'direct, or a relay, route or group name (not block); left out: the default path',
    },
  },
  publish: {
    value: '["PIN ports LOW[-HIGH] [on ADDR,...]", ...] (relay) or array of tables (client)',
    text:
      'Relay: which client keys may have it listen for them (ssh -R), on which ports and addresses ' +
      '(without on: any; 0.0.0.0 and :: must be named to be allowed); default none. Client: [[publish]], ' +
      'a local service the last relay of a route listens for: each connection there comes back and is ' +
      'connected here to its to, never by the rules.',
    fields: {
      remote: 'RBIND:RPORT on the relay (RBIND an IP address, 0.0.0.0 for all; port 1..65535)',
      to: 'LHOST:LPORT, the local service this client connects',
      via: 'a relay or route name (not a group, direct or block); left out: the default route',
    },
  },
  socks_users: {
    value: 'table',
    text:
      'Client: username = "password" pairs (1 to 255 bytes each); the proxy port then requires SOCKS5 ' +
      'username/password or HTTP Basic proxy authentication.',
  },
  pac: {
    value: 'true|false',
    text:
      'Client: serve a proxy auto-config file for browsers at http://LISTEN/proxy.pac (and /wpad.dat) ' +
      'that follows the rules where a browser can (default true); with socks_users set, to this machine only.',
  },
  transparent: {
    value: '"HOST:PORT"',
    text:
      'Client: the transparent port, for TCP connections the kernel redirected to it (nftables redirect; ' +
      'ett transparent-rules prints the rules): the original destination is read from the socket and ' +
      'routed by the rules, a name-table address as its name again. localhost: both 127.0.0.1 and ::1.',
  },
  dns: {
    value: '"HOST:PORT"',
    text:
      'Client: the DNS port (UDP and TCP), answering A and AAAA with name-table addresses in 240.0.0.0/4 ' +
      '(and 100::/96) that the transparent port turns back into names; localhost: both loopbacks.',
  },
  isolate: {
    value: 'list',
    text:
      'Client: stream isolation where no rule, route or group says: which streams get circuits of ' +
      'their own, any of "socks-auth" (a SOCKS5/4 or HTTP proxy login), "destination" (the target host), ' +
      '"forward", "source" (the app\'s IP); [] for none. Default ["socks-auth"]. Also a key of [[rules]], ' +
      'and of routes and groups written as { relays|members = [...], isolate = [...] }.',
  },
  isolate_per_host: {
    value: 'true|false',
    text: 'Client: isolate every stream by its destination host as well (default false).',
  },
  log_level: { value: '"LEVEL"', text: 'debug, info (default), warn, error or silent.' },
  log_format: {
    value: '"FORMAT"',
    text: 'text (default) or json: one object per line {time, level, msg}.',
  },
  control: {
    value: '"PATH"',
    text:
      'The control socket (ett status, ett reload): default $XDG_RUNTIME_DIR/ett/ or /tmp/ett-UID/, ' +
      'named by daemon and pid; "off" for none.',
  },
  metrics: {
    value: '"HOST:PORT"',
    text: 'Serve Prometheus metrics at http://HOST:PORT/metrics (no targets, no pins).',
  },
  limits: {
    value: 'table',
    text: 'Bounds and timeouts, snake_case names, positive integers; see LIMITS.',
  },
};
