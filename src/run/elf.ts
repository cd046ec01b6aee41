// Just enough of ELF (the System V gABI) to tell how a program was linked: whether it asks for a
// program interpreter (PT_INTERP: the dynamic loader, which honours LD_PRELOAD) and whether it carries
// Go's sections (Go makes its own system calls for the network). Pure: callers read the bytes.

export interface ElfLayout {
  readonly bits: 32 | 64;
  readonly little: boolean;
  readonly phoff: number;
  readonly phentsize: number;
  readonly phnum: number;
  readonly shoff: number;
  readonly shentsize: number;
  readonly shnum: number;
  readonly shstrndx: number;
}

const PT_INTERP = 3;
/** Section names only Go's toolchain writes (.go.buildinfo survives stripping). */
export const GO_SECTIONS = ['.go.buildinfo', '.note.go.buildid', '.gopclntab'];

/** The header fields we use, or null if head (the file's first 64+ bytes) is not ELF. */
export function parseElfHeader(head: Uint8Array): ElfLayout | null {
  if (head.length < 52 || head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46) {
    return null;
  }
  const bits = head[4] === 1 ? 32 : head[4] === 2 ? 64 : null;
  const little = head[5] === 1 ? true : head[5] === 2 ? false : null;
  if (bits === null || little === null || (bits === 64 && head.length < 64)) return null;
  const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const u16 = (o: number): number => v.getUint16(o, little);
  const word = (o: number): number =>
    bits === 64 ? Number(v.getBigUint64(o, little)) : v.getUint32(o, little);
  return bits === 64
    ? {
        bits,
        little,
        phoff: word(0x20),
        shoff: word(0x28),
        phentsize: u16(0x36),
        phnum: u16(0x38),
        shentsize: u16(0x3a),
        shnum: u16(0x3c),
        shstrndx: u16(0x3e),
      }
    : {
        bits,
        little,
        phoff: word(0x1c),
        shoff: word(0x20),
        phentsize: u16(0x2a),
        phnum: u16(0x2c),
        shentsize: u16(0x2e),
        shnum: u16(0x30),
        shstrndx: u16(0x32),
      };
}

/** True if the program headers (phnum × phentsize bytes from phoff) include PT_INTERP. */
export function hasInterpreter(layout: ElfLayout, phdrs: Uint8Array): boolean {
  const v = new DataView(phdrs.buffer, phdrs.byteOffset, phdrs.byteLength);
  for (let i = 0; i < layout.phnum; i++) {
    const at = i * layout.phentsize;
    if (at + 4 > phdrs.length) break;
    if (v.getUint32(at, layout.little) === PT_INTERP) return true;
  }
  return false;
}

/** Where section index's bytes are (offset, size), from the section headers; null if out of range. */
export function sectionRange(
  layout: ElfLayout,
  shdrs: Uint8Array,
  index: number,
): { offset: number; size: number } | null {
  const at = index * layout.shentsize;
  const need = layout.bits === 64 ? 0x28 : 0x18;
  if (index >= layout.shnum || at + need > shdrs.length) return null;
  const v = new DataView(shdrs.buffer, shdrs.byteOffset, shdrs.byteLength);
  return layout.bits === 64
    ? {
        offset: Number(v.getBigUint64(at + 0x18, layout.little)),
        size: Number(v.getBigUint64(at + 0x20, layout.little)),
      }
    : { offset: v.getUint32(at + 0x10, layout.little), size: v.getUint32(at + 0x14, layout.little) };
}

/** Every section's name, from the section headers and the section-name string table. */
export function sectionNames(layout: ElfLayout, shdrs: Uint8Array, strtab: Uint8Array): string[] {
  const v = new DataView(shdrs.buffer, shdrs.byteOffset, shdrs.byteLength);
  const names: string[] = [];
  for (let i = 0; i < layout.shnum; i++) {
    const at = i * layout.shentsize;
    if (at + 4 > shdrs.length) break;
    const start = v.getUint32(at, layout.little);
    if (start >= strtab.length) continue;
    let end = start;
    while (end < strtab.length && strtab[end] !== 0) end++;
    names.push(new TextDecoder().decode(strtab.subarray(start, end)));
  }
  return names;
}

/** The interpreter line of a script ("#!/usr/bin/env python3" → ['/usr/bin/env', 'python3']), or null. */
export function shebang(head: Uint8Array): string[] | null {
  if (head[0] !== 0x23 || head[1] !== 0x21) return null;
  let end = 2;
  while (end < head.length && end < 256 && head[end] !== 0x0a) end++;
  const words = new TextDecoder()
    .decode(head.subarray(2, end))
    .trim()
    .split(/[ \t]+/)
    .filter(Boolean);
  return words.length > 0 ? words : null;
}
