// The usage texts of usage.ts as data: each command's synopsis, prose and flags. `--help` prints the
// texts themselves; the man page ett(1) and the shell completions are made from this parse of the same
// texts, so none of them can list a flag or a command the others do not. Pure: no I/O.

import { COMMAND_USAGES, USAGE } from './usage.js';

export interface FlagDoc {
  /** `--via`, or several that share one line (`--via, --default`). */
  readonly names: readonly string[];
  /** The value's placeholder (`FILE`, `HOST:PORT`), absent for a flag that takes none. */
  readonly arg?: string;
  /** The description, its lines joined by single spaces. */
  readonly text: string;
}

/** A paragraph of prose: its lines as written (an indented line is an example, shown as is). */
export type Paragraph = readonly string[];

export interface CommandDoc {
  readonly name: string;
  /** One line from `ett help`, e.g. "write a new private key (mode 0600), print its pin". */
  readonly summary: string;
  /** The "Usage:" block without "Usage: ", its lines trimmed, e.g. ["ett keygen FILE"]. */
  readonly synopsis: readonly string[];
  readonly paragraphs: readonly Paragraph[];
  readonly flags: readonly FlagDoc[];
  /** Positional placeholders the synopsis names outside brackets (`FILE`, `HOST:PORT`). */
  readonly positionals: readonly string[];
}

export interface Docs {
  /** The overview's first paragraph (what ett is), lines joined. */
  readonly about: string;
  /** The overview's closing paragraphs (where to read more, exit status), lines joined. */
  readonly closing: readonly string[];
  readonly commands: readonly CommandDoc[];
}

/** Column at which a flag line's description starts (2 spaces, then the flag padded to 20). */
const FLAG_TEXT_COLUMN = 22;

/** Parses every usage text. Throws Error for a text not in the expected shape (a test catches that). */
export function commandDocs(): Docs {
  const entries = overviewEntries(USAGE);
  const commands = COMMAND_USAGES.map(([name, usage]) => {
    const entry = entries.get(name);
    if (entry === undefined) throw new Error(`usage: ett help does not list ${name}`);
    return parseUsage(name, usage, entry.summary);
  });
  // Commands with no usage text of their own (`ett help`): their overview line is all there is.
  for (const [name, entry] of entries) {
    if (commands.some((c) => c.name === name)) continue;
    const synopsis = entry.synopsis;
    commands.push({ name, summary: entry.summary, synopsis, paragraphs: [], flags: [], positionals: [] });
  }
  const blocks = paragraphsOf(USAGE);
  return {
    about: blocks[0]!.join(' '),
    closing: blocks.slice(2).map((b) => b.join(' ')),
    commands,
  };
}

/** One command's usage text as data. Throws Error if it does not start with "Usage: ett NAME". */
export function parseUsage(name: string, usage: string, summary: string): CommandDoc {
  const [head, ...rest] = paragraphsOf(usage);
  if (head === undefined || !head[0]!.startsWith(`Usage: ett ${name}`)) {
    throw new Error(`usage of ${name}: must start with "Usage: ett ${name}"`);
  }
  const synopsis = head.map((line, i) => (i === 0 ? line.slice('Usage: '.length) : line).trim());
  const paragraphs: Paragraph[] = [];
  const flags: FlagDoc[] = [];
  for (const block of rest) {
    if (block[0]!.startsWith('  -')) flags.push(...parseFlagBlock(name, block));
    else paragraphs.push(block);
  }
  return { name, summary, synopsis, paragraphs, flags, positionals: positionalsOf(name, synopsis) };
}

function parseFlagBlock(name: string, block: Paragraph): FlagDoc[] {
  const out: { names: string[]; arg?: string; text: string[] }[] = [];
  for (const line of block) {
    const head = line.slice(0, FLAG_TEXT_COLUMN);
    const text = line.slice(FLAG_TEXT_COLUMN).trim();
    if (head.trim() === '') {
      if (out.length === 0) throw new Error(`usage of ${name}: a flag block starts with a continuation`);
      out.at(-1)!.text.push(text);
      continue;
    }
    const m = /^ {2}(-[-\w]+(?:, -[-\w]+)*)(?: (\S+))? *$/.exec(head);
    if (m === null || (line.length > FLAG_TEXT_COLUMN && line[FLAG_TEXT_COLUMN - 1] !== ' ')) {
      throw new Error(`usage of ${name}: flag line not in "  --flag ARG" + description shape: ${line}`);
    }
    out.push({ names: m[1]!.split(', '), ...(m[2] === undefined ? {} : { arg: m[2] }), text: [text] });
  }
  return out.map((f) => ({ ...f, text: f.text.join(' ') }));
}

/** Placeholders in the synopsis outside any [...] and before `--`: the command's required arguments. */
function positionalsOf(name: string, synopsis: readonly string[]): string[] {
  let text = synopsis.join(' ').slice(`ett ${name}`.length);
  const end = text.indexOf(' -- ');
  if (end >= 0) text = text.slice(0, end);
  // Brackets nest (`[--web [--listen …]]`): strip innermost first, a bounded number of times.
  for (let i = 0; i < 8 && /\[[^[\]]*\]/.test(text); i++) text = text.replace(/\[[^[\]]*\]/g, ' ');
  return text
    .split(/\s+/)
    .filter((w) => w !== '' && !w.startsWith('-') && !w.startsWith('(') && /^[A-Z]/.test(w));
}

/**
 * `ett help`'s per-command lines: the summary is the text after a gap of 3+ spaces (wrapped lines
 * joined), the synopsis what stands before it.
 */
function overviewEntries(usage: string): Map<string, { summary: string; synopsis: string[] }> {
  const out = new Map<string, { summary: string[]; synopsis: string[] }>();
  let current: { summary: string[]; synopsis: string[] } | undefined;
  const block = paragraphsOf(usage).find((b) => b[0] === 'Usage:') ?? [];
  for (const line of block.slice(1)) {
    const start = /^ {2}ett ([a-z-]+)/.exec(line);
    if (start !== null) {
      current = { summary: [], synopsis: [] };
      out.set(start[1]!, current);
    }
    if (current === undefined) continue;
    const gap = /^(?: {30,}|(.*\S) {3,})(\S.*)$/.exec(line);
    if (gap !== null) current.summary.push(gap[2]!.trim());
    const left = gap === null ? line : (gap[1] ?? '');
    if (left.trim() !== '') current.synopsis.push(left.trim());
  }
  return new Map([...out].map(([k, v]) => [k, { summary: v.summary.join(' '), synopsis: v.synopsis }]));
}

function paragraphsOf(text: string): Paragraph[] {
  const out: string[][] = [];
  let block: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (block.length > 0) out.push(block);
      block = [];
    } else block.push(line);
  }
  if (block.length > 0) out.push(block);
  return out;
}
