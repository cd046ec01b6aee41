// The man pages, as roff text: ett(1) from the parsed usage texts (cli/docs.ts, the same texts
// `--help` prints) and ett.toml(5) from the config keys (config/schema.ts KEYS, config/key-docs.ts)
// and the limits. scripts/gen-docs.mjs writes them into dist/man at build time. Pure: no I/O.

import { KEY_DOCS } from '../config/key-docs.js';
import { KEYS } from '../config/schema.js';
import { DEFAULT_LIMITS, LIMIT_NAMES, type Limits } from '../limits.js';
import type { CommandDoc, Docs, Paragraph } from './docs.js';

/**
 * Text for a roff line: backslashes and hyphens escaped, other than ASCII as \[uXXXX], a leading . or '
 * made literal.
 */
export function roff(text: string): string {
  const escaped = text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/[^\t\n -~]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`);
  return /^[.']/.test(escaped) ? `\\&${escaped}` : escaped;
}

/** ett(1). `version` goes into the page's footer. Never throws. */
export function commandsPage(docs: Docs, version: string): string {
  const out = [
    `.TH ETT 1 "" "ett ${version}" "User Commands"`,
    '.SH NAME',
    `ett \\- ${roff(docs.about.replace(/^ett — /, ''))}`,
    '.SH SYNOPSIS',
    ...docs.commands.flatMap((c) => [`.B ${roff(c.synopsis.join(' '))}`, '.br']),
    '.SH DESCRIPTION',
    roff(docs.about),
    '.PP',
    'Each command is described below, as',
    '.B ett COMMAND \\-\\-help',
    'prints it.',
    '.SH COMMANDS',
  ];
  for (const c of docs.commands) out.push(...commandSection(c));
  out.push('.SH EXIT STATUS');
  for (const p of docs.closing) out.push(roff(p), '.PP');
  out.pop();
  out.push(
    '.SH FILES',
    '.TP',
    '.I relay.toml, client.toml',
    'Configuration files given with \\-\\-config; see',
    '.BR ett.toml (5).',
    '.SH SEE ALSO',
    '.BR ett.toml (5),',
    '.BR curl (1)',
  );
  return out.join('\n') + '\n';
}

function commandSection(c: CommandDoc): string[] {
  const out = [`.SS "ett ${c.name}"`, `.B ${roff(c.synopsis.join(' '))}`, '.PP'];
  if (c.paragraphs.length === 0) out.push(roff(c.summary));
  for (const p of c.paragraphs) out.push(...paragraph(p), '.PP');
  if (c.paragraphs.length > 0) out.pop();
  for (const f of c.flags) {
    const names = f.names.map((n) => `\\fB${roff(n)}\\fR`).join(', ');
    out.push('.TP', f.arg === undefined ? names : `${names} \\fI${roff(f.arg)}\\fR`, roff(f.text));
  }
  return out;
}

/** Plain lines are filled as prose; indented ones (examples) are kept as written. */
function paragraph(p: Paragraph): string[] {
  const out: string[] = [];
  let literal = false;
  for (const line of p) {
    const indented = /^\s/.test(line);
    if (indented && !literal) out.push('.nf', '.RS 4');
    if (!indented && literal) out.push('.RE', '.fi');
    literal = indented;
    out.push(roff(indented ? line.trim() : line));
  }
  if (literal) out.push('.RE', '.fi');
  return out;
}

/** snake_case of a limit's name, as the [limits] table spells it. */
export function limitKey(name: keyof Limits): string {
  return name.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}

/**
 * ett.toml(5). `limitTexts` holds each limit's description (scripts/gen-docs.mjs reads them from the
 * doc comments in src/limits.ts); a limit without one is listed with its default only. Never throws.
 */
export function configPage(version: string, limitTexts: ReadonlyMap<string, string>): string {
  const out = [
    `.TH ETT.TOML 5 "" "ett ${version}" "File Formats"`,
    '.SH NAME',
    'ett.toml \\- configuration files of the ett relay and client',
    '.SH SYNOPSIS',
    '.B ett relay \\-\\-config',
    '.I relay.toml',
    '.br',
    '.B ett client \\-\\-config',
    '.I client.toml',
    '.SH DESCRIPTION',
    'A TOML file with the same settings as the command line flags, in snake_case. A flag given on the',
    "command line replaces the file's whole value (a list included). Unknown keys and bad values are",
    'errors naming the file, the key path and the reason (exit status 2);',
    '.B ett check\\-config',
    '.I FILE',
    'validates a file and prints the effective settings.',
  ];
  for (const role of ['relay', 'client'] as const) {
    out.push(`.SH ${role.toUpperCase()} KEYS`);
    for (const key of KEYS[role]) {
      const doc = KEY_DOCS[key];
      if (doc === undefined) continue; // key-docs.test.ts fails first
      out.push('.TP', `\\fB${roff(key)}\\fR = \\fI${roff(doc.value)}\\fR`, roff(doc.text));
      for (const [field, text] of Object.entries(doc.fields ?? {})) {
        out.push('.RS', '.TP', `\\fB${roff(field)}\\fR`, roff(text), '.RE');
      }
    }
  }
  out.push('.SH LIMITS', 'The', '.B [limits]', 'table of either file; each key with its default:');
  for (const name of LIMIT_NAMES) {
    const text = limitTexts.get(name);
    out.push('.TP', `\\fB${roff(limitKey(name))}\\fR = ${DEFAULT_LIMITS[name]}`);
    if (text !== undefined) out.push(roff(text));
  }
  out.push(
    '.SH EXAMPLE',
    '.nf',
    '.RS 4',
    'key = "client.key"',
    'listen = "127.0.0.1:1080"',
    roff('via = "ett://Z4UhHI1f6I2nEVa11pN1F4mEmGi1jLelGMGHJboAAq8@relay.example.org:7000"'),
    '',
    '[[rules]]',
    'host = [".lan", "localhost"]',
    'action = "direct"',
    '.RE',
    '.fi',
    '.SH SEE ALSO',
    '.BR ett (1)',
  );
  return out.join('\n') + '\n';
}

/**
 * Each limit's description from the doc comments of src/limits.ts's Limits interface
 * (`/** text *\/` right before `readonly name: number;`). Never throws; unmatched names are absent.
 */
export function limitTextsFrom(source: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of source.matchAll(/\/\*\*([\s\S]*?)\*\/\s*readonly (\w+): number;/g)) {
    out.set(m[2]!, m[1]!.replace(/\s*\n\s*\*\s?/g, ' ').trim());
  }
  return out;
}
