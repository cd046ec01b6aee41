// The control protocol in-process: a real Unix socket, the requesting side of runtime.ts, and a reload
// callback standing in for the daemon's.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, test } from 'node:test';
import { TunnelError } from '../errors.js';
import { Census } from '../link/census.js';
import { withLimits } from '../limits.js';
import { silentLogger } from '../log.js';
import { startControl, WATCH_BUFFERED_MAX } from './control.js';
import { ensureRuntimeDir, request, watchStatus } from './runtime.js';

const dir = mkdtempSync(join(tmpdir(), 'observe-control-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const limits = withLimits({ controlLineMax: 64 });

test('status, reload lines, a refused reload with its code, and ids echoed', async () => {
  let calls = 0;
  const control = await startControl({
    path: join(dir, 'a.sock'),
    census: new Census('client'),
    limits,
    log: silentLogger,
    reload: async () => {
      if (++calls === 2) throw new TunnelError('config', 'client.toml: rules[1].action: unknown route "x"');
      return ['route b added', 'rule 3 removed'];
    },
  });
  try {
    assert.equal(statSync(control.path).mode & 0o777, 0o600);
    const s = await request(control.path, { cmd: 'status', id: 7 });
    assert.deepEqual([s.ok, s.status?.daemon, (s as { id?: number }).id], [true, 'client', 7]);
    assert.deepEqual(await request(control.path, { cmd: 'reload' }), {
      ok: true,
      lines: ['route b added', 'rule 3 removed'],
    });
    assert.deepEqual(await request(control.path, { cmd: 'reload' }), {
      ok: false,
      error: 'client.toml: rules[1].action: unknown route "x"',
      code: 'config',
    });
    // A line of exactly controlLineMax bytes is read; one more byte is not.
    const pad = (n: number): string => JSON.stringify({ cmd: 'status', pad: 'x'.repeat(n) });
    const fits = pad(64 - pad(0).length);
    assert.equal(Buffer.byteLength(fits), 64);
    assert.equal((await rawAsk(control.path, fits + '\n')).ok, true);
    const over = await rawAsk(control.path, pad(65 - pad(0).length) + '\n');
    assert.deepEqual(over, { ok: false, error: 'bad request: line over 64 bytes' });
  } finally {
    await control.close();
  }
});

test('no reload wired: the answer says so, and the connection stays usable', async () => {
  const control = await startControl({
    path: join(dir, 'b.sock'),
    census: new Census('relay'),
    limits,
    log: silentLogger,
  });
  try {
    assert.deepEqual(await request(control.path, { cmd: 'reload' }), {
      ok: false,
      error: 'reload: not available in this daemon',
    });
  } finally {
    await control.close();
  }
});

test('watch: a status every interval on one connection; anything after it, or a bad interval, is refused', async () => {
  const control = await startControl({
    path: join(dir, 'w.sock'),
    census: new Census('up'),
    limits,
    log: silentLogger,
  });
  try {
    const seen: string[] = [];
    const w = watchStatus(control.path, 250, (st) => seen.push(st.daemon));
    for (let i = 0; i < 100 && seen.length < 3; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(seen.slice(0, 3), ['up', 'up', 'up']);
    w.stop();
    await w.done;
    assert.match(
      (await rawAsk(control.path, '{"cmd":"watch","interval_ms":10}\n')).error ?? '',
      /interval_ms must be/,
    );
    const after = await rawLines(
      control.path,
      '{"cmd":"watch","interval_ms":250}\n',
      1,
      '{"cmd":"status"}\n',
    );
    assert.equal(after.at(-1), '{"ok":false,"error":"bad request: nothing may follow watch"}');
  } finally {
    await control.close();
  }
});

test('watch: a watcher that does not read is dropped once WATCH_BUFFERED_MAX bytes wait for it', async () => {
  const census = new Census('relay');
  const big = 'x'.repeat(2000);
  for (let i = 0; i < 200; i++) census.stream(new PassThrough(), `${big}${i}:443`, 'r'); // ~450 KB a status
  let dropped!: () => void;
  const droppedSeen = new Promise<void>((resolve) => (dropped = resolve));
  const log = {
    ...silentLogger,
    debug: (m: string) => (m.includes('does not read') ? dropped() : undefined),
  };
  const control = await startControl({ path: join(dir, 'slow.sock'), census, limits, log });
  try {
    const s = net.connect(control.path);
    s.on('error', () => undefined);
    s.pause(); // never reads: a paused socket does not see the close either, so the daemon's log says it
    s.write('{"cmd":"watch","interval_ms":250}\n');
    await droppedSeen; // the test times out otherwise
    s.resume();
    await new Promise<void>((resolve) => s.once('close', () => resolve()));
    assert.ok(s.bytesRead > 0 && WATCH_BUFFERED_MAX >= 1024 * 1024);
  } finally {
    await control.close();
  }
});

test('a live socket is not taken over; a stale one is replaced; close removes the file', async () => {
  const path = join(dir, 'c.sock');
  const first = await startControl({ path, census: new Census('relay'), limits, log: silentLogger });
  await assert.rejects(
    startControl({ path, census: new Census('relay'), limits, log: silentLogger }),
    /control: .* is in use by a running daemon/,
  );
  await first.close();
  assert.throws(() => statSync(path), /ENOENT/);
  writeFileSync(path, ''); // left behind by a daemon that died (here: not even a socket)
  const second = await startControl({ path, census: new Census('relay'), limits, log: silentLogger });
  assert.equal((await request(path, { cmd: 'status' })).ok, true);
  await second.close();
});

test('the runtime directory must be ours and 0700', () => {
  const ok = join(dir, 'rt');
  ensureRuntimeDir(ok);
  assert.equal(statSync(ok).mode & 0o777, 0o700);
  const open = join(dir, 'open');
  ensureRuntimeDir(open);
  chmodSync(open, 0o755); // a directory someone made open to others is refused
  assert.throws(() => ensureRuntimeDir(open), /must be a directory owned by this user with mode 0700/);
});

/** One raw line to the socket: the first answer line, parsed. */
function rawAsk(path: string, text: string): Promise<{ ok: boolean; error?: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(path);
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      got += d;
      const nl = got.indexOf('\n');
      if (nl >= 0) {
        s.destroy();
        resolve(JSON.parse(got.slice(0, nl)) as { ok: boolean; error?: string });
      }
    });
    s.on('error', reject);
    s.write(text);
  });
}

/** Sends `first`, waits for n answer lines, sends `then`, and returns every line until the close. */
function rawLines(path: string, first: string, n: number, then: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const s = net.connect(path);
    let got = '';
    let sent = false;
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      got += d;
      if (!sent && got.split('\n').length > n) {
        sent = true;
        s.write(then);
      }
    });
    s.on('close', () => resolve(got.split('\n').filter((l) => l !== '')));
    s.on('error', reject);
    s.write(first);
  });
}

test("a daemon's own commands: their fields in an ok answer, a TunnelError's code, and other names still unknown", async () => {
  const control = await startControl({
    path: join(dir, 'cmds.sock'),
    census: new Census('relay'),
    limits,
    log: silentLogger,
    commands: {
      echo: (req) => Promise.resolve({ got: req['x'], ok: false }),
      fail: () => Promise.reject(new TunnelError('config', 'not in allow.json')),
    },
  });
  try {
    assert.deepEqual(await request(control.path, { cmd: 'echo', x: 3, id: 'a' }), {
      got: 3,
      ok: true,
      id: 'a',
    });
    assert.deepEqual(await request(control.path, { cmd: 'fail' }), {
      ok: false,
      error: 'not in allow.json',
      code: 'config',
    });
    assert.deepEqual(await request(control.path, { cmd: 'toString' }), {
      ok: false,
      error: 'bad request: unknown cmd "toString"',
    });
  } finally {
    await control.close();
  }
});
