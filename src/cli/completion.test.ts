// The completion scripts, run for real: bash with COMP_WORDS set as readline would set them, zsh (when
// installed) with the completion system's functions replaced by ones that print what they were given.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function repoRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'bin', 'ett')) && existsSync(join(dir, 'package.json'))) return dir;
  }
  return process.cwd();
}

const work = mkdtempSync(join(tmpdir(), 'ett-completion-'));
test.after(() => rmSync(work, { recursive: true, force: true }));
const ETT = `${JSON.stringify(process.execPath)} ${JSON.stringify(join(repoRoot(), 'bin', 'ett'))}`;
writeFileSync(join(work, 'relay.key'), '');
writeFileSync(join(work, 'relay.toml'), '');

/** What bash completes for `words` (the last one being completed), as a sorted list. */
function bashComplete(...words: string[]): string[] {
  const list = words.map((w) => `'${w}'`).join(' ');
  const script = `source <(${ETT} completion bash) || exit 9
COMP_WORDS=(${list}); COMP_CWORD=${words.length - 1}; _ett; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['-c', script], { cwd: work, encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .sort();
}

test('bash: commands, flags, flag values and file names', () => {
  assert.deepEqual(bashComplete('ett', 're'), ['relay', 'reload']);
  assert.deepEqual(bashComplete('ett', 'c'), ['cert', 'check-config', 'client', 'completion']);
  assert.deepEqual(bashComplete('ett', 'relay', '--a'), [
    '--advertise',
    '--allow',
    '--allow-any',
    '--allow-file',
  ]);
  assert.deepEqual(bashComplete('ett', 'j'), ['join']);
  assert.deepEqual(bashComplete('ett', 'invite', '--u'), ['--uses']);
  assert.deepEqual(bashComplete('ett', 'client', '--log-level', ''), [
    'debug',
    'error',
    'info',
    'silent',
    'warn',
  ]);
  assert.deepEqual(bashComplete('ett', 'check-config', 'x.toml', '--role', ''), ['client', 'relay']);
  assert.deepEqual(bashComplete('ett', 'relay', '--key', 'rel'), ['relay.key', 'relay.toml']);
  assert.deepEqual(bashComplete('ett', 'pin', 'relay.k'), ['relay.key']);
  assert.deepEqual(bashComplete('ett', 'relay', '--listen', ''), []); // HOST:PORT: nothing to guess
  assert.deepEqual(bashComplete('ett', 'help', 'st'), ['status']);
  assert.deepEqual(bashComplete('ett', 'completion', ''), ['bash', 'zsh']);
  // After `--`, a command from PATH (and its own arguments after that, as file names).
  const commands = bashComplete('ett', 'run', '--socks', '127.0.0.1:1080', '--', 'bas');
  assert.ok(commands.includes('bash') && commands.every((c) => c.startsWith('bas')), commands.join(' '));
  assert.deepEqual(bashComplete('ett', 'run', '--', 'cat', 'relay.t'), ['relay.toml']);
});

test('ett completion refuses an unknown shell (exit 2)', () => {
  const r = spawnSync('bash', ['-c', `${ETT} completion fish`], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown shell "fish" \(bash or zsh\)/);
});

test('zsh: the script loads under compinit and offers commands and flags', (t) => {
  if (spawnSync('zsh', ['-c', 'true']).error !== undefined) {
    return void t.skip('zsh is not installed (.ci/run installs it)');
  }
  // _describe and _arguments print their arguments instead of completing: what _ett hands them is
  // what zsh would offer.
  const script = `autoload -U compinit && compinit -u -d ${join(work, 'zcompdump')}
source <(${ETT} completion zsh) || exit 9
print -r -- "registered: \${_comps[ett]}"
_describe() { print -rl -- "\${(@P)2}" }
_arguments() { print -rl -- "$@" }
words=(ett); CURRENT=2; _ett
words=(ett relay --k); CURRENT=3; _ett`;
  const r = spawnSync('zsh', ['-f', '-c', script], { cwd: work, encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.ok(lines.includes('registered: _ett'), r.stdout);
  assert.ok(
    lines.some((l) => l.startsWith('relay:Serves') || l.startsWith('relay:')),
    r.stdout,
  );
  assert.ok(lines.includes('reload:make a running daemon re-read its config file'), r.stdout);
  assert.ok(
    lines.some((l) => /^--key\[private key .*\]:FILE:_files$/.test(l)),
    r.stdout,
  );
  assert.ok(
    lines.some((l) => /^--log-level\[.*\]:LEVEL:\(debug info warn error silent\)$/.test(l)),
    r.stdout,
  );
});
