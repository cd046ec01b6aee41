// Before ett run starts a program: can the preload library see its connections at all? It cannot when
// the loader ignores LD_PRELOAD (set-user-ID/set-group-ID programs), when there is no loader (static
// programs) or when the program makes its own system calls (Go). Scripts are judged by their
// interpreter. Each finding is a sentence for the user; none means interception can work.

import { constants } from 'node:fs';
import { access, open, stat, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import {
  GO_SECTIONS,
  type ElfLayout,
  hasInterpreter,
  parseElfHeader,
  sectionNames,
  sectionRange,
  shebang,
} from './elf.js';

export interface Inspection {
  /** The file that will be executed, or null if none was found. */
  readonly file: string | null;
  /** Reasons interception cannot work (empty: it can). */
  readonly findings: string[];
}

const SECTION_TABLE_MAX = 1 << 20;

/** Finds cmd as execvp would: a name with a slash as given, else the first executable on PATH. */
export async function findExecutable(cmd: string, pathVar = process.env.PATH ?? ''): Promise<string | null> {
  const candidates = cmd.includes('/') ? [cmd] : pathVar.split(':').map((d) => path.join(d || '.', cmd));
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      if ((await stat(c)).isFile()) return c;
    } catch {
      // not here
    }
  }
  return null;
}

export async function inspectCommand(cmd: string, pathVar = process.env.PATH ?? ''): Promise<Inspection> {
  const file = await findExecutable(cmd, pathVar);
  if (file === null) return { file, findings: [] };
  return { file, findings: await inspectFile(file, pathVar, 0) };
}

async function inspectFile(file: string, pathVar: string, depth: number): Promise<string[]> {
  const st = await stat(file);
  if (st.mode & 0o6000 /* S_ISUID | S_ISGID */) {
    return [
      `${file} is set-user-ID or set-group-ID: the loader ignores LD_PRELOAD for it, so ett run cannot see its connections`,
    ];
  }
  const fh = await open(file, 'r');
  try {
    const head = new Uint8Array(256);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    const top = head.subarray(0, bytesRead);
    const interp = shebang(top);
    if (interp !== null) {
      if (depth > 0) return [];
      // `#!/usr/bin/env [-S] NAME …` runs NAME from PATH.
      let target: string | null = interp[0]!;
      if (path.basename(target) === 'env') {
        const name = interp.slice(1).find((w) => !w.startsWith('-'));
        target = name === undefined ? null : await findExecutable(name, pathVar);
      }
      return target === null ? [] : inspectFile(target, pathVar, depth + 1);
    }
    const layout = parseElfHeader(top);
    if (layout === null) return [];
    const findings: string[] = [];
    const phdrs = await readRange(fh, layout.phoff, layout.phnum * layout.phentsize);
    const names = await readSectionNames(fh, layout);
    if (names.some((n) => GO_SECTIONS.includes(n))) {
      findings.push(
        `${file} is a Go program: Go makes its own system calls for connections and often its own DNS ` +
          `queries, so ett run cannot see them (they would leave directly). Use the program's proxy ` +
          `setting with \`ett client\` instead (e.g. HTTPS_PROXY=socks5://127.0.0.1:1080)`,
      );
    } else if (!hasInterpreter(layout, phdrs)) {
      findings.push(
        `${file} is statically linked: it has no dynamic loader to honour LD_PRELOAD, so ett run cannot ` +
          `see its connections or name lookups (they would leave directly)`,
      );
    }
    return findings;
  } finally {
    await fh.close();
  }
}

async function readRange(fh: FileHandle, offset: number, length: number): Promise<Uint8Array> {
  const len = Math.max(0, Math.min(length, SECTION_TABLE_MAX));
  const buf = new Uint8Array(len);
  const { bytesRead } = await fh.read(buf, 0, len, offset);
  return buf.subarray(0, bytesRead);
}

async function readSectionNames(fh: FileHandle, layout: ElfLayout): Promise<string[]> {
  if (layout.shnum === 0 || layout.shoff === 0) return [];
  const shdrs = await readRange(fh, layout.shoff, layout.shnum * layout.shentsize);
  const strtab = sectionRange(layout, shdrs, layout.shstrndx);
  if (strtab === null) return [];
  return sectionNames(layout, shdrs, await readRange(fh, strtab.offset, strtab.size));
}
