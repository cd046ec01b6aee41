// The preload library's C side: test-addr.c checks addr.c with byte vectors (built here with the
// machine's C compiler), and the install's build script says why when there is no compiler.

import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { loadMemAddon } from '../../src/cli/memory.js';
import { findLibrary } from '../../src/run/library.js';
import { Cleanup, REPO_ROOT, tempDir } from '../support/proc.js';

const cleanup = new Cleanup();
after(() => cleanup.run());
const NATIVE = path.join(REPO_ROOT, 'native');
const NO_CC = spawnSync('cc', ['--version']).status === 0 ? false : 'no C compiler (cc) on this machine';

/** Runs the install's native build into `dir` with `env` added (a compiler that does not exist), within `timeout` ms. */
function buildNative(dir: string, env: Record<string, string>, timeout: number): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'build-native.mjs')], {
    encoding: 'utf8',
    timeout,
    env: { ...process.env, ...env, ETT_NATIVE_OUT: dir },
  });
}

describe('preload library, C side', () => {
  test(
    'test-addr.c: address folding, local networks, name range, SOCKS5 bytes',
    { skip: NO_CC },
    async (t) => {
      const dir = await tempDir(cleanup);
      const exe = path.join(dir, 'test-addr');
      const cc = spawnSync(
        'cc',
        [
          '-Wall',
          '-Wextra',
          '-Werror',
          '-o',
          exe,
          path.join(NATIVE, 'test-addr.c'),
          path.join(NATIVE, 'addr.c'),
        ],
        { encoding: 'utf8', timeout: 60_000 },
      );
      assert.equal(cc.status, 0, cc.stderr);
      const r = spawnSync(exe, [], { encoding: 'utf8', timeout: 10_000 });
      t.diagnostic(r.stdout.trim());
      assert.equal(r.status, 0, r.stdout);
      assert.match(r.stdout, /^ok \d+ checks, 0 failed$/m);
    },
  );

  test('the whole library compiles without a warning', { skip: NO_CC }, async () => {
    const dir = await tempDir(cleanup);
    const sources = ['addr.c', 'hosts.c', 'names.c', 'preload.c', 'resolve.c'].map((f) =>
      path.join(NATIVE, f),
    );
    const cc = spawnSync(
      'cc',
      [
        '-shared',
        '-fPIC',
        '-Wall',
        '-Wextra',
        '-Werror',
        '-o',
        path.join(dir, 'lib.so'),
        ...sources,
        '-ldl',
        '-lpthread',
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(cc.status, 0, cc.stderr);
  });

  test('without a compiler the install still succeeds, and ett run says why it is unavailable', async () => {
    const dir = await tempDir(cleanup);
    const r = buildNative(dir, { CC: '/nonexistent/cc' }, 60_000);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stderr,
      /ett run will be unavailable: the C compiler `\/nonexistent\/cc` could not be run \(ENOENT\)/,
    );
    assert.match(await readFile(path.join(dir, 'UNAVAILABLE'), 'utf8'), /could not be run/);
    const found = await findLibrary(dir);
    assert.ok('why' in found);
    assert.match(found.why, /ett run is unavailable: .*could not be run \(ENOENT\)\. Install a C compiler/);
  });

  test('without a C++ compiler the install still succeeds, and the memory give-back says why it is off', async () => {
    const dir = await tempDir(cleanup);
    const r = buildNative(dir, { CXX: '/nonexistent/c++' }, 120_000);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stderr,
      /giving memory back after a load will be unavailable: the C\+\+ compiler `\/nonexistent\/c\+\+` could not be run \(ENOENT\)/,
    );
    const found = loadMemAddon(dir);
    assert.ok('why' in found);
    assert.match(found.why, /ett-mem\.node is missing: the C\+\+ compiler .*could not be run \(ENOENT\)$/);
  });
});
