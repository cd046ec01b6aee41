// Builds ett's native parts with the machine's C compiler into dist/native/:
//   libett-run.so    ett run's preload library (native/*.c)
//   ett-isolate      the namespace side of ett run --isolate (native/isolate/helper.c)
//   ett-native.node  the system calls Node lacks: SO_ORIGINAL_DST, SCM_RIGHTS (native/isolate/addon.c),
//                    compiled against the headers that come with this Node
// Never fails the install: a part that cannot be built leaves UNAVAILABLE-<part> with the reason, which
// ett prints where that part is needed. CC picks the compiler (default cc); ETT_NATIVE_OUT another
// output directory (tests use it).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'native');
const out = process.env.ETT_NATIVE_OUT || join(root, 'dist', 'native');
mkdirSync(out, { recursive: true });
const cc = process.env.CC || 'cc';

/** Compiles one part; on failure writes its UNAVAILABLE file (UNAVAILABLE for the preload library). */
function build(part, marker, args, what) {
  rmSync(join(out, marker), { force: true });
  const r = spawnSync(cc, args, { encoding: 'utf8', timeout: 120_000 });
  if (r.error || r.status !== 0) {
    const why = r.error
      ? `the C compiler \`${cc}\` could not be run (${r.error.code ?? r.error.message})`
      : `\`${cc}\` failed (exit ${r.status}) building ${part}: ${r.stderr.trim().split('\n').slice(0, 5).join(' / ')}`;
    writeFileSync(join(out, marker), why + '\n');
    console.warn(`ett: ${what} will be unavailable: ${why}`);
  } else if (r.stderr.trim()) {
    process.stderr.write(r.stderr);
  }
}

const sources = readdirSync(src)
  .filter((f) => f.endsWith('.c') && !f.startsWith('test-'))
  .sort()
  .map((f) => join(src, f));
const flags = ['-O2', '-Wall', '-Wextra'];
build(
  'libett-run.so',
  'UNAVAILABLE',
  ['-shared', '-fPIC', ...flags, '-o', join(out, 'libett-run.so'), ...sources, '-ldl', '-lpthread'],
  'ett run',
);
build(
  'ett-isolate',
  'UNAVAILABLE-isolate',
  [...flags, '-o', join(out, 'ett-isolate'), join(src, 'isolate', 'helper.c')],
  'ett run --isolate',
);
// Node's headers: <prefix>/include/node beside <prefix>/bin/node (official builds and Debian's alike).
const headers = join(dirname(process.execPath), '..', 'include', 'node');
if (!existsSync(join(headers, 'node_api.h'))) {
  const why = `Node's headers (node_api.h) are not in ${headers}`;
  writeFileSync(join(out, 'UNAVAILABLE-addon'), why + '\n');
  console.warn(`ett: ett run --isolate and the transparent port will be unavailable: ${why}`);
} else {
  build(
    'ett-native.node',
    'UNAVAILABLE-addon',
    [
      '-shared',
      '-fPIC',
      ...flags,
      `-I${headers}`,
      '-o',
      join(out, 'ett-native.node'),
      join(src, 'isolate', 'addon.c'),
      join(src, 'isolate', 'conntrack.c'),
    ],
    'ett run --isolate and the transparent port',
  );
}
