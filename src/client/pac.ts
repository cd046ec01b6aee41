// A proxy auto-config file (PAC, FindProxyForURL) that follows the client's routing rules where a
// browser can: a target that a `direct` rule (or a `direct` default) sends past the relays is "DIRECT";
// every other one goes to this client's port ("PROXY host:port"), where ett itself decides — routes,
// groups, and `block` too, which ett refuses with a page that says why.
//
// The script never resolves a name (no dnsResolve, isInNet, isResolvable: each is a DNS query the
// browser would make in the clear). A rule the script cannot decide exactly for a URL is left to ett:
// a CIDR rule and an IPv6 literal, a port rule and a scheme with no known default port. Rules are
// tried in order, as ett tries them, so the first undecidable one sends the URL to ett.
//
// Pure: no I/O. The script is ES5 (what every browser's PAC engine runs), its rules embedded as JSON.

import type { Action, RoutingTable, Rule } from './rules.js';

/** A rule as the script sees it: `d` 1 for direct; hosts as [kind, text]; IPv4 nets; port ranges. */
interface PacRule {
  readonly d: 0 | 1;
  readonly h?: readonly (readonly ['e' | 's' | 'g', string])[];
  /** IPv4 networks as [first address as a number, prefix]; IPv6 networks never match an IPv4 host. */
  readonly c?: readonly (readonly [number, number])[];
  readonly p?: readonly (readonly [number, number])[];
}

const isDirect = (a: Action): 0 | 1 => (a.kind === 'direct' ? 1 : 0);

function pacRule(rule: Rule): PacRule {
  const kinds = { exact: 'e', suffix: 's', glob: 'g' } as const;
  return {
    d: isDirect(rule.action),
    ...(rule.hosts && { h: rule.hosts.map((p) => [kinds[p.kind], p.text] as const) }),
    ...(rule.cidrs && {
      c: rule.cidrs
        .filter((c) => c.net.family === 4)
        .map((c) => [c.net.bytes.reduce((n, b) => n * 256 + b, 0), c.prefix] as const),
    }),
    ...(rule.ports && { p: rule.ports.map((r) => [r.low, r.high] as const) }),
  };
}

/**
 * The PAC file for `table`, sending proxied URLs to `proxy` (`127.0.0.1:1080`, `[::1]:1080`: this
 * port as the browser reached it). Never throws.
 */
export function pacScript(table: RoutingTable, proxy: string): string {
  // A rule that can only send its targets where the default sends them changes nothing; dropping them
  // from the end keeps the script small. (Not from the middle: order matters.)
  const rules = table.rules.map(pacRule);
  const fallback = isDirect(table.default);
  while (rules.length > 0 && rules.at(-1)!.d === fallback) rules.pop();
  return `// ett proxy auto-config: this client's routing rules, as far as a browser can follow them.
// DIRECT: a rule sends the target past the relays. Anything else goes to ett, which decides (and
// refuses a blocked target with a page that says why). This script resolves no names.
var ETT = ${JSON.stringify(`PROXY ${proxy}`)};
var RULES = ${JSON.stringify(rules)};
var DEFAULT = ${fallback};

function ettPort(url) {
  var m = /^([a-z][a-z0-9+.-]*):\\/\\/(?:[^\\/?#@]*@)?(\\[[^\\]]*\\]|[^:\\/?#]*)(?::([0-9]*))?/i.exec(url);
  if (!m) return -1;
  if (m[3]) return parseInt(m[3], 10);
  var s = m[1].toLowerCase();
  if (s === "http" || s === "ws") return 80;
  if (s === "https" || s === "wss") return 443;
  if (s === "ftp") return 21;
  return -1;
}

// An IPv4 address as a number, -1 for a name, -2 for anything else that could be an address.
function ettIpv4(host) {
  var m = /^(0|[1-9][0-9]{0,2})\\.(0|[1-9][0-9]{0,2})\\.(0|[1-9][0-9]{0,2})\\.(0|[1-9][0-9]{0,2})$/.exec(host);
  if (m) {
    var n = 0;
    for (var i = 1; i <= 4; i++) {
      var b = parseInt(m[i], 10);
      if (b > 255) return -2;
      n = n * 256 + b;
    }
    return n;
  }
  return /[:\\[]|^[0-9.]+$|^0x/i.test(host) ? -2 : -1;
}

function ettHost(p, host) {
  if (p[0] === "e") return host === p[1];
  if (p[0] === "s") return host === p[1] || host.slice(-p[1].length - 1) === "." + p[1];
  return new RegExp("^" + p[1].split(".").join("\\\\.").split("*").join(".+") + "$").test(host);
}

// 1: the rule matches, 0: it does not, 2: only ett can tell.
function ettMatch(r, host, port, ip) {
  var unsure = false, i, hit;
  if (r.p) {
    if (port < 0) unsure = true;
    else {
      for (hit = false, i = 0; i < r.p.length; i++) if (port >= r.p[i][0] && port <= r.p[i][1]) hit = true;
      if (!hit) return 0;
    }
  }
  if (r.h) {
    for (hit = false, i = 0; i < r.h.length; i++) if (ettHost(r.h[i], host)) hit = true;
    if (!hit) return 0;
  }
  if (r.c) {
    if (ip === -2) unsure = true;
    else {
      // A name never matches a CIDR rule: ett does not resolve names to decide.
      for (hit = false, i = 0; i < r.c.length && ip >= 0; i++) {
        var size = Math.pow(2, 32 - r.c[i][1]);
        if (Math.floor(ip / size) === Math.floor(r.c[i][0] / size)) hit = true;
      }
      if (!hit) return 0;
    }
  }
  return unsure ? 2 : 1;
}

function FindProxyForURL(url, host) {
  var h = String(host).toLowerCase().replace(/\\.$/, "");
  if (h.charAt(0) === "[") h = h.slice(1, -1);
  var port = ettPort(String(url)), ip = ettIpv4(h);
  for (var i = 0; i < RULES.length; i++) {
    var m = ettMatch(RULES[i], h, port, ip);
    if (m === 2) return ETT;
    if (m === 1) return RULES[i].d ? "DIRECT" : ETT;
  }
  return DEFAULT ? "DIRECT" : ETT;
}
`;
}
