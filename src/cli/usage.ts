// Every usage text in one place, so `ett help` needs no command module loaded (main.ts loads a
// command's code only when it runs). These texts are also the source of the man page ett(1) and of the
// shell completions (cli/docs.ts parses them), so keep their shape: a "Usage:" block, prose
// paragraphs, and flag lines as "  --flag ARG" padded to column 22, then the description.

export const USAGE = `ett — encrypted TCP tunneler: a local SOCKS5/SOCKS4a/HTTP proxy whose connections travel to
an ett relay over pinned, mutually authenticated TLS 1.3.

Usage:
  ett up [--listen HOST:PORT]             quick start: relay + client on loopback, throwaway keys
  ett keygen FILE                         write a new private key (mode 0600), print its pin
  ett pin FILE                            print the pin of a key file
  ett cert FILE                           print a self-signed certificate (PEM) for a key file
  ett relay --key FILE --listen HOST:PORT [--advertise HOST] [--allow PIN]... [--allow-any]
            [--exit RULE]... [--publish RULE]... [--config FILE] [--log-level LEVEL]
  ett client --key FILE --via SHARE[,SHARE...] [--listen HOST:PORT] [--forward [BIND:]LPORT:HOST:PORT]...
             [--publish [RBIND:]RPORT:LHOST:LPORT]... [--default ACTION] [--transparent HOST:PORT]
             [--dns HOST:PORT] [--config FILE] [--log-level LEVEL]
  ett check-config FILE [--role relay|client]
                                          validate a config file, print the effective settings
  ett explain HOST:PORT [--config FILE] [--via SHARE[,SHARE...]] [--default ACTION]
                                          which rule a target matches and the path it would take
  ett run [--key FILE] [--via SHARE[,SHARE...] | --config FILE | --socks IP:PORT] [--localnet CIDR]...
          [--strict] [--isolate] -- CMD [ARGS...]
                                          run an unmodified program with its TCP and names through ett
  ett transparent-rules [--config FILE] [--router IFACE] [--uid-exclude USER] [--udp]
                                          print nftables rules sending a machine's or a LAN's TCP and DNS
                                          to a client's transparent and DNS ports
  ett version                             ett's version and the Node and OpenSSL it runs on
  ett status [--control PATH] [--json] [--watch] [--web]
                                          what a running relay/client holds: links, streams …
  ett reload [--control PATH]             make a running daemon re-read its config file
  ett invite [--uses N] [--expires 24h] [--name LABEL] [--config FILE] [--control PATH]
                                          print an invite to this relay (a share string and a token)
  ett join INVITE --key FILE [--config FILE] [--name NAME]
                                          join a relay with an invite; add it to the client's config
  ett allow list|remove PIN [--config FILE] [--allow-file FILE] [--control PATH]
                                          the keys that joined; removing one closes its links
  ett completion bash|zsh                 print a shell completion script
  ett help [COMMAND]                      this text, or a command's

Run 'ett COMMAND --help' for a command's flags. Exit status: 0 ok, 2 usage or configuration error,
1 any other failure.`;

export const VERSION_USAGE = `Usage: ett version   (or: ett --version)

Prints ett's version and the versions of Node.js and OpenSSL it runs on (OpenSSL does the TLS), one line.`;

export const KEYGEN_USAGE = `Usage: ett keygen FILE

Writes a new Ed25519 private key (PKCS#8 PEM, mode 0600) to FILE and prints its pin, one line.
Refuses to overwrite an existing file. The pin is what curl takes as --pinnedpubkey sha256//PIN.`;

export const PIN_USAGE = `Usage: ett pin FILE

Prints the pin of the private key in FILE: base64 of SHA-256 over its public key (SubjectPublicKeyInfo),
the text relays take in --allow and curl in --pinnedpubkey sha256//PIN.`;

export const CERT_USAGE = `Usage: ett cert FILE

Prints a self-signed X.509 certificate (PEM) for the private key in FILE, valid for ten years, e.g. for
  curl -p --proxy https://HOST:PORT --proxy-insecure --proxy-pinnedpubkey sha256//RELAY-PIN \\
       --proxy-cert cert.pem --proxy-key FILE http://example.com/
Relays check only the key's pin, never the certificate.`;

export const RELAY_USAGE = `Usage: ett relay --key FILE --listen HOST:PORT [--advertise HOST] [--allow PIN]... [--allow-any]
                 [--allow-file FILE] [--exit RULE]... [--publish RULE]... [--config FILE]
                 [--log-level LEVEL]

Serves ett clients (ALPN ett/1) and stock HTTP proxy clients (ALPN http/1.1: CONNECT and plain
http:// requests) over TLS 1.3, and prints its share string (ett://PIN@HOST:PORT) on one line.

  --key FILE          private key (ett keygen FILE); must be mode 0600
  --listen HOST:PORT  address to listen on ([::]:7000 for IPv6; port 0 picks one)
  --advertise HOST    host to put in the share string (default: the listen host)
  --allow PIN         a client key's pin allowed to use this relay; repeat for more
  --allow-any         serve any client key (must be asked for explicitly)
  --allow-file FILE   the allow file of keys that joined with an invite (ett invite, ett join);
                      its invites store is FILE.invites; both written mode 0600
  --exit RULE         exit policy rule "accept|reject ADDR[/MASK]:PORT[-PORT]" (* for any), first
                      match wins, checked before the defaults (which refuse private, loopback,
                      link-local, multicast and this relay's own addresses); repeat for more
  --publish RULE      "PIN ports LOW[-HIGH] [on ADDR[,ADDR]]": that client key may have this relay
                      listen on those ports (on those addresses; any without "on") and carry each
                      connection back to it (ssh -R); default none; repeat for more
  --config FILE       TOML file with the same settings (key, listen, advertise, allow, allow_any,
                      allow_file, exit, publish, log_level, control, metrics, log_format,
                      [limits]); flags given override its values
  --log-level LEVEL   debug, info (default), warn, error or silent
  --control PATH      the control socket (\`ett status\`): default $XDG_RUNTIME_DIR/ett/ or
                      /tmp/ett-UID/, named by daemon and pid; "off" for none
  --metrics HOST:PORT serve Prometheus metrics at http://HOST:PORT/metrics (no targets, no pins)
  --log-format FMT    text (default) or json: one object per line {time, level, msg}`;

export const CLIENT_USAGE = `Usage: ett client --key FILE --via SHARE[,SHARE...] [--listen HOST:PORT]
                  [--forward [BIND:]LPORT:HOST:PORT]... [--publish [RBIND:]RPORT:LHOST:LPORT]...
                  [--default ACTION] [--config FILE] [--transparent HOST:PORT] [--dns HOST:PORT]
                  [--isolate-per-host] [--log-level LEVEL]

Listens on one local port that speaks SOCKS5, SOCKS4/4a and HTTP proxy (CONNECT and plain http://),
and carries each connection by the routing rules: through a route of relays (each hop its own pinned
TLS 1.3 layer), directly, or not at all. Names that go through relays are resolved by the exit relay,
never here; a \`direct\` connection is made (and its name resolved) by this machine. The same port
serves browsers a proxy auto-config file at http://LISTEN/proxy.pac that follows the rules.

  --key FILE          this client's private key (ett keygen FILE); every relay must --allow its pin
  --via SHARE[,...]   the default route: relays' share strings (ett://PIN@HOST:PORT) or names from
                      the config's [relays], first hop first, at most 8; repeat or comma-separate
  --default ACTION    the default path instead: direct, block, or a relay, route or group name
  --forward SPEC      [BIND:]LPORT:HOST:PORT, as ssh -L: connections to BIND:LPORT (BIND defaults to
                      127.0.0.1; IPv6 in brackets; LPORT 0 picks one) go to HOST:PORT by the default
                      path; repeat for more (replaces the config's [[forwards]])
  --publish SPEC      [RBIND:]RPORT:LHOST:LPORT, as ssh -R: the last relay of the default route
                      listens on RBIND:RPORT (RBIND defaults to 0.0.0.0) if its owner's publish rules
                      allow this key, and each connection there comes back to LHOST:LPORT, connected
                      from here; kept up while the client runs; repeat for more (replaces [[publish]])
  --listen HOST:PORT  the local proxy port (default 127.0.0.1:1080)
  --transparent H:P   a transparent port for TCP (and UDP) the kernel redirected to it (ett
                      transparent-rules prints the nftables rules): the original destination is routed
                      by the rules, a name-table address (240.0.0.0/4) as its name; localhost:
                      127.0.0.1 and ::1
  --dns HOST:PORT     a DNS port (UDP and TCP) answering names with name-table addresses, so that
                      the name, never an address resolved here, goes to the exit
  --isolate-per-host  stream isolation by destination too: each target host gets circuits of its
                      own (by default only a different SOCKS/HTTP proxy login does)
  --config FILE       TOML file: key, listen, via or default, [relays], [routes], [groups],
                      [[rules]], [[forwards]], [[publish]], log_level, [limits], [socks_users],
                      pac, transparent, dns, isolate, isolate_per_host, control, metrics,
                      log_format (see README); flags given override its values
  --log-level LEVEL   debug, info (default), warn, error or silent
  --control PATH      the control socket (\`ett status\`): default $XDG_RUNTIME_DIR/ett/ or
                      /tmp/ett-UID/, named by daemon and pid; "off" for none
  --metrics HOST:PORT serve Prometheus metrics at http://HOST:PORT/metrics (no targets, no pins)
  --log-format FMT    text (default) or json: one object per line {time, level, msg}`;

export const CHECK_CONFIG_USAGE = `Usage: ett check-config FILE [--role relay|client]

Validates FILE as \`ett relay --config FILE\` or \`ett client --config FILE\` would at start, the key
file included, and prints the effective configuration as TOML (defaults filled in, names resolved,
SOCKS passwords shown as "<redacted>"). Exit status 0 if valid, 2 with the file, key and reason if not.

  --role ROLE         relay or client; by default a file with allow, allow_any, exit or advertise is
                      a relay's, any other a client's`;

export const EXPLAIN_USAGE = `Usage: ett explain HOST:PORT [--config FILE] [--via SHARE[,SHARE...]] [--default ACTION]

Prints which rule of the client configuration HOST:PORT matches (or "default") and the path it would
take, e.g.  rules[2] host=*.example.org → route chain: Z4UhHI1f > pnPpocwv > 9sdfJk2L
Connects to nothing, resolves nothing and does not read the key file. CIDR rules match only targets
given as IP addresses: a name is never resolved on the client.

  --config FILE       the client's TOML file
  --via, --default    as for ett client; they override the file's`;

export const UP_USAGE = `Usage: ett up [--listen HOST:PORT] [--log-level LEVEL] [--control PATH] [--metrics HOST:PORT]
              [--log-format text|json]

Quick start: runs a relay on 127.0.0.1 and a client linked to it in one process, with throwaway keys,
and prints curl commands that use it. The relay's exit accepts loopback destinations only.

  --listen HOST:PORT  the client's proxy port (default 127.0.0.1:1080)
  --log-level LEVEL   debug, info (default), warn, error or silent
  --control PATH      the control socket (\`ett status\`): default $XDG_RUNTIME_DIR/ett/ or
                      /tmp/ett-UID/, named by daemon and pid; "off" for none
  --metrics HOST:PORT serve Prometheus metrics at http://HOST:PORT/metrics (no targets, no pins)
  --log-format FMT    text (default) or json: one object per line {time, level, msg}`;

export const RUN_USAGE = `Usage: ett run [--key FILE] [--via SHARE[,SHARE...] | --config FILE | --socks IP:PORT [--socks-user NAME]]
               [--localnet CIDR]... [--strict] [--isolate [--allow-direct]] [--log-level LEVEL] -- CMD [ARGS...]

Runs CMD with a preload library (LD_PRELOAD) that sends its TCP connections through ett and answers
its name lookups itself, with addresses from 240.0.0.0/4 that stand for the names: the exit resolves
them, no DNS query leaves this machine. UDP off the machine and any DNS query are refused with a
warning. Loopback and --localnet networks go direct.

With --isolate, CMD runs instead in network, mount and pid namespaces of its own (a user namespace
where the kernel allows one, else as root) whose only way out is ett: every TCP connection to any
address and every DNS query are redirected to ett, everything else is dropped. Any binary works:
static, Go, raw system calls. CMD's own loopback stays its own.

  --via SHARE[,...]   relays to go through (needs --key): an embedded client runs for CMD's lifetime
  --config FILE       a client config (relays, routes, rules) for the embedded client
  --key FILE          the client key for --via
  --socks IP:PORT     use an ett client that is already running instead
  --socks-user NAME   its SOCKS5 username (socks_users); the password is read from ETT_SOCKS_PASSWORD
  --localnet CIDR     a network that goes direct (repeatable, or comma-separated)
  --strict            refuse to run CMD if ett run cannot intercept it (static, Go, set-user-ID)
  --isolate           run CMD where nothing leaves but through ett (needs --via or --config)
  --allow-direct      under --isolate, let rules that say direct connect outside ett
  --log-level LEVEL   ett run's log level (default: the config file's log_level, else warn)

Exit status: CMD's own (128 + N if it was killed by signal N); 127 if CMD is not found; 2 for a usage
or configuration error, or --strict refusing CMD.`;

export const TRANSPARENT_RULES_USAGE = `Usage: ett transparent-rules [--config FILE] [--transparent PORT] [--dns PORT]
                             [--router IFACE] [--uid-exclude USER] [--udp]

Prints an nftables ruleset (one table, inet ett, IPv4 and IPv6) for \`nft -f -\` that sends TCP
connections and DNS queries to a running client's --transparent and --dns ports, and drops whatever
else would leave: nothing then reaches the network but through ett. Machine mode (--uid-exclude):
every program of every user but ett's own; other outbound packets are dropped except loopback,
replies, IPv6 neighbour discovery and DHCP. Router mode (--router): the hosts on a LAN interface; the
router forwards nothing from it. Both may be given. Undo with: nft delete table inet ett

  --config FILE       the client's config file: its transparent and dns ports
  --transparent PORT  the transparent port (PORT or HOST:PORT; overrides the file's)
  --dns PORT          the DNS port (PORT or HOST:PORT; overrides the file's)
  --router IFACE      router mode: redirect the hosts on this LAN interface (e.g. eth1)
  --uid-exclude USER  machine mode: the user ett client runs as, whose own links are not redirected
  --udp               also send other UDP (to unicast addresses) to the transparent port's number,
                      carried by the rules like TCP, instead of dropping it; the client needs
                      CAP_NET_ADMIN to read each datagram's destination (it says so if it cannot)`;

export const STATUS_USAGE = `Usage: ett status [--control PATH] [--json] [--watch] [--web [--listen 127.0.0.1:PORT]]

Asks a running ett relay, client or up over its control socket what it holds now: listeners, links
(peer, address, age, bytes each way, PING round trip, streams), circuits, streams (target, route,
state, age, bytes), groups (which member serves) and refusals by reason. Without --control, the one
daemon of this user that is running is asked (with several, their sockets are listed: choose one).

  --control PATH      the daemon's control socket (printed by the daemon at start)
  --json              the status as one JSON object (schema in README, "Seeing what ett does")
  --watch             redraw every second until Ctrl-C or the daemon stops
  --web               serve the same, live, as a web page on loopback (a traffic plot per link); the
                      URL printed carries a random token, the only key to the page
  --listen ADDR:PORT  where --web listens (loopback only; default 127.0.0.1 and a free port)`;

export const RELOAD_USAGE = `Usage: ett reload [--control PATH]

Asks a running ett relay or client to re-read its config file (as SIGHUP does), and prints what
changed, one line each (a change that needs a restart says so). A bad file is refused whole (its
message on stderr, exit status 2) and the running configuration stays.

  --control PATH      the daemon's control socket (default: the only one running)`;

export const COMPLETION_USAGE = `Usage: ett completion bash|zsh

Prints a completion script for the shell named: commands, their flags, and the values of flags that take
one of a few (log levels, formats, roles). Install it with, e.g.
  ett completion bash > /etc/bash_completion.d/ett      (or: source <(ett completion bash) in ~/.bashrc)
  ett completion zsh > "\${fpath[1]}/_ett"              (then restart zsh; compinit must be on)`;

export const INVITE_USAGE = `Usage: ett invite [--uses N] [--expires DURATION] [--name LABEL] [--config FILE] [--control PATH]

On the relay's machine: prints an invite, ett://PIN@HOST:PORT?invite=TOKEN, on its first line: the
relay's share string and a one-time secret. Whoever holds it can run ett join once (or N times)
before it expires, and the relay then allows that client's key. Made through the control socket of
the running relay whose allow file the config names (or --control PATH), else written to the state
files of the stopped relay the config describes. The relay keeps only the token's SHA-256.

  --uses N            how many keys may join with it (default 1, at most 1000)
  --expires DURATION  how long it is valid: a number and s, m, h or d (default 24h, at most 30d)
  --name LABEL        the label the joined key carries in the allow file (default "invite")
  --config FILE       the relay's config file (its allow_file, key, listen, advertise, control)
  --control PATH      the running relay's control socket (default: found by its allow file)`;

export const JOIN_USAGE = `Usage: ett join INVITE --key FILE [--config FILE] [--name NAME]

Joins the relay an invite names: connects over TLS 1.3 pinned to the invite's relay key, shows the
relay the client key and the invite's token, and the relay adds the key's pin to its allow file.
Then, with --config, adds the relay to the client's config file (creating it if needed; an existing
file keeps its lines and comments) and prints what it did. Exit status 1 when the relay refuses (the
invite spent, expired or unknown, or too many failed joins from this address), 2 for a bad invite,
key or file.

  --key FILE          the client's private key (ett keygen FILE), the one the relay will allow
  --config FILE       the client's config file to write the relay into (relays.NAME, and default
                      = NAME when it has no path yet)
  --name NAME         the relay's name in the config (default "relay")`;

export const ALLOW_USAGE = `Usage: ett allow list [--config FILE] [--allow-file FILE]
       ett allow remove PIN [--config FILE] [--allow-file FILE] [--control PATH]

On the relay's machine: list prints each key of the allow file (pin, time it joined, label), one a
line; remove takes a key out. A running relay with that allow file does the removal itself and closes
that key's links at once (as a reload does); a stopped relay's file is edited.

  --config FILE       the relay's config file (its allow_file and control)
  --allow-file FILE   the allow file itself, instead of --config
  --control PATH      the running relay's control socket (default: found by its allow file)`;

/** Every command with its usage, in the order `ett help` lists them (main.ts dispatches these). */
export const COMMAND_USAGES: readonly (readonly [string, string])[] = [
  ['up', UP_USAGE],
  ['keygen', KEYGEN_USAGE],
  ['pin', PIN_USAGE],
  ['cert', CERT_USAGE],
  ['relay', RELAY_USAGE],
  ['client', CLIENT_USAGE],
  ['check-config', CHECK_CONFIG_USAGE],
  ['explain', EXPLAIN_USAGE],
  ['run', RUN_USAGE],
  ['transparent-rules', TRANSPARENT_RULES_USAGE],
  ['version', VERSION_USAGE],
  ['status', STATUS_USAGE],
  ['reload', RELOAD_USAGE],
  ['invite', INVITE_USAGE],
  ['join', JOIN_USAGE],
  ['allow', ALLOW_USAGE],
  ['completion', COMPLETION_USAGE],
];
