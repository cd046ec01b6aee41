// The docs cannot drift: --help (run for real through bin/ett), the built man page dist/man/ett.1 and
// the flags each command's parser accepts must all name the same commands and flags; ett.toml(5) must
// name every config key and limit. Needs `npm run build` first (it writes dist/man).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { KEY_DOCS } from '../config/key-docs.js';
import { KEYS } from '../config/schema.js';
import { LIMIT_NAMES } from '../limits.js';
import { OPTIONS as CHECK_CONFIG } from './check-config.js';
import { OPTIONS as CLIENT } from './client.js';
import { commandDocs, parseUsage } from './docs.js';
import { OPTIONS as EXPLAIN } from './explain.js';
import { COMMAND_NAMES } from './main.js';
import { limitKey, limitTextsFrom, roff } from './man.js';
import { ALLOW_OPTIONS, INVITE_OPTIONS } from './invite.js';
import { JOIN_OPTIONS } from './join.js';
import { OPTIONS as RELAY } from './relay.js';
import { OPTIONS as RUN } from './run.js';
import { RELOAD_OPTIONS, STATUS_OPTIONS } from './status.js';
import { OPTIONS as TRANSPARENT_RULES } from './transparent-rules.js';
import { OPTIONS as UP } from './up.js';

function repoRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'bin', 'ett')) && existsSync(join(dir, 'package.json'))) return dir;
  }
  return process.cwd();
}
const ROOT = repoRoot();

function ett(...args: string[]): string {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'ett'), ...args], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** What each command's parseArgs accepts (commands with none: {}). */
const PARSED: Record<string, object> = {
  up: UP,
  keygen: {},
  pin: {},
  cert: {},
  relay: RELAY,
  client: CLIENT,
  'check-config': CHECK_CONFIG,
  explain: EXPLAIN,
  run: RUN,
  'transparent-rules': TRANSPARENT_RULES,
  version: {},
  status: STATUS_OPTIONS,
  reload: RELOAD_OPTIONS,
  invite: INVITE_OPTIONS,
  join: JOIN_OPTIONS,
  allow: ALLOW_OPTIONS,
  completion: {},
};

const sorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();

/** Flags in a --help text: the `  --flag` lines of its flag blocks. */
function helpFlags(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^ {2}(-[-\w]+(?:, -[-\w]+)*)/gm)) out.push(...m[1]!.split(', '));
  return sorted(out);
}

/** `.SS "ett NAME"` sections of the roff page, each with the flags of its `.TP` entries. */
function manSections(page: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let flags: string[] | undefined;
  const lines = page.split('\n');
  lines.forEach((line, i) => {
    const ss = /^\.SS "ett ([a-z-]+)"$/.exec(line);
    if (ss !== null) out.set(ss[1]!, (flags = []));
    else if (/^\.SH /.test(line)) flags = undefined;
    else if (line === '.TP' && flags !== undefined) {
      for (const m of lines[i + 1]!.matchAll(/\\fB((?:\\-|[\w])+)\\fR/g))
        flags.push(m[1]!.replace(/\\-/g, '-'));
    }
  });
  return new Map([...out].map(([k, v]) => [k, sorted(v)]));
}

test('ett help lists the commands main dispatches (and help), the man page a section for each', () => {
  const listed = sorted([...ett('help').matchAll(/^ {2}ett ([a-z-]+)/gm)].map((m) => m[1]!));
  assert.deepEqual(listed, sorted([...COMMAND_NAMES, 'help']));
  const man = manSections(readFileSync(join(ROOT, 'dist', 'man', 'ett.1'), 'utf8'));
  assert.deepEqual(sorted(man.keys()), listed);
});

test("every command's --help, its man page section and its parser name the same flags", () => {
  const man = manSections(readFileSync(join(ROOT, 'dist', 'man', 'ett.1'), 'utf8'));
  for (const name of COMMAND_NAMES) {
    const help = helpFlags(ett(name, '--help'));
    assert.deepEqual(man.get(name), help, `ett ${name}: man page vs --help`);
    const parsed = sorted(Object.keys(PARSED[name]!).map((k) => `--${k}`));
    assert.deepEqual(help, parsed, `ett ${name}: --help vs the flags its parser accepts`);
  }
});

test('the man page renders without warnings', (t) => {
  const groff = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', join(ROOT, 'dist', 'man', 'ett.1')], {
    encoding: 'utf8',
  });
  if (groff.error !== undefined) return void t.skip('groff is not installed');
  assert.equal(groff.status, 0);
  assert.equal(groff.stderr, '');
});

test('parseUsage: synopsis, prose, flags with arguments and continuation lines, positionals', () => {
  const doc = parseUsage(
    'demo',
    [
      'Usage: ett demo FILE [--opt X]',
      '                [--flag]',
      '',
      'Does a thing.',
      '  an example line',
      '',
      '  --opt X             the X to use, which',
      '                      takes two lines',
      '  --a, --b            two at once',
      '',
    ].join('\n'),
    'a demo',
  );
  assert.deepEqual(doc.synopsis, ['ett demo FILE [--opt X]', '[--flag]']);
  assert.deepEqual(doc.paragraphs, [['Does a thing.', '  an example line']]);
  assert.deepEqual(doc.flags, [
    { names: ['--opt'], arg: 'X', text: 'the X to use, which takes two lines' },
    { names: ['--a', '--b'], text: 'two at once' },
  ]);
  assert.deepEqual(doc.positionals, ['FILE']);
  assert.throws(() => parseUsage('demo', 'Usage: ett other', ''), /must start with "Usage: ett demo"/);
  assert.throws(
    () => parseUsage('demo', 'Usage: ett demo\n\n  --opt X the description too close\n', ''),
    /flag line not in/,
  );
});

test('commandDocs: summaries from ett help, positionals from the synopsis', () => {
  const docs = commandDocs();
  const byName = new Map(docs.commands.map((c) => [c.name, c]));
  assert.equal(byName.get('keygen')!.summary, 'write a new private key (mode 0600), print its pin');
  assert.match(byName.get('check-config')!.summary, /^validate a config file/);
  assert.deepEqual(byName.get('explain')!.positionals, ['HOST:PORT']);
  assert.deepEqual(byName.get('run')!.positionals, []);
  assert.deepEqual(byName.get('status')!.positionals, []);
  assert.deepEqual(byName.get('help')!.synopsis, ['ett help [COMMAND]']);
  assert.match(docs.about, /^ett — encrypted TCP tunneler/);
  assert.match(docs.closing.join(' '), /Exit status: 0 ok/);
});

test('roff escapes hyphens, backslashes, leading dots and non-ASCII', () => {
  assert.equal(roff('--key a\\b'), '\\-\\-key a\\eb');
  assert.equal(roff('.lan'), '\\&.lan');
  assert.equal(roff("'x"), "\\&'x");
  assert.equal(roff('a → b — c'), 'a \\[u2192] b \\[u2014] c');
});

test('ett.toml(5) describes every key each role accepts and every limit, with its default', () => {
  const roles = sorted(Object.values(KEYS).flat());
  assert.deepEqual(sorted(Object.keys(KEY_DOCS)), roles);
  const page = readFileSync(join(ROOT, 'dist', 'man', 'ett.toml.5'), 'utf8');
  for (const key of roles)
    assert.match(page, new RegExp(`^\\\\fB${roff(key).replace(/\\/g, '\\\\')}\\\\fR = `, 'm'), key);
  const texts = limitTextsFrom(readFileSync(join(ROOT, 'src', 'limits.ts'), 'utf8'));
  for (const name of LIMIT_NAMES) {
    assert.ok(texts.get(name), `src/limits.ts: ${name} has a doc comment`);
    assert.ok(page.includes(`\\fB${roff(limitKey(name))}\\fR = `), name);
  }
  assert.equal(texts.get('pingIntervalMs'), 'Interval between keepalive PINGs on a link, ms.');
});
