// `ett completion bash|zsh`: shell completion scripts made from the parsed usage texts (cli/docs.ts),
// so they complete exactly the commands and flags `--help` documents.

import { LOG_FORMATS } from '../config/observe.js';
import { LOG_LEVELS } from '../config/schema.js';
import { TunnelError } from '../errors.js';
import { parseFlags, say } from './common.js';
import { commandDocs, type CommandDoc, type Docs } from './docs.js';

/** Flags whose value is one of a few words. */
const FLAG_VALUES: Readonly<Record<string, readonly string[]>> = {
  '--log-level': LOG_LEVELS,
  '--log-format': LOG_FORMATS,
  '--role': ['relay', 'client'],
  '--default': ['direct', 'block'],
};

/** Placeholders that name a file (completed as file names). */
const FILE_ARGS = new Set(['FILE', 'PATH']);

export async function completion(args: string[]): Promise<number> {
  const { positionals } = parseFlags('completion', args, {}, ['SHELL']);
  const shell = positionals[0]!;
  if (shell === 'bash') say(bashCompletion(commandDocs()));
  else if (shell === 'zsh') say(zshCompletion(commandDocs()));
  else throw new TunnelError('config', `completion: unknown shell ${JSON.stringify(shell)} (bash or zsh)`);
  return Promise.resolve(0);
}

interface Word {
  readonly flag: string;
  readonly arg?: string;
  readonly text: string;
}

function wordsOf(c: CommandDoc): Word[] {
  return c.flags.flatMap((f) =>
    f.names.map((flag) => ({ flag, ...(f.arg ? { arg: f.arg } : {}), text: f.text })),
  );
}

/** Names of the commands `ett help` lists. */
function commandNames(docs: Docs): string[] {
  return docs.commands.map((c) => c.name);
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** A bash script defining _ett and registering it for `ett`. Never throws. */
export function bashCompletion(docs: Docs): string {
  const all = docs.commands.flatMap(wordsOf);
  const fileFlags = [...new Set(all.filter((w) => w.arg && FILE_ARGS.has(w.arg)).map((w) => w.flag))];
  const valueFlags = [...new Set(all.filter((w) => w.arg).map((w) => w.flag))];
  const lines = [
    '# bash completion for ett (made by: ett completion bash)',
    '_ett() {',
    '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" i',
    '  COMPREPLY=()',
    '  if [[ $COMP_CWORD -eq 1 ]]; then',
    `    COMPREPLY=($(compgen -W ${quote(commandNames(docs).join(' '))} -- "$cur"))`,
    '    return 0',
    '  fi',
    '  local cmd="${COMP_WORDS[1]}"',
    '  # ett run ... -- CMD ARGS: a command, then its own arguments',
    '  if [[ $cmd == run ]]; then',
    '    for ((i = 2; i < COMP_CWORD; i++)); do',
    '      if [[ ${COMP_WORDS[i]} == -- ]]; then',
    '        if [[ $i -eq $((COMP_CWORD - 1)) ]]; then COMPREPLY=($(compgen -c -- "$cur"));',
    '        else COMPREPLY=($(compgen -f -- "$cur")); fi',
    '        return 0',
    '      fi',
    '    done',
    '  fi',
    '  case "$prev" in',
    ...Object.entries(FLAG_VALUES).map(
      ([flag, values]) =>
        `    ${flag}) COMPREPLY=($(compgen -W ${quote(values.join(' '))} -- "$cur")); return 0 ;;`,
    ),
    ...(fileFlags.length > 0
      ? [`    ${fileFlags.join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;`]
      : []),
    `    ${valueFlags.join('|')}) return 0 ;;`,
    '  esac',
    '  local flags="" files=0',
    '  case "$cmd" in',
  ];
  for (const c of docs.commands) {
    if (c.name === 'help' || c.name === 'completion') continue; // below
    const flags = wordsOf(c).map((w) => w.flag);
    const files = c.positionals.some((p) => FILE_ARGS.has(p)) ? ' files=1;' : '';
    lines.push(`    ${c.name}) flags=${quote([...flags, '--help'].join(' '))};${files} ;;`);
  }
  lines.push(
    `    help) COMPREPLY=($(compgen -W ${quote(
      commandNames(docs)
        .filter((n) => n !== 'help')
        .join(' '),
    )} -- "$cur")); return 0 ;;`,
    '    completion) COMPREPLY=($(compgen -W \'bash zsh\' -- "$cur")); return 0 ;;',
    '  esac',
    '  if [[ $cur == -* || $files -eq 0 ]]; then',
    '    COMPREPLY=($(compgen -W "$flags" -- "$cur"))',
    '  else',
    '    COMPREPLY=($(compgen -f -- "$cur"))',
    '  fi',
    '  return 0',
    '}',
    'complete -o filenames -F _ett ett',
  );
  return lines.join('\n');
}

/** zsh's _arguments spec of one flag: `--key[the private key]:FILE:_files`. */
function zshSpec(w: Word): string {
  const text = w.text.replace(/[[\]:\\]/g, (c) => `\\${c}`).replace(/'/g, `'\\''`);
  const short = text.length > 70 ? `${text.slice(0, 67)}...` : text;
  const spec = `${w.flag}[${short}]`;
  if (w.arg === undefined) return `'${spec}'`;
  const arg = w.arg.replace(/:/g, '\\:');
  const values = FLAG_VALUES[w.flag];
  const action = values ? `(${values.join(' ')})` : FILE_ARGS.has(w.arg) ? '_files' : ' ';
  return `'${spec}:${arg}:${action}'`;
}

/** A zsh script for fpath (`#compdef ett`) that also works when sourced after compinit. Never throws. */
export function zshCompletion(docs: Docs): string {
  const desc = (s: string): string => s.replace(/:/g, '\\:').replace(/'/g, `'\\''`);
  const lines = [
    '#compdef ett',
    '# zsh completion for ett (made by: ett completion zsh)',
    '_ett() {',
    '  local -a commands',
    '  commands=(',
    ...docs.commands.map((c) => `    '${c.name}:${desc(c.summary)}'`),
    '  )',
    '  if (( CURRENT == 2 )); then',
    "    _describe 'command' commands",
    '    return',
    '  fi',
    '  local cmd=$words[2]',
    '  shift 1 words',
    '  (( CURRENT-- ))',
    '  case $cmd in',
  ];
  for (const c of docs.commands) {
    if (c.name === 'help') continue;
    const specs = wordsOf(c).map(zshSpec);
    const positional = c.positionals.map(
      (p, i) => `'${i + 1}:${p.replace(/:/g, '\\:')}:${FILE_ARGS.has(p) ? '_files' : ' '}'`,
    );
    if (c.name === 'run') positional.push("'*::command:_normal'");
    if (c.name === 'completion') positional.splice(0, positional.length, "'1:shell:(bash zsh)'");
    lines.push(`    ${c.name}) _arguments ${[...specs, ...positional].join(' ')} ;;`);
  }
  lines.push(
    `    help) _arguments '1:command:(${commandNames(docs)
      .filter((n) => n !== 'help')
      .join(' ')})' ;;`,
    '  esac',
    '}',
    'if [[ $funcstack[1] == _ett ]]; then',
    '  _ett "$@"',
    'else',
    '  compdef _ett ett',
    'fi',
  );
  return lines.join('\n');
}
