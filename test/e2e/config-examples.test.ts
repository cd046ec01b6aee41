// Every configuration example a user may copy must pass `ett check-config`: each ```toml block in
// README.md and DESIGN.md, and each file under examples/. Placeholders are resolved the way a user
// would: every key file an example names (`key = "FILE"`, not "ephemeral") is made with `ett keygen`
// beside the example, in a temporary directory. Pins and share strings must be real (canonical) in the
// examples themselves. An example must also start no warning (a copied example should be clean).

import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { Cleanup, REPO_ROOT, runEtt, tempDir } from '../support/proc.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

interface Example {
  readonly where: string;
  readonly text: string;
}

/** The ```toml blocks of a Markdown file, each named FILE:LINE of its opening fence. */
async function tomlBlocks(file: string): Promise<Example[]> {
  const lines = (await fs.readFile(path.join(REPO_ROOT, file), 'utf8')).split('\n');
  const out: Example[] = [];
  let start = -1;
  let body: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (start < 0 && /^\s*```toml\s*$/.test(line)) {
      start = i + 1;
      body = [];
    } else if (start >= 0 && /^\s*```\s*$/.test(line)) {
      out.push({ where: `${file}:${start}`, text: body.join('\n') + '\n' });
      start = -1;
    } else if (start >= 0) body.push(line);
  }
  assert.equal(start, -1, `${file}: a toml block opened at line ${start} is never closed`);
  return out;
}

async function examples(): Promise<Example[]> {
  const out = [...(await tomlBlocks('README.md')), ...(await tomlBlocks('DESIGN.md'))];
  const dir = path.join(REPO_ROOT, 'examples');
  for (const name of (await fs.readdir(dir)).sort()) {
    if (!name.endsWith('.toml')) continue;
    out.push({ where: `examples/${name}`, text: await fs.readFile(path.join(dir, name), 'utf8') });
  }
  return out;
}

/** The key files an example names: `key = "FILE"` anywhere (top level or inline in [relays]). */
function keyFiles(text: string): string[] {
  const files = new Set<string>();
  for (const m of text.matchAll(/\bkey\s*=\s*"([^"]+)"/g)) if (m[1] !== 'ephemeral') files.add(m[1]!);
  return [...files];
}

test('README, DESIGN and examples/ hold the examples this test checks', async () => {
  const all = await examples();
  assert.ok(all.filter((e) => e.where.startsWith('README.md')).length >= 3, 'README has its examples');
  assert.ok(all.filter((e) => e.where.startsWith('examples/')).length >= 3, 'examples/ has its files');
  for (const e of all) assert.ok(keyFiles(e.text).length > 0, `${e.where}: names a key file`);
});

test('every config example passes ett check-config, with no warning', { timeout: 120_000 }, async () => {
  const all = await examples();
  for (const [i, e] of all.entries()) {
    const dir = path.join(await tempDir(cleanup), `example-${i}`);
    await fs.mkdir(dir);
    for (const file of keyFiles(e.text)) {
      assert.ok(!path.isAbsolute(file) && !file.includes('..'), `${e.where}: key path ${file} is relative`);
      await fs.mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      const made = await runEtt(['keygen', path.join(dir, file)]);
      assert.equal(made.code, 0, `${e.where}: ett keygen ${file}: ${made.stderr}`);
    }
    const config = path.join(dir, 'ett.toml');
    await fs.writeFile(config, e.text);
    const r = await runEtt(['check-config', config]);
    assert.equal(r.code, 0, `${e.where}: ett check-config failed:\n${r.stderr}`);
    assert.equal(r.stderr, '', `${e.where}: warns:\n${r.stderr}`);
    assert.match(r.stdout.toString(), /key = /, `${e.where}: prints the effective configuration`);
  }
});
