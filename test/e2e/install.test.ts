// Installing ett as a real tool (issue 15 §3), with the real npm:
// - the packed tarball installs as README says (`npm install -g`, here into a temp prefix) with no
//   devDependencies (no TypeScript), builds the native parts at install, and its `ett` runs (`--version`, `keygen`); one install, from the registry or npm's cache
//   (skipped with a message when the registry cannot be reached: nothing else can supply the
//   dependencies). Slow-ish: a few seconds here, up to a minute or two on a cold cache.
// - scripts/prepare.mjs without TypeScript (`npm install --omit=dev` in a checkout): keeps a built
//   dist/ and builds only the native parts, or fails saying how to get a built ett;
//   scripts/install.mjs builds the native parts in an installed package and nothing in a checkout.

import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { CHILD_ENV, Cleanup, REPO_ROOT, tempDir } from '../support/proc.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(file: string, args: string[], cwd: string, timeoutMs: number): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd, env: CHILD_ENV, timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const hasNpm = spawnSync('npm', ['--version'], { env: CHILD_ENV }).status === 0;
const hasCc = spawnSync('sh', ['-c', 'command -v cc'], { env: CHILD_ENV }).status === 0;
const exists = (p: string): Promise<boolean> =>
  fs.access(p).then(
    () => true,
    () => false,
  );

test(
  'npm pack, then npm install --omit=dev of the tarball: no TypeScript, native built, ett runs',
  { timeout: 300_000, skip: hasNpm ? false : 'npm is not on PATH' },
  async (t) => {
    const dir = await tempDir(cleanup);
    // --ignore-scripts: pack's `prepare` would rebuild dist/ from scratch, under this very test (which
    // runs from dist/); dist/ is already built (npm test builds first), and that is what is packed.
    const pack = await run(
      'npm',
      ['pack', '--ignore-scripts', '--pack-destination', dir],
      REPO_ROOT,
      120_000,
    );
    assert.equal(pack.code, 0, pack.stderr);
    const version = (
      JSON.parse(await fs.readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }
    ).version;
    const tgz = path.join(dir, `ett-${version}.tgz`);
    assert.ok(await exists(tgz), `npm pack wrote ${tgz}: ${pack.stdout}`);

    const prefix = path.join(dir, 'prefix');
    // -g --prefix: README's `npm install -g`, into a temp prefix. --allow-scripts=ett: npm releases
    // that block a package's install scripts by default would skip the native build otherwise (README
    // says the same; npm takes the flag for global installs only). Older npm ignores it.
    const install = await run(
      'npm',
      [
        'install',
        '-g',
        '--prefix',
        prefix,
        '--omit=dev',
        '--prefer-offline',
        '--allow-scripts=ett',
        '--no-audit',
        '--no-fund',
        tgz,
      ],
      dir,
      240_000,
    );
    if (
      install.code !== 0 &&
      /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ENETUNREACH|ENOTCACHED/.test(install.stderr)
    ) {
      t.skip(`the npm registry cannot be reached for ett's dependencies: ${install.stderr.split('\n')[0]}`);
      return;
    }
    assert.equal(install.code, 0, install.stderr);

    const pkg = path.join(prefix, 'lib', 'node_modules', 'ett');
    assert.equal(await exists(path.join(pkg, 'node_modules', 'typescript')), false, 'no devDependencies');
    assert.ok(await exists(path.join(pkg, 'node_modules', 'smol-toml')), 'the dependencies');
    assert.equal(await exists(path.join(pkg, 'src')), false, 'the tarball carries dist/, not the TypeScript');
    assert.equal(await exists(path.join(pkg, 'dist', 'src', 'cli', 'cli.test.js')), false, 'no tests packed');
    assert.ok(await exists(path.join(pkg, 'systemd', 'ett-relay.service')), 'the systemd units are packed');
    const native = path.join(pkg, 'dist', 'native');
    if (hasCc)
      assert.ok(await exists(path.join(native, 'libett-run.so')), `built at install: ${install.stderr}`);
    else assert.ok(await exists(path.join(native, 'UNAVAILABLE')), 'no compiler: the reason is left');

    const ett = path.join(prefix, 'bin', 'ett');
    const v = await run(ett, ['--version'], dir, 20_000);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, new RegExp(`^ett ${version.replace(/\./g, '\\.')} \\(Node `));
    const key = path.join(dir, 'relay.key');
    const k = await run(ett, ['keygen', key], dir, 20_000);
    assert.equal(k.code, 0, k.stderr);
    assert.match(k.stdout, /^[A-Za-z0-9+/]{43}=\n$/);
    assert.equal((await fs.stat(key)).mode & 0o777, 0o600);
  },
);

/** A copy of what the lifecycle scripts see: package.json, scripts/, native/, and a checkout's marks. */
async function tree(kind: 'checkout' | 'package', built: boolean): Promise<string> {
  const dir = await tempDir(cleanup);
  await fs.copyFile(path.join(REPO_ROOT, 'package.json'), path.join(dir, 'package.json'));
  await fs.cp(path.join(REPO_ROOT, 'scripts'), path.join(dir, 'scripts'), { recursive: true });
  await fs.cp(path.join(REPO_ROOT, 'native'), path.join(dir, 'native'), { recursive: true });
  if (kind === 'checkout') {
    await fs.writeFile(path.join(dir, 'tsconfig.json'), '{}\n');
    await fs.mkdir(path.join(dir, 'src'));
  }
  if (built) {
    await fs.mkdir(path.join(dir, 'dist', 'src', 'cli'), { recursive: true });
    await fs.writeFile(path.join(dir, 'dist', 'src', 'cli', 'main.js'), '// built\n');
  }
  return dir;
}

function typescriptFrom(dir: string): boolean {
  try {
    createRequire(path.join(dir, 'package.json')).resolve('typescript');
    return true;
  } catch {
    return false;
  }
}

const nativeBuilt = (dir: string): Promise<boolean> =>
  exists(path.join(dir, 'dist', 'native', hasCc ? 'libett-run.so' : 'UNAVAILABLE'));

test('prepare without TypeScript: a built dist/ is kept and native parts built; none: a clear failure', async (t) => {
  const built = await tree('checkout', true);
  if (typescriptFrom(built)) {
    t.skip(`typescript resolves from ${built} (a global install?): cannot test its absence`);
    return;
  }
  const ok = await run(process.execPath, [path.join(built, 'scripts', 'prepare.mjs')], built, 120_000);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /TypeScript is not installed .*keeping the built dist\//);
  assert.ok(await nativeBuilt(built));
  assert.equal(await fs.readFile(path.join(built, 'dist', 'src', 'cli', 'main.js'), 'utf8'), '// built\n');

  const bare = await tree('checkout', false);
  const no = await run(process.execPath, [path.join(bare, 'scripts', 'prepare.mjs')], bare, 60_000);
  assert.equal(no.code, 1);
  assert.match(no.stderr, /cannot build: TypeScript is not installed .*dist\/ is not built/);
  assert.match(no.stderr, /npm ci && npm prune --omit=dev/);
  assert.match(no.stderr, /npm pack && npm install -g \.\/ett-\*\.tgz/);
});

test('install script: native parts built in an installed package, nothing in a checkout', async () => {
  const pkg = await tree('package', true);
  const a = await run(process.execPath, [path.join(pkg, 'scripts', 'install.mjs')], pkg, 120_000);
  assert.equal(a.code, 0, a.stderr);
  assert.ok(await nativeBuilt(pkg));
  const checkout = await tree('checkout', true);
  const b = await run(process.execPath, [path.join(checkout, 'scripts', 'install.mjs')], checkout, 60_000);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(await exists(path.join(checkout, 'dist', 'native')), false, 'prepare builds it there');
});
