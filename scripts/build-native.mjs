// Builds ett's native parts with the machine's C compiler into dist/native/:
//   libett-run.so    ett run's preload library (native/*.c)
//   ett-isolate      the namespace side of ett run --isolate (native/isolate/helper.c)
//   ett-native.node  the system calls Node lacks: SO_ORIGINAL_DST, SCM_RIGHTS (native/isolate/addon.c),
//                    compiled against the headers that come with this Node
//   ett-mem.node     the daemons' give-back after a load: V8's LowMemoryNotification, glibc's malloc_trim
//                    (native/mem/addon.cc, C++ for V8's API), likewise against Node's headers
// Never fails the install: a part that cannot be built leaves UNAVAILABLE-<part> with the reason, which
// ett prints where that part is needed. CC picks the compiler (default cc); ETT_NATIVE_OUT another
// output directory (tests use it); CXX the C++ compiler for ett-mem.node (default c++).
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
function build(part, marker, args, what, compiler = cc, language = 'C') {
  rmSync(join(out, marker), { force: true });
  const r = spawnSync(compiler, args, { encoding: 'utf8', timeout: 120_000 });
  if (r.error || r.status !== 0) {
    const why = r.error
      ? `the ${language} compiler \`${compiler}\` could not be run (${r.error.code ?? r.error.message})`
      : `\`${compiler}\` failed (exit ${r.status}) building ${part}: ${r.stderr.trim().split('\n').slice(0, 5).join(' / ')}`;
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
  writeFileSync(join(out, 'UNAVAILABLE-mem'), why + '\n');
  console.warn(`ett: ett run --isolate and the transparent port will be unavailable: ${why}`);
  console.warn(`ett: giving memory back after a load will be unavailable: ${why}`);
} else {
  build(
    'ett-mem.node',
    'UNAVAILABLE-mem',
    [
      '-shared',
      '-fPIC',
      '-std=c++17',
      ...flags,
      // V8's headers as system headers: their unused parameters are not ett's warnings
      '-isystem',
      headers,
      '-o',
      join(out, 'ett-mem.node'),
      join(src, 'mem', 'addon.cc'),
    ],
    'giving memory back after a load',
    process.env.CXX || 'c++',
    'C++',
  );
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
