// The shapes of the corpus entries: written by generate.ts, read by replay.test.ts. One
// declaration, so the generator and the replayer cannot drift apart. (Not a *.test.ts file:
// importing it runs no tests.)

/** What every entry has: a name for messages, and a known src/ bug that replays it as a todo. */
export interface Base {
  readonly name: string;
  readonly todo?: string;
}

export type S5Decoder = 'methods' | 'userpass' | 'request';

export interface S5Entry extends Base {
  decoder: S5Decoder;
  hex: string;
  expect: string;
  /** SOCKS5 reply byte the front-end sends (errors.ts table / RFC 1928 §6); absent for need-more. */
  reply?: number;
  /** For "ok" requests: the decoded host and command. */
  host?: string;
  command?: number;
}

export interface S4Entry extends Base {
  hex: string;
  maxLength: number;
  expect: string;
  /** SOCKS4 reply the front-end sends: 0x5b for every refusal. */
  reply?: number;
  host?: string;
  socks4a?: boolean;
}

export interface MuxEntry extends Base {
  kind: 'header' | 'decoder' | 'open';
  hex: string;
  /** decoder: chunk sizes to feed (the rest in one last chunk). */
  chunks?: number[];
  expect: string;
  /** decoder "ok": how many frames come out. */
  frames?: number;
  /** open: the mux result byte the exit answers with. */
  result?: number;
}

export interface TextEntry extends Base {
  text: string;
  expect: string;
  /** A fragment of the error message. */
  message?: string;
}

export interface IpEntry extends Base {
  text: string;
  /** parseIp's answer: canonical text, or null. */
  strict: string | null;
  /** parseIpLoose's answer. */
  loose: string | null;
}

export interface ConfigEntry extends Base {
  role: 'relay' | 'client';
  toml: string;
  expect: 'config';
  message: string;
}

export interface HttpEntry extends Base {
  /** The bytes to send, as text (JSON escapes); or `hex`. */
  raw?: string;
  hex?: string;
  /** Send a FIN after the bytes. */
  fin?: boolean;
  statuses: number[];
  closed: boolean;
  targets: string[];
}

/** A UDP datagram (wire/udp.ts): a SOCKS5 UDP request header, or a run of association records. */
export interface UdpEntry extends Base {
  kind: 'socks' | 'records';
  hex: string;
  /** records: chunk sizes to feed (the rest in one last chunk). */
  chunks?: number[];
  /** 'ok' or the TunnelError code. */
  expect: string;
  /** A fragment of the error message. */
  message?: string;
  /** ok: the datagrams that come out (records), or the payload length (socks). */
  count?: number;
}

/** A DNS message given to the DNS port (run/dns-answer.ts answerDns, run/dns-server.ts over UDP). */
export interface DnsEntry extends Base {
  hex: string;
  /** 'dropped' (no answer at all) or the answer's rcode name: NOERROR, FORMERR, NXDOMAIN, NOTIMP. */
  expect: 'dropped' | 'NOERROR' | 'FORMERR' | 'NXDOMAIN' | 'NOTIMP';
  /** The ID the answer carries. */
  id?: number;
  /** NOERROR: the one answer from a fresh table ("A 240.0.0.1", "AAAA 100::f000:1", "A 127.0.0.1"); absent for none. */
  answer?: string;
  /** The answer carries an OPT record. */
  edns?: boolean;
}
