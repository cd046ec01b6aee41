// Where the preload library is: built by `npm install` (scripts/build-native.mjs) into dist/native/.
// Without a C compiler the install still succeeds and leaves the reason beside it, for `ett run` to
// say.

import { readFile, access } from 'node:fs/promises';
import { constants } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** dist/native/ (this file is dist/src/run/library.js). */
export const NATIVE_DIR = fileURLToPath(new URL('../../native/', import.meta.url));
export const LIBRARY = NATIVE_DIR + 'libett-run.so';
export const UNAVAILABLE = NATIVE_DIR + 'UNAVAILABLE';

/** The library's path, or a sentence saying why there is none. */
export async function findLibrary(): Promise<{ path: string } | { why: string }> {
  try {
    await access(LIBRARY, constants.R_OK);
    return { path: LIBRARY };
  } catch {
    const why = await readFile(UNAVAILABLE, 'utf8').catch(() => 'it was not built');
    return {
      why:
        `ett run is unavailable: its preload library (${LIBRARY}) is missing: ${why.trim()}. ` +
        `Install a C compiler (e.g. apt-get install gcc) and run \`npm run build\` in ett's directory.`,
    };
  }
}
