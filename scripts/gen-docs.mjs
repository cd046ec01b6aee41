// Writes the man pages ett(1) and ett.toml(5) into dist/man, from the compiled usage texts and config
// keys (dist/src/cli/man.js) and the limits' doc comments in src/limits.ts. Run by `npm run build`
// after tsc; package.json's "man" field installs them with `npm install -g`.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { commandDocs } = await import(join(root, 'dist/src/cli/docs.js'));
const { commandsPage, configPage, limitTextsFrom } = await import(join(root, 'dist/src/cli/man.js'));
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const limits = limitTextsFrom(readFileSync(join(root, 'src/limits.ts'), 'utf8'));

const out = join(root, 'dist/man');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'ett.1'), commandsPage(commandDocs(), version));
writeFileSync(join(out, 'ett.toml.5'), configPage(version, limits));
