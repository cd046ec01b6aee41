// npm's `install` script. In an installed package (from the tarball `npm pack` makes: dist/src built,
// no src/ or tsconfig.json) it builds the native parts for this machine, the one step an install from
// the tarball needs (no TypeScript, no devDependencies). In a source checkout it does nothing: `prepare`
// builds everything there right after (scripts/prepare.mjs).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const checkout = existsSync(join(root, 'tsconfig.json')) && existsSync(join(root, 'src'));
if (!checkout) await import('./build-native.mjs');
