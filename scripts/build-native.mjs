// Builds ett run's preload library (native/*.c) with the machine's C compiler into dist/native/.
// Never fails the install: without a compiler (or if it fails) it writes dist/native/UNAVAILABLE with
// the reason, which `ett run` prints. CC picks the compiler (default cc); ETT_NATIVE_OUT another output
// directory (tests use it).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'native');
const out = process.env.ETT_NATIVE_OUT || join(root, 'dist', 'native');
mkdirSync(out, { recursive: true });
rmSync(join(out, 'UNAVAILABLE'), { force: true });

const cc = process.env.CC || 'cc';
const sources = readdirSync(src)
  .filter((f) => f.endsWith('.c') && !f.startsWith('test-'))
  .sort()
  .map((f) => join(src, f));
const args = ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-o', join(out, 'libett-run.so'), ...sources];
const r = spawnSync(cc, [...args, '-ldl', '-lpthread'], { encoding: 'utf8', timeout: 120_000 });
if (r.error || r.status !== 0) {
  const why = r.error
    ? `the C compiler \`${cc}\` could not be run (${r.error.code ?? r.error.message})`
    : `\`${cc}\` failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(0, 5).join(' / ')}`;
  writeFileSync(join(out, 'UNAVAILABLE'), why + '\n');
  console.warn(`ett: ett run will be unavailable: ${why}`);
} else if (r.stderr.trim()) {
  process.stderr.write(r.stderr);
}
