// Replays the checked-in bad-input corpus (test/corpus/*.json, written by generate.ts): one test per
// file, one assertion per entry, each message naming the entry. Entries marked `todo` are known bugs in
// src/ and run as node:test todos. HTTP heads go to a real mixed port on 127.0.0.1, which must keep
// serving after every entry.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import {
  directDialer,
  startEchoOrigin,
  startPort,
  type RecordingDialer,
} from '../../src/client/front-end-harness.test.js';
import type { MixedPort } from '../../src/client/mixed-port.js';
import { parseHostPattern } from '../../src/client/rules.js';
import { loadClientSettings, loadRelaySettings } from '../../src/config/load.js';
import { ERROR_TABLE, TunnelError, type ErrorCode } from '../../src/errors.js';
import { FrameDecoder, MAX_DATA_PAYLOAD, decodeHeader } from '../../src/link/frame.js';
import { decodeOpen } from '../../src/link/open.js';
import { decodeSocksUdp, RecordSplitter } from '../../src/wire/udp.js';
import { parseExitRule } from '../../src/relay/exit-policy.js';
import { parseTarget } from '../../src/wire/address.js';
import { formatIp, parseIp, parseIpLoose } from '../../src/wire/ip.js';
import { normalizePin, parseShareString } from '../../src/wire/share-string.js';
import { decodeSocks4Request } from '../../src/wire/socks4.js';
import { decodeMethodSelection, decodeRequest, decodeUserPassRequest } from '../../src/wire/socks5.js';
import type {
  Base,
  ConfigEntry,
  HttpEntry,
  IpEntry,
  MuxEntry,
  S4Entry,
  S5Entry,
  TextEntry,
  UdpEntry,
} from './entries.js';

// dist/test/corpus -> test/corpus (the JSON is data, not compiled)
const CORPUS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'corpus');

function load<E extends Base>(file: string): E[] {
  const doc = JSON.parse(readFileSync(join(CORPUS, file), 'utf8')) as { entries: E[] };
  assert.ok(doc.entries.length > 0, `${file} has entries`);
  return doc.entries;
}

/** Runs `check` on every entry; todo entries become node:test todos of their own. */
function replay<E extends Base>(file: string, check: (e: E, say: string) => void | Promise<void>): void {
  const entries = load<E>(file);
  test(`corpus ${file}: ${entries.filter((e) => !e.todo).length} entries`, async () => {
    // Every entry runs; the failures are reported together, each naming its entry.
    const failures: string[] = [];
    for (const e of entries) {
      if (e.todo) continue;
      try {
        await check(e, `${file}: ${e.name}`);
      } catch (err) {
        failures.push(err instanceof Error ? err.message : String(err));
      }
    }
    assert.equal(
      failures.length,
      0,
      `${failures.length} of ${entries.length} entries failed:\n${failures.join('\n')}`,
    );
  });
  for (const e of entries.filter((x) => x.todo)) {
    test(`corpus ${file}: ${e.name}`, { todo: e.todo }, () => check(e, `${file}: ${e.name}`));
  }
}

const bytes = (hex: string): Buffer => Buffer.from(hex, 'hex');

/** What a call did: its value, or the TunnelError code and message it threw. Anything else fails. */
function outcome<T>(say: string, fn: () => T): { value: T } | { code: ErrorCode; message: string } {
  try {
    return { value: fn() };
  } catch (err) {
    assert.ok(err instanceof TunnelError, `${say}: threw ${String(err)}, not a TunnelError`);
    return { code: err.code, message: err.message };
  }
}

function expectCode(say: string, got: ReturnType<typeof outcome>, code: string, fragment?: string): void {
  assert.ok(
    'code' in got,
    `${say}: accepted (${JSON.stringify('value' in got ? got.value : '')}), want ${code}`,
  );
  assert.equal(got.code, code, `${say}: code ${got.code} (${got.message}), want ${code}`);
  if (fragment !== undefined) {
    assert.ok(
      got.message.includes(fragment),
      `${say}: message ${JSON.stringify(got.message)} lacks ${JSON.stringify(fragment)}`,
    );
  }
}

// ---- SOCKS5 ----------------------------------------------------------------------------------------

const S5_DECODERS = {
  methods: decodeMethodSelection,
  userpass: decodeUserPassRequest,
  request: decodeRequest,
};

replay<S5Entry>('socks5.json', (e, say) => {
  const got = outcome(say, () => S5_DECODERS[e.decoder](bytes(e.hex)));
  if (e.expect === 'need-more') {
    assert.deepEqual(got, { value: null }, `${say}: want need-more`);
  } else if (e.expect === 'ok') {
    assert.ok(
      'value' in got && got.value !== null,
      `${say}: want a decoded message, got ${JSON.stringify(got)}`,
    );
    const v = got.value.value as { command?: number; target?: { host: string } };
    if (e.command !== undefined) assert.equal(v.command, e.command, `${say}: command`);
    if (e.host !== undefined) assert.equal(v.target?.host, e.host, `${say}: host`);
  } else {
    expectCode(say, got, e.expect);
    assert.equal(ERROR_TABLE[e.expect as ErrorCode].socks5, e.reply, `${say}: SOCKS5 reply byte`);
  }
});

// ---- SOCKS4 ----------------------------------------------------------------------------------------

replay<S4Entry>('socks4.json', (e, say) => {
  const got = outcome(say, () => decodeSocks4Request(bytes(e.hex), e.maxLength));
  if (e.expect === 'need-more') {
    assert.deepEqual(got, { value: null }, `${say}: want need-more`);
  } else if (e.expect === 'ok') {
    assert.ok(
      'value' in got && got.value !== null,
      `${say}: want a decoded request, got ${JSON.stringify(got)}`,
    );
    assert.equal(got.value.value.target.host, e.host, `${say}: host`);
    assert.equal(got.value.value.socks4a, e.socks4a, `${say}: socks4a`);
  } else {
    expectCode(say, got, e.expect);
    assert.equal(ERROR_TABLE[e.expect as ErrorCode].socks4, e.reply, `${say}: SOCKS4 reply byte`);
  }
});

// ---- multiplexer -------------------------------------------------------------------------------------

replay<MuxEntry>('mux-frames.json', (e, say) => {
  const buf = bytes(e.hex);
  if (e.kind === 'header') {
    const got = outcome(say, () => decodeHeader(buf));
    if (e.expect === 'need-more') assert.deepEqual(got, { value: null }, `${say}: want need-more`);
    else expectCode(say, got, e.expect);
  } else if (e.kind === 'decoder') {
    const dec = new FrameDecoder(MAX_DATA_PAYLOAD);
    const got = outcome(say, () => {
      let frames = 0;
      let at = 0;
      for (const n of e.chunks ?? []) {
        frames += dec.push(buf.subarray(at, at + n)).length;
        at += n;
      }
      frames += dec.push(buf.subarray(at)).length;
      return frames;
    });
    if (e.expect === 'ok') assert.deepEqual(got, { value: e.frames }, `${say}: frames out`);
    else expectCode(say, got, e.expect);
  } else {
    const got = outcome(say, () => decodeOpen(buf));
    expectCode(say, got, e.expect);
    assert.equal(ERROR_TABLE[e.expect as ErrorCode].mux, e.result, `${say}: mux result byte`);
  }
});

// ---- UDP ---------------------------------------------------------------------------------------------

replay<UdpEntry>('udp.json', (e, say) => {
  const buf = bytes(e.hex);
  const got = outcome(say, () => {
    if (e.kind === 'socks') return decodeSocksUdp(buf).data.length;
    const splitter = new RecordSplitter();
    let n = 0;
    let at = 0;
    for (const c of e.chunks ?? []) {
      n += splitter.push(buf.subarray(at, at + c)).length;
      at += c;
    }
    return n + splitter.push(buf.subarray(at)).length;
  });
  if (e.expect === 'ok') assert.deepEqual(got, { value: e.count }, `${say}: want ${e.count}`);
  else expectCode(say, got, e.expect, e.message);
});

// ---- text parsers ------------------------------------------------------------------------------------

const textReplay = (file: string, parse: (text: string, e: TextEntry) => unknown): void =>
  replay<TextEntry>(file, (e, say) => {
    const got = outcome(say, () => parse(e.text, e));
    if (e.expect === 'ok') assert.ok('value' in got, `${say}: want accepted, got ${JSON.stringify(got)}`);
    else expectCode(say, got, e.expect, e.message);
  });

textReplay('share-strings.json', (t, e) =>
  e.name.startsWith('normalizePin') ? normalizePin(t) : parseShareString(t),
);
textReplay('targets.json', parseTarget);
textReplay('exit-rules.json', parseExitRule);
textReplay('host-patterns.json', parseHostPattern);

replay<IpEntry>('ip-literals.json', (e, say) => {
  const strict = parseIp(e.text);
  const loose = parseIpLoose(e.text);
  assert.equal(strict && formatIp(strict), e.strict, `${say}: parseIp`);
  assert.equal(loose && formatIp(loose), e.loose, `${say}: parseIpLoose`);
});

// ---- config files ------------------------------------------------------------------------------------

describe('config corpus', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ett-corpus-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));
  replay<ConfigEntry>('config.json', async (e, say) => {
    const file = join(dir, 'ett.toml');
    await writeFile(file, e.toml, { mode: 0o600 });
    const load = e.role === 'relay' ? loadRelaySettings : loadClientSettings;
    let got: unknown;
    try {
      got = await load(new Map(), file);
    } catch (err) {
      got = err;
    }
    assert.ok(
      got instanceof TunnelError,
      `${say}: want a TunnelError, got ${got instanceof Error ? got.stack : JSON.stringify(got)}`,
    );
    assert.equal(got.code, e.expect, `${say}: code`);
    const want = e.message.replace('$FILE', file);
    assert.ok(
      got.message.includes(want),
      `${say}: message ${JSON.stringify(got.message)} lacks ${JSON.stringify(want)}`,
    );
  });
});

// ---- HTTP heads at a real mixed port -------------------------------------------------------------------

interface Exchange {
  statuses: number[];
  closed: boolean;
}

/**
 * Sends `data` on a new connection and reads responses (status line, headers, Content-Length body) until
 * `want` complete responses arrived and, if `waitClose`, the connection closed; or until `ms` pass.
 */
async function exchange(
  port: number,
  data: Buffer,
  fin: boolean,
  want: number,
  waitClose: boolean,
  ms = 3000,
): Promise<Exchange> {
  const bodiless = data.subarray(0, 5).toString('latin1') === 'HEAD '; // answers to HEAD carry no body
  const sock = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await once(sock, 'connect');
  let buf = Buffer.alloc(0);
  let closed = false;
  const statuses: number[] = [];
  const parse = (): void => {
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      if (m === null) {
        statuses.push(-1); // not an HTTP response: fails the comparison
        buf = Buffer.alloc(0);
        return;
      }
      let used: number;
      if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
        const last = buf.indexOf('\r\n0\r\n\r\n', end + 2);
        if (last < 0) return;
        used = last + 7;
      } else {
        const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        used = end + 4 + (cl && !bodiless ? Number(cl[1]) : 0);
        if (buf.length < used) return;
      }
      statuses.push(Number(m[1]));
      buf = buf.subarray(used);
    }
  };
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    const check = (): void => {
      if (statuses.length >= want && (closed || !waitClose)) {
        clearTimeout(timer);
        resolve();
      }
    };
    sock.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      parse();
      check();
    });
    sock.on('error', () => undefined); // a reset after the answer counts as closed
    sock.on('end', () => {
      closed = true;
      clearTimeout(timer);
      resolve();
    });
    sock.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve();
    });
    check();
  });
  sock.write(data, () => undefined);
  if (fin) sock.end();
  await done;
  sock.destroy();
  return { statuses, closed };
}

describe('http-head corpus at a mixed port', () => {
  let origin: Awaited<ReturnType<typeof startEchoOrigin>>;
  let port: MixedPort;
  let dialer: RecordingDialer;
  before(async () => {
    origin = await startEchoOrigin();
    dialer = directDialer();
    port = await startPort(dialer);
  });
  after(async () => {
    await port.close();
    await origin.close();
  });
  replay<HttpEntry>('http-head.json', async (e, say) => {
    const fill = (s: string): string => s.replaceAll('{origin}', String(origin.port));
    const data = e.hex !== undefined ? bytes(e.hex) : Buffer.from(fill(e.raw ?? ''), 'latin1');
    dialer.targets.length = 0;
    const got = await exchange(port.address.port, data, e.fin ?? false, e.statuses.length, e.closed);
    assert.deepEqual(got.statuses, e.statuses, `${say}: statuses`);
    if (e.closed) assert.ok(got.closed, `${say}: the port must close the connection`);
    assert.deepEqual(
      dialer.targets.map((t) => `${t.host}:${t.port}`),
      e.targets.map(fill),
      `${say}: dialed targets`,
    );
    // The port keeps serving: a good request on a new connection gets its 200.
    const health = Buffer.from(`GET http://echo.test:${origin.port}/health HTTP/1.1\r\nHost: x\r\n\r\n`);
    const ok = await exchange(port.address.port, health, false, 1, false);
    assert.deepEqual(ok.statuses, [200], `${say}: the port still serves afterwards`);
  });
});
