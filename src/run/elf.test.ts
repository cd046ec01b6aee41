import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hasInterpreter, parseElfHeader, sectionNames, sectionRange, shebang } from './elf.js';

/** A minimal little-endian ELF64: header, program headers of the given types, named sections. */
function elf64(phTypes: number[], sections: string[]): Uint8Array {
  const strtab = Buffer.concat([Buffer.from([0]), ...sections.map((s) => Buffer.from(s + '\0'))]);
  const phoff = 64;
  const shoff = phoff + 56 * phTypes.length;
  const shnum = sections.length + 1; // + the string table itself
  const strOff = shoff + 64 * shnum;
  const b = Buffer.alloc(strOff + strtab.length + '.shstrtab\0'.length);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  b.writeBigUInt64LE(BigInt(phoff), 0x20);
  b.writeBigUInt64LE(BigInt(shoff), 0x28);
  b.writeUInt16LE(56, 0x36);
  b.writeUInt16LE(phTypes.length, 0x38);
  b.writeUInt16LE(64, 0x3a);
  b.writeUInt16LE(shnum, 0x3c);
  b.writeUInt16LE(shnum - 1, 0x3e);
  phTypes.forEach((t, i) => b.writeUInt32LE(t, phoff + 56 * i));
  const names = Buffer.concat([strtab, Buffer.from('.shstrtab\0')]);
  let at = 1;
  [...sections, '.shstrtab'].forEach((s, i) => {
    b.writeUInt32LE(at, shoff + 64 * i);
    at += s.length + 1;
  });
  const last = shoff + 64 * (shnum - 1);
  b.writeBigUInt64LE(BigInt(strOff), last + 0x18);
  b.writeBigUInt64LE(BigInt(names.length), last + 0x20);
  b.set(names, strOff);
  return b;
}

function inspect(file: Uint8Array): { interp: boolean; names: string[] } {
  const l = parseElfHeader(file)!;
  const phdrs = file.subarray(l.phoff, l.phoff + l.phnum * l.phentsize);
  const shdrs = file.subarray(l.shoff, l.shoff + l.shnum * l.shentsize);
  const r = sectionRange(l, shdrs, l.shstrndx)!;
  return {
    interp: hasInterpreter(l, phdrs),
    names: sectionNames(l, shdrs, file.subarray(r.offset, r.offset + r.size)),
  };
}

describe('ELF inspection', () => {
  test('a dynamic program: PT_INTERP (3) among its program headers', () => {
    const r = inspect(elf64([6, 3, 1, 2], ['.text', '.dynamic']));
    assert.equal(r.interp, true);
    assert.deepEqual(r.names, ['.text', '.dynamic', '.shstrtab']);
  });

  test('a static program: no PT_INTERP (static-pie has PT_DYNAMIC (2) but still no interpreter)', () => {
    assert.equal(inspect(elf64([1, 1], ['.text'])).interp, false);
    assert.equal(inspect(elf64([1, 2], ['.text', '.dynamic'])).interp, false);
  });

  test("a Go program's sections are seen by name", () => {
    assert.ok(inspect(elf64([1], ['.text', '.go.buildinfo'])).names.includes('.go.buildinfo'));
  });

  test('header fields, 64- and 32-bit, byte for byte', () => {
    const l = parseElfHeader(elf64([3], ['.a']))!;
    assert.deepEqual(l, {
      bits: 64,
      little: true,
      phoff: 64,
      shoff: 120,
      phentsize: 56,
      phnum: 1,
      shentsize: 64,
      shnum: 2,
      shstrndx: 1,
    });
    const h32 = Buffer.alloc(52);
    h32.set([0x7f, 0x45, 0x4c, 0x46, 1, 2, 1], 0); // ELFCLASS32, big-endian
    h32.writeUInt32BE(52, 0x1c);
    h32.writeUInt32BE(4096, 0x20);
    h32.writeUInt16BE(32, 0x2a);
    h32.writeUInt16BE(7, 0x2c);
    h32.writeUInt16BE(40, 0x2e);
    h32.writeUInt16BE(20, 0x30);
    h32.writeUInt16BE(19, 0x32);
    assert.deepEqual(parseElfHeader(h32), {
      bits: 32,
      little: false,
      phoff: 52,
      shoff: 4096,
      phentsize: 32,
      phnum: 7,
      shentsize: 40,
      shnum: 20,
      shstrndx: 19,
    });
  });

  test('not ELF, or a bad class/byte order, or too short: null', () => {
    assert.equal(parseElfHeader(Buffer.from('#!/bin/sh\n'.padEnd(64))), null);
    const b = Buffer.from(elf64([3], []));
    assert.equal(parseElfHeader(b.subarray(0, 40)), null);
    b[4] = 3;
    assert.equal(parseElfHeader(b), null);
    b[4] = 2;
    b[5] = 0;
    assert.equal(parseElfHeader(b), null);
  });

  test('truncated tables are read as far as they go, never past', () => {
    const file = elf64([6, 3], ['.text']);
    const l = parseElfHeader(file)!;
    assert.equal(hasInterpreter(l, file.subarray(l.phoff, l.phoff + 56)), false, 'only the first header');
    assert.equal(sectionRange(l, new Uint8Array(10), 1), null);
    assert.equal(sectionRange(l, file.subarray(l.shoff), 5), null);
    assert.deepEqual(sectionNames(l, file.subarray(l.shoff, l.shoff + 64), Buffer.from('\0.x\0')), ['.x']);
  });

  test('shebang lines', () => {
    assert.deepEqual(shebang(Buffer.from('#!/usr/bin/env python3\nprint(1)')), ['/usr/bin/env', 'python3']);
    assert.deepEqual(shebang(Buffer.from('#! /bin/sh -e\n')), ['/bin/sh', '-e']);
    assert.equal(shebang(Buffer.from('#!\n')), null);
    assert.equal(shebang(Buffer.from('\x7fELF')), null);
  });
});
