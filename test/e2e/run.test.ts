// `ett run` on loopback with real programs, against a recording SOCKS5 server standing in for the ett
// client (--socks): what the library sends (the name, byte for byte, never an address resolved here),
// what goes direct, exit statuses, and the warnings for programs it cannot intercept. Only loopback is
// ever dialled: the recording server relays every CONNECT to a local HTTP target whatever it names.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, copyFile, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Cleanup, keygen, runEtt, tempDir } from '../support/proc.js';
import { startHttpTarget, testBody, sha256, type HttpTarget } from '../support/servers.js';

interface Request {
  readonly atyp: number;
  readonly host: string;
  readonly port: number;
}

/**
 * A SOCKS5 server that records each CONNECT, refuses "refuse.test" (0x02), relays the rest to port.
 * With `login`, it takes only RFC 1929 username/password (method 2) and that one pair.
 */
async function startRecorder(
  cleanup: Cleanup,
  relayTo: () => number,
  login?: { user: string; pass: string },
): Promise<{ port: number; requests: Request[]; greetings: number[][] }> {
  const requests: Request[] = [];
  const greetings: number[][] = [];
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let stage = login ? -1 : 0;
    s.on('data', function onData(chunk: Buffer) {
      buf = Buffer.concat([buf, chunk]);
      if (stage === -1 && buf.length >= 2 && buf.length >= 2 + buf[1]!) {
        const offered = [...buf.subarray(2, 2 + buf[1]!)];
        buf = buf.subarray(2 + buf[1]!);
        if (!offered.includes(2)) return void s.end(Buffer.from([5, 0xff]));
        s.write(Buffer.from([5, 2]));
        stage = -2;
      }
      if (
        stage === -2 &&
        buf.length >= 2 &&
        buf.length >= 3 + buf[1]! &&
        buf.length >= 3 + buf[1]! + buf[2 + buf[1]!]!
      ) {
        const ulen = buf[1]!;
        const plen = buf[2 + ulen]!;
        const user = buf.subarray(2, 2 + ulen).toString();
        const pass = buf.subarray(3 + ulen, 3 + ulen + plen).toString();
        buf = buf.subarray(3 + ulen + plen);
        if (user !== login!.user || pass !== login!.pass) return void s.end(Buffer.from([1, 1]));
        s.write(Buffer.from([1, 0]));
        stage = 1;
      }
      if (stage === 0 && buf.length >= 2 && buf.length >= 2 + buf[1]!) {
        greetings.push([...buf.subarray(2, 2 + buf[1]!)]);
        buf = buf.subarray(2 + buf[1]!);
        s.write(Buffer.from([5, 0]));
        stage = 1;
      }
      if (stage !== 1 || buf.length < 5) return;
      const atyp = buf[3]!;
      const alen = atyp === 1 ? 4 : atyp === 4 ? 16 : 1 + buf[4]!;
      if (buf.length < 4 + alen + 2) return;
      const raw = buf.subarray(4, 4 + alen);
      const host = atyp === 3 ? raw.subarray(1).toString('latin1') : rawIp(raw);
      const port = buf.readUInt16BE(4 + alen);
      requests.push({ atyp, host, port });
      s.off('data', onData);
      const rest = buf.subarray(4 + alen + 2);
      if (host === 'refuse.test') {
        s.end(Buffer.from([5, 2, 0, 1, 0, 0, 0, 0, 0, 0]));
        return;
      }
      const up = net.connect(relayTo(), '127.0.0.1', () => {
        s.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]));
        if (rest.length) up.write(rest);
        s.pipe(up).pipe(s);
      });
      up.on('error', () => s.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.add(() => new Promise<void>((r) => server.close(() => r())));
  server.unref();
  return { port: (server.address() as net.AddressInfo).port, requests, greetings };
}

function rawIp(raw: Buffer): string {
  return raw.length === 4 ? [...raw].join('.') : (raw.toString('hex').match(/.{4}/g) ?? []).join(':');
}

const cleanup = new Cleanup();
const body = testBody(2 * 1024 * 1024, 'ett-run');
let target: HttpTarget;
let socks: { port: number; requests: Request[]; greetings: number[][] };
let dir: string;

before(async () => {
  dir = await tempDir(cleanup);
  target = await startHttpTarget(cleanup, body);
  socks = await startRecorder(cleanup, () => target.port);
});
after(() => cleanup.run());

function ettRun(argv: string[], flags: string[] = []): ReturnType<typeof runEtt> {
  return runEtt(['run', '--socks', `127.0.0.1:${socks.port}`, ...flags, '--', ...argv], 60_000);
}

describe('ett run (loopback, against a recording SOCKS5 server)', () => {
  test('curl http://NAME/: the name goes in the SOCKS5 request (ATYP 3), the body arrives whole', async () => {
    const before = socks.requests.length;
    const r = await ettRun(['curl', '-q', '-sS', '--max-time', '30', 'http://Only-At-Exit.test:8080/']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(r.stdout), body.sha256);
    assert.deepEqual(socks.requests.slice(before), [{ atyp: 3, host: 'only-at-exit.test', port: 8080 }]);
    // Without --socks-user the run offers a login of its own (an isolation token) beside no-auth, and
    // this server, which has no logins, took no-auth.
    assert.deepEqual(socks.greetings.at(-1), [2, 0]);
  });

  test('python3 urllib (blocking sockets) the same way', async () => {
    const before = socks.requests.length;
    const script =
      'import hashlib, urllib.request, sys\n' +
      'sys.stdout.write(hashlib.sha256(urllib.request.urlopen("http://py.test:81/", timeout=30).read()).hexdigest())';
    const r = await ettRun(['python3', '-c', script]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), body.sha256);
    assert.deepEqual(socks.requests.slice(before), [{ atyp: 3, host: 'py.test', port: 81 }]);
  });

  test('a refusal at the SOCKS port reaches the program as a failed connect, with a warning', async () => {
    const r = await ettRun(['curl', '-q', '-sS', '--max-time', '30', 'http://refuse.test/']);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /ett run: refuse\.test:80: Permission denied \(through ett\)/);
  });

  test('loopback goes direct: the SOCKS server sees nothing', async () => {
    const before = socks.requests.length;
    const r = await ettRun(['curl', '-q', '-sS', '--max-time', '30', `http://127.0.0.1:${target.port}/`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(r.stdout), body.sha256);
    const local = await ettRun(['curl', '-q', '-sS', '--max-time', '30', `http://localhost:${target.port}/`]);
    assert.equal(local.code, 0, local.stderr);
    assert.equal(socks.requests.length, before);
  });

  test('names: one table for every process of the run, both ways; a stale address is refused', async () => {
    const script = [
      'getent hosts a.test',
      'getent hosts A.TEST.',
      'getent hosts b.test',
      "python3 -c \"import socket; print(socket.gethostbyaddr('240.0.0.2')[0], socket.getnameinfo(('240.0.0.1', 80), 0)[0])\"",
      'curl -q -sS --max-time 10 http://240.0.0.9/ || echo "curl $?"',
    ].join('; ');
    const r = await ettRun(['sh', '-c', script]);
    const lines = r.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/).join(' '));
    assert.deepEqual(lines, [
      '240.0.0.1 a.test',
      '240.0.0.1 A.TEST',
      '240.0.0.2 b.test',
      'b.test a.test',
      'curl 7',
    ]);
    assert.match(r.stderr, /ett run: refused a connection to 240\.0\.0\.9: no name for this address/);
  });

  test("CMD's exit status is ett run's; 128+N when killed by signal N; 127 when not found", async () => {
    assert.equal((await ettRun(['sh', '-c', 'exit 7'])).code, 7);
    assert.equal((await ettRun(['sh', '-c', 'kill -TERM $$'])).code, 143);
    const missing = await ettRun(['no-such-command-ett']);
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /ett run: no-such-command-ett: command not found/);
  });

  test("the embedded client logs at the config file's log_level; without one, warnings only", async () => {
    const dir = await tempDir(cleanup);
    const key = await keygen(dir, 'run-client');
    const base = `key = ${JSON.stringify(key.file)}\nvia = "ett://${key.pin}@127.0.0.1:9"\n`;
    const chatty = path.join(dir, 'chatty.toml');
    const plain = path.join(dir, 'plain.toml');
    await writeFile(chatty, base + 'log_level = "info"\n');
    await writeFile(plain, base);
    const info = await runEtt(['run', '--config', chatty, '--', 'true'], 60_000);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stderr, /client listening on 127\.0\.0\.1:\d+/);
    const quiet = await runEtt(['run', '--config', plain, '--', 'true'], 60_000);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stderr, '');
    const flag = await runEtt(['run', '--config', chatty, '--log-level', 'warn', '--', 'true'], 60_000);
    assert.equal(flag.code, 0, flag.stderr);
    assert.equal(flag.stderr, '', '--log-level wins over the file');
  });

  test('--socks-user: a SOCKS5 client that wants a password gets the one in ETT_SOCKS_PASSWORD; CMD does not see that variable', async () => {
    const login = { user: 'alice', pass: 's3cret pass' };
    const guarded = await startRecorder(cleanup, () => target.port, login);
    const args = (cmd: string[]): string[] => [
      'run',
      '--socks',
      `127.0.0.1:${guarded.port}`,
      '--socks-user',
      login.user,
      '--',
      ...cmd,
    ];
    const fetch = ['curl', '-q', '-sS', '--max-time', '30', 'http://guarded.test:8080/'];
    const ok = await runEtt(args(fetch), 60_000, { ETT_SOCKS_PASSWORD: login.pass });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(sha256(ok.stdout), body.sha256);
    assert.deepEqual(guarded.requests, [{ atyp: 3, host: 'guarded.test', port: 8080 }]);
    const wrong = await runEtt(args(fetch), 60_000, { ETT_SOCKS_PASSWORD: 'not it' });
    assert.notEqual(wrong.code, 0);
    assert.equal(guarded.requests.length, 1, 'a wrong password gets no request through');
    const env = await runEtt(args(['sh', '-c', 'test -z "$ETT_SOCKS_PASSWORD"']), 60_000, {
      ETT_SOCKS_PASSWORD: login.pass,
    });
    assert.equal(env.code, 0, 'CMD does not inherit ETT_SOCKS_PASSWORD');
    const none = await runEtt(args(['true']));
    assert.equal(none.code, 2);
    assert.match(none.stderr, /--socks-user needs the password in ETT_SOCKS_PASSWORD/);
  });

  test('usage mistakes: exit 2 with the reason', async () => {
    const cases: [string[], RegExp][] = [
      [['run', '--socks', '127.0.0.1:1', 'curl'], /put the command after --/],
      [['run', '--', 'true'], /say where connections go: --via SHARE, --config FILE or --socks/],
      [['run', '--socks', '127.0.0.1:1', '--via', 'x', '--', 'true'], /--socks uses a running ett client/],
      [['run', '--socks', 'localhost:1080', '--', 'true'], /--socks "localhost:1080" must be IP:PORT/],
      [
        ['run', '--socks', '127.0.0.1:1', '--localnet', '10.0.0.0/33', '--', 'true'],
        /--localnet "10.0.0.0\/33"/,
      ],
      [['run', '--socks', '127.0.0.1:1', '--log-level', 'loud', '--', 'true'], /--log-level.*"loud".*one of/],
      [['run', '--via', 'x', '--socks-user', 'u', '--', 'true'], /--socks-user goes with --socks/],
    ];
    for (const [args, why] of cases) {
      const r = await runEtt(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, why);
    }
  });
});

const NO_STATIC =
  spawnSync('cc', ['--version']).status !== 0
    ? 'no C compiler'
    : spawnSync('objcopy', ['--version']).status !== 0
      ? 'no objcopy'
      : false;

describe('ett run: programs it cannot intercept', { skip: NO_STATIC }, () => {
  let dynamic: string;
  let statically: string;
  before(async () => {
    const src = path.join(dir, 'hello.c');
    await writeFile(src, 'int main(void) { return 0; }\n');
    dynamic = path.join(dir, 'hello-dynamic');
    statically = path.join(dir, 'hello-static');
    assert.equal(spawnSync('cc', ['-o', dynamic, src]).status, 0);
    const s = spawnSync('cc', ['-static', '-o', statically, src], { encoding: 'utf8' });
    assert.equal(s.status, 0, `cc -static: ${s.stderr}`);
  });

  test('a dynamic program runs without a warning', async () => {
    const r = await ettRun([dynamic]);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, '');
  });

  test('a statically linked program: a warning, and --strict refuses it (exit 2, not run)', async () => {
    const r = await ettRun([statically]);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /ett run: warning: .*hello-static is statically linked/);
    const strict = await ettRun([statically], ['--strict']);
    assert.equal(strict.code, 2);
    assert.match(strict.stderr, /refusing to run .*hello-static \(--strict\)/);
  });

  test('a Go program (by its .go.buildinfo section) and a set-user-ID one are warned about', async () => {
    const go = path.join(dir, 'hello-go');
    const empty = path.join(dir, 'empty');
    await writeFile(empty, '');
    assert.equal(spawnSync('objcopy', ['--add-section', `.go.buildinfo=${empty}`, dynamic, go]).status, 0);
    const r = await ettRun([go]);
    assert.match(r.stderr, /ett run: warning: .*hello-go is a Go program/);
    const suid = path.join(dir, 'hello-suid');
    await copyFile(dynamic, suid);
    await chmod(suid, 0o4755);
    const s = await ettRun([suid], ['--strict']);
    assert.equal(s.code, 2);
    assert.match(s.stderr, /set-user-ID or set-group-ID: the loader ignores LD_PRELOAD/);
  });

  test('a script is judged by its interpreter', async () => {
    const script = path.join(dir, 'wrapped');
    await writeFile(script, `#!${statically}\n`, { mode: 0o755 });
    const r = await runEtt(['run', '--socks', `127.0.0.1:${socks.port}`, '--strict', '--', script]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /hello-static is statically linked/);
  });
});
