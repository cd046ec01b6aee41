// npm's `prepare` script: runs on `npm install` / `npm ci` in a checkout and on `npm pack`.
// - TypeScript installed (a plain `npm install`): the full build, `npm run build` (dist/ from scratch).
// - TypeScript absent (`npm install --omit=dev`) and dist/ already built: keeps dist/, builds only the
//   native parts, and says so.
// - TypeScript absent and no dist/: fails (exit 1) saying how to get a built ett.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let typescript = true;
try {
  createRequire(join(root, 'package.json')).resolve('typescript');
} catch {
  typescript = false;
}

if (typescript) {
  // npm sets npm_execpath to its own CLI in lifecycle scripts; run the same npm.
  const npm = process.env.npm_execpath;
  const r = npm
    ? spawnSync(process.execPath, [npm, 'run', 'build'], { cwd: root, stdio: 'inherit' })
    : spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  process.exit(r.status ?? 1);
} else if (existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))) {
  console.warn('ett: TypeScript is not installed (devDependencies omitted): keeping the built dist/;');
  console.warn('ett: building the native parts only');
  await import('./build-native.mjs');
} else {
  console.error(
    [
      'ett: cannot build: TypeScript is not installed (npm install --omit=dev?) and dist/ is not built.',
      'ett: either install with the devDependencies and drop them after the build:',
      'ett:   npm ci && npm prune --omit=dev',
      'ett: or install the packed package, which carries dist/ (built where `npm pack` ran):',
      'ett:   npm pack && npm install -g ./ett-*.tgz',
    ].join('\n'),
  );
  process.exit(1);
}
