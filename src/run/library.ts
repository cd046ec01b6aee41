// Where the preload library is: built by `npm install` (scripts/build-native.mjs) into dist/native/.
// Without a C compiler the install still succeeds and leaves the reason beside it, for `ett run` to
// say.

import { readFile, access } from 'node:fs/promises';
import { constants } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/native/ (this file is dist/src/run/library.js). */
export const NATIVE_DIR = fileURLToPath(new URL('../../native/', import.meta.url));
/** The script that builds it, in ett's own directory (a checkout or an installed package alike). */
const BUILD_SCRIPT = fileURLToPath(new URL('../../../scripts/build-native.mjs', import.meta.url));

/** The library's path in dir, or a sentence saying why there is none (the build's reason if it left one). */
export async function findLibrary(dir = NATIVE_DIR): Promise<{ path: string } | { why: string }> {
  const library = path.join(dir, 'libett-run.so');
  try {
    await access(library, constants.R_OK);
    return { path: library };
  } catch {
    const why = await readFile(path.join(dir, 'UNAVAILABLE'), 'utf8').catch(() => 'it was not built');
    return {
      why:
        `ett run is unavailable: its preload library (${library}) is missing: ${why.trim()}. ` +
        `Install a C compiler (e.g. apt-get install gcc) and run \`node ${BUILD_SCRIPT}\`.`,
    };
  }
}
