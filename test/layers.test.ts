// Imports run one way: a module may import its own layer and the layers below it, never above or
// beside. And the pure modules (codecs and decisions) import no Node I/O module at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url)); // dist/test/ → repo root
const src = join(root, 'src');

/** Layer rank by top directory under src/ ('' = src/*.ts: errors, limits, log). Equal ranks may not import each other. */
const RANK: Record<string, number> = {
  '': 0,
  wire: 1,
  identity: 2,
  link: 3,
  circuit: 4,
  proxy: 4,
  client: 5,
  relay: 5,
  config: 6,
  run: 6,
  observe: 6,
  cli: 7,
};

/** Pure modules: no node: imports except these value-free helpers. */
const PURE = [
  'wire/',
  'link/frame.ts',
  'link/open.ts',
  'relay/exit-policy.ts',
  'run/names.ts',
  'run/elf.ts',
  'run/dns-answer.ts',
];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

function layerOf(file: string): string {
  const rel = relative(src, file).split('/');
  return rel.length === 1 ? '' : rel[0]!;
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)) specs.push(m[1]!);
  for (const m of text.matchAll(/import\(\s*'([^']+)'\s*\)/g)) specs.push(m[1]!);
  return specs;
}

test('every layer of src/ is known to this test', () => {
  for (const f of sources(src)) assert.ok(layerOf(f) in RANK, `unknown layer for ${relative(src, f)}`);
});

test('imports run downward only', () => {
  const violations: string[] = [];
  for (const file of sources(src)) {
    const from = layerOf(file);
    for (const spec of imports(file)) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
      const to = layerOf(target);
      if (to === from) continue;
      if (!(RANK[to]! < RANK[from]!))
        violations.push(`${relative(src, file)} imports ${relative(src, target)}`);
    }
  }
  assert.deepEqual(violations, []);
});

test('pure modules import no node: modules and nothing above wire/', () => {
  const violations: string[] = [];
  for (const file of sources(src)) {
    const rel = relative(src, file);
    if (!PURE.some((p) => (p.endsWith('/') ? rel.startsWith(p) : rel === p))) continue;
    for (const spec of imports(file)) {
      if (spec.startsWith('node:') || !spec.startsWith('.')) violations.push(`${rel} imports ${spec}`);
    }
  }
  assert.deepEqual(violations, []);
});

test('the checker sees a violation when there is one', () => {
  // Guard against a regex that matches nothing: the client must be seen importing from below.
  const client = join(src, 'client', 'client.ts');
  assert.ok(imports(client).some((s) => s.startsWith('../circuit/')));
});
